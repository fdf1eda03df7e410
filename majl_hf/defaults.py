"""Names of the pretrained defaults (a leaf module: importing it imports nothing else)."""

# The default, chosen by measurement (scripts/evaluate_pairs.py, scripts/benchmark.py →
# model_cards/measured/pairs.md, benchmark.md; the rule is benchmark.choose_default): among the pairs
# that meet 0.08 s of compute per audio second for the whole call on 2 idle cores (CREPE tiny, FCPE,
# SwiftF0; CREPE full and HarmoF0 need ~0.3), the most accurate from the mixture — Spleeter + CREPE tiny
# (RPA/OA 94.3/90.6 with the default decoder; FCPE 94.3/90.3, SwiftF0 94.3/88.3), also the best
# clean-singing OA (99.3).
DEFAULT_MODEL = "majl-hf/majl-unet-crepe-tiny"  # Spleeter 2stems U-Net + CREPE tiny
DEFAULT_MODEL_TINY = "majl-hf/majl-unet-crepe-tiny"  # the fastest CREPE pair (the same as the default today)
DEFAULT_REVISION = "main"
DEFAULT_VARIANTS = {"full": "majl-hf/majl-unet-crepe-full", "tiny": "majl-hf/majl-unet-crepe-tiny"}
# The pipeline's pitch decoder: the most likely bin path under a jump prior (CREPE's --viterbi; the
# default of torchcrepe, and pYIN's kind of path). Sung pitch moves continuously, so an octave or
# harmonic error lasting a few frames costs more than it explains; measured against the frame-wise
# local average it never loses on any pair or clip in model_cards/measured/pairs.md (+0.4…0.7 RPA from
# the mixture, +1.8…6.2 on clean singing for HarmoF0). Streamed with bounded memory
# (majl_hf.pitch.decode.ViterbiStream); ~1.3 ms per audio second on 1 core.
DEFAULT_DECODER = "viterbi"
DEFAULT_PITCH_HOP = 320  # samples at 16 kHz = 20 ms, the MAJL paper's frame grid

# Every pretrained pair built from original weights (`majl-hf build-default --variants ...`): the
# Spleeter 2stems U-Net feeding one real pitch estimator, all on the 20 ms grid.
MODEL_CREPE_FULL = "majl-hf/majl-unet-crepe-full"
MODEL_CREPE_TINY = "majl-hf/majl-unet-crepe-tiny"
MODEL_HARMOF0_MDB = "majl-hf/majl-unet-harmof0-mdb-stem-synth"  # HarmoF0 trained on MDB-stem-synth
MODEL_HARMOF0_MIR1K = "majl-hf/majl-unet-harmof0-mir-1k"  # HarmoF0 trained on MIR-1K
MODEL_FCPE = "majl-hf/majl-unet-fcpe"  # FCPE (torchfcpe 0.0.4's bundled model)
MODEL_SWIFTF0 = "majl-hf/majl-unet-swiftf0"  # SwiftF0 (swift-f0 0.3.0)
PRETRAINED_MODELS = {
    "full": MODEL_CREPE_FULL,
    "tiny": MODEL_CREPE_TINY,
    "harmof0-mdb": MODEL_HARMOF0_MDB,
    "harmof0-mir1k": MODEL_HARMOF0_MIR1K,
    "fcpe": MODEL_FCPE,
    "swiftf0": MODEL_SWIFTF0,
}
BUILD_COMMAND = "majl-hf build-default"  # the console command that builds them (majl_hf.build_cli)
