"""Level sweep: the same song at −40 … +6 dB through the pipeline, compared with the 0 dB result.

python scripts/level_sweep.py [--model MODEL] [--no-normalize] [FILE ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = [
    ROOT / "examples" / "audio_example.mp3",
    ROOT / ".." / "shared" / "data" / "MedleyDB" / "Audio" / "MusicDelta_80sRock" / "MusicDelta_80sRock_MIX.wav",
]


def main(argv=None):
    from transformers import pipeline

    import majl_hf
    from majl_hf.evaluation.level import level_sweep
    from majl_hf.feature_extraction_majl import load_audio

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--model", default=majl_hf.DEFAULT_MODEL)
    parser.add_argument("--no-normalize", action="store_true", help="switch level normalisation off")
    args = parser.parse_args(argv)
    pipe = pipeline("majl-vocal", model=args.model)
    print(f"model {args.model}, normalize_level={not args.no_normalize}")
    print("| file | gain dB | voiced | within 50 cents of 0 dB | vocals SNR vs 0 dB (dB) |\n|---|---|---|---|---|")
    for path in args.files or [p for p in DEFAULT_FILES if p.exists()]:
        audio, info = load_audio(str(path))
        for row in level_sweep(pipe, audio, info.sampling_rate, normalize_level=not args.no_normalize):
            print(
                f"| {path.name} | {row['gain_db']:+.0f} | {row['voiced']} | {row['pitch_agreement']:.3f} | "
                f"{row['vocals_snr_db']:.1f} |"
            )


if __name__ == "__main__":
    main()
