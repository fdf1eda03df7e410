"""Fingerprint of the default pipeline's outputs on the bundled example (sha256 of the raw float32
arrays): proves that a refactor leaves vocals, accompaniment and f0 bit-identical.

    python scripts/example_fingerprint.py [--model MODEL] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "audio_example.mp3"


def fingerprint(result: dict) -> dict:
    keys = ("vocals", "accompaniment", "f0_hz", "confidence", "voiced", "times_s")
    out = {}
    for k in keys:
        a = np.ascontiguousarray(np.asarray(result[k]))
        out[k] = f"{a.dtype}{list(a.shape)}:{hashlib.sha256(a.tobytes()).hexdigest()[:16]}"
    return out


def main(argv=None):
    from transformers import pipeline

    import majl_hf  # noqa: F401

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--options", default="{}", help="pipeline call options as JSON")
    args = parser.parse_args(argv)
    from majl_hf.defaults import MODEL_CREPE_FULL

    pipe = pipeline("majl-vocal", model=args.model or MODEL_CREPE_FULL)
    fp = fingerprint(pipe(str(EXAMPLE), **json.loads(args.options)))
    print(json.dumps(fp, indent=1))
    if args.json:
        args.json.write_text(json.dumps(fp, indent=1) + "\n")


if __name__ == "__main__":
    main()
