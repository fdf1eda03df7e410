"""MAJL stage I → II: pseudo-labels and frame confidences for single-labelled data.

    accelerate launch scripts/pseudo_label.py --config configs/pseudo_label_musdb_mirst500.yaml
    python scripts/pseudo_label.py --model outputs/stage1-mir1k/model --output-dir outputs/pseudo \\
        --data '{"corpus": "musdb18", "root": "/data/MUSDB18-HQ", "split": "train"}' \\
        --data '{"corpus": "mirst500", "root": "/data/MIR-ST500/audio",
                 "notes_path": "/data/MIR-ST500_corrected.json", "split": "train"}'

Writes ``<output_dir>/pseudo_labels_manifest.json`` and ``<output_dir>/shards/*.arrow`` (one per
process); train stage II with ``{corpus: pseudo, path: <output_dir>}`` in ``train_data``.
"""

import argparse
import json
import sys
import warnings

RENAMED_FLAGS = {"--chunk-s": "--chunk-length-s", "--context-s": "--overlap-s"}  # old (deprecated) → new


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--config", help="YAML or JSON file of pseudo-labelling arguments")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override an argument")
    p.add_argument("--model", help="the stage-I model (a folder or Hub id)")
    p.add_argument("--output-dir")
    p.add_argument("--data", action="append", default=[], metavar="JSON", help="a data source (repeatable)")
    p.add_argument("--chunk-length-s", "--chunk-s", dest="chunk_length_s", type=float,
                   help="seconds per separator chunk (0: whole tracks; --chunk-s is its deprecated name)")
    p.add_argument("--overlap-s", "--context-s", dest="overlap_s", type=float,
                   help="seconds of separator context each side (default: its receptive field; --context-s is its "
                        "deprecated name)")
    p.add_argument("--frames-per-batch", type=int)
    p.add_argument("--include-fully-labelled", action="store_true")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")
    argv = sys.argv[1:] if argv is None else list(argv)
    for arg in argv:
        old = arg.split("=", 1)[0]
        if old in RENAMED_FLAGS:
            warnings.warn(f"{old} is deprecated: use {RENAMED_FLAGS[old]}", DeprecationWarning, stacklevel=2)
    return p.parse_args(argv)


def main(argv=None) -> int:
    ns = parse_args(argv)
    from majl_hf.training.launch import setup_script_logging

    setup_script_logging(ns.quiet)
    from majl_hf.training.pseudo_label import PseudoLabelArguments, run_pseudo_labelling

    flags = {
        "model": ns.model,
        "output_dir": ns.output_dir,
        "chunk_length_s": ns.chunk_length_s,
        "overlap_s": ns.overlap_s,
        "frames_per_batch": ns.frames_per_batch,
    }
    explicit = {k: v for k, v in flags.items() if v is not None}
    if ns.data:
        explicit["data"] = [json.loads(d) for d in ns.data]
    if ns.include_fully_labelled:
        explicit["include_fully_labelled"] = True
    if ns.overwrite:
        explicit["overwrite"] = True
    args = PseudoLabelArguments.from_file(ns.config, ns.set, explicit)
    out = run_pseudo_labelling(args, progress_bar=not ns.quiet)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
