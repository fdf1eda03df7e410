"""Training MAJL (needs the ``train`` extra: accelerate, datasets, pyyaml, tensorboard).

- :mod:`.arguments` — :class:`TrainingArguments` (YAML/JSON + ``key=value`` overrides).
- :mod:`.data` — data sources, crops with stage-II confidences, the resumable data order.
- :mod:`.trainer` — :class:`MajlTrainer` (Accelerate), :func:`build_model`, :func:`run_training`.
- :mod:`.checkpoint` — atomic, hash-verified checkpoints; resume from the newest valid one.
- :mod:`.pseudo_label` — stage I → II pseudo-labels with frame confidences, on disk.
- :mod:`.benchmark` — training throughput, naive vs DWHS.

Command line: ``accelerate launch scripts/train.py --config configs/stage1_mir1k.yaml`` and
``accelerate launch scripts/pseudo_label.py --config configs/pseudo_label_musdb_mirst500.yaml``.
"""

from .arguments import TrainingArguments
from .checkpoint import (
    apply_retention,
    find_resumable_checkpoint,
    load_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)
from .data import ConfidenceView, EpochShuffleSampler, SourceSampledView, build_view, load_source
from .pseudo_label import (
    PseudoLabelArguments,
    label_example,
    load_pseudo_labels,
    pseudo_label,
    run_pseudo_labelling,
    verify_pseudo_labels,
)
from .trainer import LossStatistics, MajlTrainer, build_model, read_csv_log, run_training, with_joint_settings

__all__ = [
    "ConfidenceView",
    "EpochShuffleSampler",
    "LossStatistics",
    "MajlTrainer",
    "PseudoLabelArguments",
    "SourceSampledView",
    "TrainingArguments",
    "apply_retention",
    "build_model",
    "build_view",
    "find_resumable_checkpoint",
    "label_example",
    "load_checkpoint",
    "load_pseudo_labels",
    "load_source",
    "pseudo_label",
    "read_csv_log",
    "run_pseudo_labelling",
    "run_training",
    "save_checkpoint",
    "verify_checkpoint",
    "verify_pseudo_labels",
    "with_joint_settings",
]
