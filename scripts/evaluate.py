"""Evaluate a MAJL model on a corpus split: metrics.json, per_track.csv and a Table-2 markdown.

    python scripts/evaluate.py --model majl-hf/majl-unet-crepe-full \\
        --corpus mir1k --root /data/MIR-1K --split test --output-dir eval/mir1k
    python scripts/evaluate.py --model outputs/majl/model --corpus musdb18 --root /data/MUSDB18-HQ \\
        --split test --output-dir eval/musdb18 --method MAJL --extra Both
    python scripts/evaluate.py --table eval/*/metrics.json      # one Table 2 over several runs

The model is a saved folder or a Hub id (loaded through the ``majl-vocal`` pipeline). See
:mod:`majl_hf.evaluation.runner` for the metrics and the files.
"""

from __future__ import annotations

import argparse
import json
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--model", help="saved model folder or Hub id")
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of --model")
    p.add_argument("--cache-dir", default=None, help="Hugging Face hub cache folder (default: HF_HUB_CACHE)")
    p.add_argument("--device", default=None, help="torch device (default: the first accelerator, else cpu)")
    p.add_argument("--corpus", choices=("mir1k", "medleydb", "musdb18", "mirst500"))
    p.add_argument("--root", help="the corpus folder (MIR-ST500: its audio folder)")
    p.add_argument("--split", default="test", choices=("train", "test", "validation", "all"))
    p.add_argument("--notes", default=None, help="MIR-ST500 note file (MIR-ST500_corrected.json)")
    p.add_argument("--tracks", nargs="+", default=None, help="only these track ids")
    p.add_argument("--limit", type=int, default=None, help="at most this many tracks")
    p.add_argument(
        "--corpus-arg",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="extra keyword of the corpus loader (value read as JSON, else as text), "
        "e.g. seed=1 fmt=wav validation=true",
    )
    p.add_argument("--method", default=None, help="Table 2 'Method' (default: the model's name)")
    p.add_argument("--extra", default=None, help="Table 2 'Extra' column (e.g. Both, MSS, PE)")
    p.add_argument("--chunk-length-s", type=float, default=30.0, help="seconds per inference chunk (0 = whole track)")
    p.add_argument("--voicing-threshold", type=float, default=None, help="default: the model config's")
    p.add_argument("--decoder", default="weighted_average", choices=("weighted_average", "argmax", "viterbi"))
    p.add_argument(
        "--unvoiced-pitch",
        default="guess",
        choices=("guess", "zero"),
        help="unvoiced frames keep their pitch guess (negative f0, mir_eval convention) or 0",
    )
    p.add_argument("--museval", default="auto", choices=("auto", "on", "off"), help="auto: on for musdb18")
    p.add_argument("--on-error", default="raise", choices=("raise", "skip"), help="bad corpus data")
    p.add_argument("--output-dir", default=None, help="where metrics.json, per_track.csv, table2.md go")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--table",
        nargs="+",
        default=None,
        metavar="METRICS_JSON",
        help="print one Table 2 over these metrics.json files and exit",
    )
    return p


def _corpus_kwargs(items) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"evaluate.py: --corpus-arg wants KEY=JSON, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from majl_hf.evaluation.runner import EvaluationSettings, combined_table2, evaluate, table2_text

    if args.table:
        print(combined_table2(args.table), end="")
        return 0
    missing = [name for name in ("model", "corpus", "root") if getattr(args, name) is None]
    if missing:
        parser.error("the following arguments are required: " + ", ".join("--" + m.replace("_", "-") for m in missing))
    try:
        settings = EvaluationSettings(
            corpus=args.corpus,
            root=args.root,
            split=args.split,
            notes_path=args.notes,
            tracks=args.tracks,
            limit=args.limit,
            corpus_kwargs=_corpus_kwargs(args.corpus_arg),
            method=args.method,
            extra=args.extra,
            chunk_length_s=args.chunk_length_s,
            voicing_threshold=args.voicing_threshold,
            decoder=args.decoder,
            unvoiced_pitch=args.unvoiced_pitch,
            museval=args.museval,
            on_error=args.on_error,
        )
    except ValueError as err:
        parser.error(str(err))
    command = [sys.argv[0] if argv is None else "scripts/evaluate.py", *(sys.argv[1:] if argv is None else argv)]
    result = evaluate(
        args.model,
        settings,
        args.output_dir,
        revision=args.revision,
        cache_dir=args.cache_dir,
        device=args.device,
        progress=not args.no_progress,
        command=["python", *command],
    )
    print(table2_text(result), end="")
    if args.output_dir:
        print(f"wrote {args.output_dir}/{{metrics.json, per_track.csv, table2.md}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
