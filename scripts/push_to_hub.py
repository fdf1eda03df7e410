"""Publish a MAJL model to the Hugging Face Hub: weights, a generated model card with the measured
metrics, and the code as remote code (so that it works without majl_hf).

    python scripts/evaluate.py --model outputs/majl/model --corpus mir1k --root /data/MIR-1K \\
        --split test --output-dir eval/mir1k
    python scripts/push_to_hub.py outputs/majl/model --repo-id me/majl-unet-crepe \\
        --metrics eval/mir1k/metrics.json --license mit --output-dir hub/majl-unet-crepe --dry-run
    python scripts/push_to_hub.py --upload-only hub/majl-unet-crepe --repo-id me/majl-unet-crepe

Without ``--dry-run`` the prepared folder is uploaded (huggingface_hub ``upload_folder``; log in
with ``hf auth login`` or pass ``--token``). See :mod:`majl_hf.hub.publish`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("model", nargs="?", help="saved model folder or Hub id")
    p.add_argument("--repo-id", required=True, help="target repository, org/name")
    p.add_argument(
        "--metrics", nargs="*", default=[], help="metrics.json files of scripts/evaluate.py for these weights"
    )
    p.add_argument("--output-dir", default=None, help="where to prepare the folder (default: a temporary folder)")
    p.add_argument("--overwrite", action="store_true", help="replace a folder prepared before")
    p.add_argument("--license", default=None, help="licence id of the weights (default: the source card's)")
    p.add_argument("--base-model", default=None, help="Hub id these weights start from (default: training config)")
    p.add_argument("--revision", default=None, help="revision of a Hub-id model")
    p.add_argument("--cache-dir", default=None, help="Hugging Face hub cache folder")
    p.add_argument(
        "--allow-other-weights", action="store_true", help="accept metrics measured on other weights (not recommended)"
    )
    p.add_argument("--dry-run", action="store_true", help="prepare the folder only; upload nothing")
    p.add_argument("--upload-only", default=None, metavar="FOLDER", help="upload a folder prepared before")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in one)")
    p.add_argument("--commit-message", default=None)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from majl_hf.hub.publish import prepare_folder, push_to_hub

    if args.upload_only:
        folder = Path(args.upload_only)
    else:
        if not args.model:
            parser.error("give the model (folder or Hub id), or --upload-only FOLDER")
        if args.output_dir is None and args.dry_run:
            parser.error("--dry-run needs --output-dir (a temporary folder would be deleted)")
        out = Path(args.output_dir) if args.output_dir else Path(tempfile.mkdtemp(prefix="majl_hub_"))
        folder = prepare_folder(
            args.model,
            out,
            repo_id=args.repo_id,
            metrics=args.metrics,
            license=args.license,
            base_model=args.base_model,
            revision=args.revision,
            cache_dir=args.cache_dir,
            overwrite=args.overwrite,
            allow_other_weights=args.allow_other_weights,
        )
        print(f"prepared {folder}: " + ", ".join(sorted(p.name for p in folder.iterdir())))
    if args.dry_run:
        print(f"dry run: nothing uploaded; upload later with --upload-only {folder} --repo-id {args.repo_id}")
        return 0
    info = push_to_hub(
        folder, args.repo_id, token=args.token, private=args.private or None, commit_message=args.commit_message
    )
    print(f"uploaded {folder} to https://huggingface.co/{args.repo_id} ({info})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
