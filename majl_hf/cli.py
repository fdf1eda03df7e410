"""``majl-vocal``: separate the vocals of songs and track their pitch.

    majl-vocal song.mp3 -o out/
    majl-vocal "music/**/*.flac" albums/ -o out/ --template "{name}/{part}.{ext}" --subtype PCM_24

For each input it writes the vocals and accompaniment (wav or flac; 16-bit, 24-bit or float), the
f0 track as CSV and JSON, and a PNG of the f0 over the vocals' log-spectrogram. A file that fails
is reported and the batch goes on. Exit codes: 0 all done, 1 some inputs failed, 2 bad usage or
no input found.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import logging
import os
import sys
import warnings
from pathlib import Path

SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}


def find_inputs(patterns: list[str]) -> tuple[list[Path], list[str]]:
    """Files, globs (``**`` recursive) and folders (searched recursively for audio files)."""
    from .feature_extraction_majl import AUDIO_EXTENSIONS

    found, missing = [], []
    for pattern in patterns:
        p = Path(pattern)
        if p.is_dir():
            hits = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in AUDIO_EXTENSIONS)
        elif p.is_file():
            hits = [p]
        else:
            hits = sorted(Path(q) for q in glob.glob(pattern, recursive=True) if Path(q).is_file())
        if not hits:
            missing.append(pattern)
        found.extend(hits)
    seen, unique = set(), []
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, missing


def output_path(out_dir: Path, template: str, source: Path, part: str, ext: str) -> Path:
    try:
        rel = template.format(name=source.stem, part=part, ext=ext, parent=source.parent.name)
    except (KeyError, IndexError) as err:
        raise SystemExit(f"majl-vocal: bad --template {template!r}: unknown field {err}; use {{name}}, {{part}}, {{ext}}, {{parent}}")
    path = out_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_outputs(result: dict, source: Path, args) -> list[Path]:
    import numpy as np
    import soundfile as sf

    from .plotting import plot_f0_over_spectrogram

    written = []
    ext = args.format
    for part in ("vocals", "accompaniment"):
        if part in result:
            path = output_path(args.output_dir, args.template, source, part, ext)
            data = result[part].T
            if SUBTYPES[args.subtype] != "FLOAT":
                data = np.clip(data, -1.0, 1.0)
            sf.write(str(path), data, result["sampling_rate"], subtype=SUBTYPES[args.subtype], format=ext.upper())
            written.append(path)
    rows = list(zip(result["times_s"], result["f0_hz"], result["confidence"], result["voiced"]))
    csv_path = output_path(args.output_dir, args.template, source, "f0", "csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_s", "f0_hz", "confidence", "voiced"])
        for t, f0, c, v in rows:
            w.writerow([f"{t:.3f}", f"{f0:.3f}", f"{c:.4f}", int(v)])
    json_path = output_path(args.output_dir, args.template, source, "f0", "json")
    json_path.write_text(json.dumps({
        "source": str(source),
        "model": args.model,
        "sampling_rate": int(result["sampling_rate"]),
        "hop_s": float(result["times_s"][1] - result["times_s"][0]) if len(rows) > 1 else None,
        "voicing_threshold": args.threshold,
        "decoder": args.decoder,
        "times_s": [round(float(t), 4) for t in result["times_s"]],
        "f0_hz": [round(float(x), 3) for x in result["f0_hz"]],
        "confidence": [round(float(x), 4) for x in result["confidence"]],
        "voiced": [bool(x) for x in result["voiced"]],
    }))
    written += [csv_path, json_path]
    if not args.no_plot:
        png = output_path(args.output_dir, args.template, source, "f0", "png")
        plot_f0_over_spectrogram(result["vocals"], result["sampling_rate"], result["times_s"], result["f0_hz"],
                                 result["voiced"], png, title=source.name)
        written.append(png)
    return written


def build_parser() -> argparse.ArgumentParser:
    from .hub.defaults import DEFAULT_MODEL

    p = argparse.ArgumentParser(prog="majl-vocal", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("inputs", nargs="+", help="audio files, globs (quote them; ** is recursive) or folders")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("majl_output"))
    p.add_argument("--template", default="{name}_{part}.{ext}",
                   help="output file name under -o; fields {name} {part} {ext} {parent} (default: %(default)s)")
    p.add_argument("--format", choices=["wav", "flac"], default="wav")
    p.add_argument("--subtype", choices=sorted(SUBTYPES), default="16", help="sample format: 16-bit, 24-bit or float")
    p.add_argument("--model", default=DEFAULT_MODEL, help="Hub id or local folder (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps …")
    p.add_argument("--threshold", type=float, default=0.5, help="voicing threshold on the peak activation")
    p.add_argument("--decoder", choices=["weighted_average", "argmax", "viterbi"], default="weighted_average")
    p.add_argument("--chunk-s", type=float, default=12.0, help="seconds per separation chunk (0 = whole song)")
    p.add_argument("--batch-size", type=int, default=1, help="pitch frames per call, in units of 64")
    p.add_argument("--gate-db", type=float, default=None, help="skip pitch frames whose vocals are below this dBFS")
    p.add_argument("--no-accompaniment", action="store_true")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not 0.0 <= args.threshold <= 1.0:
        print("majl-vocal: --threshold must be in [0, 1]", file=sys.stderr)
        return 2
    files, missing = find_inputs(args.inputs)
    for m in missing:
        print(f"majl-vocal: no audio found for {m!r}", file=sys.stderr)
    if not files:
        print("majl-vocal: nothing to do (no input file found)", file=sys.stderr)
        return 2
    from tqdm.auto import tqdm

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    from . import pipelines as _registered  # noqa: F401

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        pipe = pipeline("majl-vocal", model=args.model, device=args.device)
    except Exception as err:  # a bad model id or folder: one line, exit 2
        print(f"majl-vocal: cannot load model {args.model!r}: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    failed = []
    overall = tqdm(files, desc="songs", unit="song", disable=args.quiet)
    for source in overall:
        step = tqdm(total=3, desc=source.name[:40], unit="step", leave=False, disable=args.quiet)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = pipe(str(source), voicing_threshold=args.threshold, decoder=args.decoder,
                              chunk_length_s=args.chunk_s, batch_size=args.batch_size, vocal_gate_db=args.gate_db,
                              return_accompaniment=not args.no_accompaniment)
            for w in caught:
                tqdm.write(f"majl-vocal: warning: {w.message}", file=sys.stderr)
            step.update(2)
            write_outputs(result, source, args)
            step.update(1)
        except Exception as err:  # noqa: BLE001 — one bad file must not stop the batch
            msg = str(err).splitlines()[0] if str(err) else type(err).__name__
            msg = msg.removeprefix(f"{source}: ")
            failed.append((source, msg))
            tqdm.write(f"majl-vocal: {source}: {msg}", file=sys.stderr)
        finally:
            step.close()
    overall.close()
    done = len(files) - len(failed)
    print(f"majl-vocal: {done}/{len(files)} done, outputs in {args.output_dir}", file=sys.stderr)
    if failed:
        print(f"majl-vocal: {len(failed)} failed:", file=sys.stderr)
        for source, msg in failed:
            print(f"  {source}: {msg}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
