"""Train MAJL: stage I, stage II, or fine-tuning a pretrained cascade (e.g. with DWHS).

    accelerate launch scripts/train.py --config configs/stage1_mir1k.yaml
    accelerate launch scripts/train.py --config configs/stage2_musdb_mirst500.yaml --set num_epochs=200
    python scripts/train.py --config configs/finetune_default_dwhs.yaml \\
        --init-from majl-hf/majl-unet-crepe-full --joint-method dwhs --freeze separator
    accelerate launch scripts/train.py --config configs/stage1_mir1k.yaml --resume          # newest valid checkpoint
    accelerate launch scripts/train.py --config ... --resume outputs/stage1/checkpoints/checkpoint-00000500
    accelerate launch scripts/train.py --config ... --resume --allow-fresh-start   # resume if possible, else start
    accelerate launch --multi_gpu --num_processes 2 scripts/train.py --config ...   # 2 processes (CPU: gloo)

(`accelerate launch --cpu --num_processes N` starts a single process unless MPI is set up; on a
machine without GPUs `--multi_gpu` starts N CPU processes that this trainer connects over gloo.)

Every field of ``majl_hf.training.TrainingArguments`` can be set in the file or with
``--set key=value`` (dotted keys reach into mappings, values are YAML). The resolved configuration
is written to ``<output_dir>/training_config.yaml``; the model to ``<output_dir>/model``.
"""

import argparse
import json
import sys


def parse_args(argv=None):
    from majl_hf.configuration_majl import JOINT_METHODS
    from majl_hf.training.arguments import FREEZABLE

    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--config", help="YAML or JSON file of training arguments")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a training argument")
    p.add_argument("--output-dir", help="= --set output_dir=...")
    p.add_argument("--init-from", help="start from these pretrained weights (a folder or Hub id)")
    p.add_argument("--config-from", help="the architecture of this saved model, fresh weights (stage II)")
    p.add_argument("--joint-method", choices=JOINT_METHODS, help="= --set config_overrides.joint_method=...")
    p.add_argument("--freeze", action="append", choices=FREEZABLE, help="keep this part fixed (repeatable)")
    p.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="CHECKPOINT",
        help="continue: the newest valid checkpoint in <output_dir>/checkpoints (an error when there is "
        "none), or this one",
    )
    p.add_argument(
        "--allow-fresh-start",
        action="store_true",
        help="with --resume: start from the beginning when no valid checkpoint exists (with a warning)",
    )
    p.add_argument("--quiet", action="store_true", help="warnings only, no progress bars")
    return p.parse_args(argv)


def main(argv=None) -> int:
    ns = parse_args(argv)
    from majl_hf.training.launch import setup_script_logging

    setup_script_logging(ns.quiet)
    from majl_hf.training import TrainingArguments, run_training

    overrides = list(ns.set)
    if ns.output_dir:
        overrides.append(f"output_dir={ns.output_dir}")
    if ns.init_from:
        overrides.append(f"init_from={ns.init_from}")
    if ns.config_from:
        overrides.append(f"config_from={ns.config_from}")
    if ns.joint_method:
        overrides.append(f"config_overrides.joint_method={ns.joint_method}")
    if ns.freeze:
        overrides.append(f"freeze={json.dumps(ns.freeze)}")
    if ns.quiet:
        overrides.append("progress_bar=false")
    args = TrainingArguments.from_file(ns.config, overrides)
    if ns.allow_fresh_start and ns.resume is None:
        raise SystemExit("--allow-fresh-start goes with --resume")
    metrics = run_training(args, resume_from_checkpoint=ns.resume, allow_fresh_start=ns.allow_fresh_start)
    from accelerate import PartialState

    if PartialState().is_main_process:
        print(json.dumps({k: v for k, v in metrics.items() if not isinstance(v, dict)}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
