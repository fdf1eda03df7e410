"""Training arguments: one flat dataclass, read from a YAML/JSON file plus ``key=value`` overrides,
written back beside the outputs as the resolved configuration.

The defaults are the paper's (MAJL §5.1): Adam, learning rate 1e-3 multiplied by 0.98 every 10
epochs, batch size 16. A data source is a dict (see :func:`majl_hf.training.data.load_source`)::

    {corpus: mir1k, root: /data/MIR-1K, split: train}
    {corpus: musdb18, root: /data/MUSDB18-HQ, split: train, fmt: wav}
    {corpus: mirst500, audio_root: /data/MIR-ST500/audio, notes_path: /data/MIR-ST500_corrected.json}
    {corpus: pseudo, path: outputs/pseudo-labels}        # written by scripts/pseudo_label.py
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..utils import check_choice, check_range

FREEZABLE = ("separator", "pitch_estimator")
REPORTERS = ("csv", "tensorboard")
MIXED_PRECISION = ("no", "fp16", "bf16")
SOURCE_SAMPLING = ("duration", "examples")  # = majl_hf.training.data.SOURCE_SAMPLING


@dataclass
class TrainingArguments:
    """Everything a MAJL training run needs. Paths are used as given (relative = to the working
    directory); nothing is read at construction time.

    Model (exactly one of ``model_config``, ``init_from``, ``config_from``):
        model_config: :class:`~majl_hf.MajlConfig` keyword arguments — train from scratch (the paper).
        init_from: a saved model folder or Hub id whose weights start the run (fine-tuning, e.g.
            ``majl-hf/majl-unet-crepe-full``).
        config_from: a saved model folder or Hub id whose *configuration* (not weights) is used:
            stage II "re-initialise and train from scratch" with the stage-I architecture.
        config_overrides: joint-training fields set on top of the chosen config, e.g.
            ``{joint_method: dwhs, pseudo_label_threshold: 0.7}``. Switching a pretrained
            ``pipeline`` model to ``dwhs`` gives it a freshly initialised Dynamic Weight Module.
        freeze: parts whose weights stay fixed: ``separator`` and/or ``pitch_estimator`` (frozen
            parts are also kept in eval mode: no dropout, batch-norm statistics unchanged).

    Data:
        train_data, eval_data: lists of data sources (module docstring).
        segment_s: crop length in seconds; eval_segment_s: for evaluation (default segment_s).
        crops_per_example: crops of each example per epoch (train); eval_crops_per_example likewise.
            With ``source_sampling="duration"`` this sets the epoch's size (Σ examples × crops),
            shared among the sources by duration.
        source_sampling: how an epoch's training crops are shared among the sources:
            ``"duration"`` (default) — in proportion to each source's seconds of audio (times its
            ``sampling_weight`` key, default 1), each example by its own duration; ``"examples"``
            — every example ``crops_per_example`` times (MIR-1K then fills ~60 % of a stage-II
            epoch while it is ~5 % of the audio). The shares are logged once per epoch
            (``logs/sampling.csv``).
        gain_db, channel_swap_p, remix_p: augmentation of :class:`~majl_hf.data.TrainingView`.

    Optimisation (the paper's defaults):
        batch_size: global batch (split across processes), 16. eval_batch_size: default batch_size.
        learning_rate: 1e-3. adam_betas, adam_eps, weight_decay: Adam's.
        lr_decay_gamma, lr_decay_epochs: StepLR — ×0.98 every 10 epochs.
        max_grad_norm: clip the global gradient norm to this (default 1.0, as transformers' Trainer;
            the paper states none; None = off). A guard against the rare huge gradients that a
            near-silent stretch sends through a pitch estimator's per-frame normalisation.
        gradient_accumulation_steps: micro-batches per optimiser step.
        num_epochs: passes over train_data. max_steps: stop after this many optimiser steps.

    Checkpoints, evaluation, logs:
        save_steps: checkpoint every this many optimiser steps (0 = only the final model).
        save_total_limit: keep this many newest checkpoints (None = all).
        eval_every_epochs: evaluate every this many epochs (0 = never; eval_data needed).
        eval_metrics: also compute energy-ratio SDR and RPA/RCA (mir_eval) on the eval crops.
        logging_steps: write a train-log row every this many optimiser steps.
        report_to: ``csv`` and/or ``tensorboard``.
        progress_bar: tqdm bars (main process only).

    Reproducibility:
        seed: weights, data order (permutation from (seed, epoch)), crops, dropout (re-seeded from
            (seed, micro-batch, process) at every step, so a resumed run repeats the original).
        deterministic: ``torch.use_deterministic_algorithms(True)``.
        num_workers: DataLoader workers. mixed_precision: ``no``, ``fp16`` or ``bf16``.
        ddp_find_unused_parameters: DDP's flag for multi-process runs; needed when some parameters
            get no gradient (e.g. the Spleeter U-Net's last encoder batch norm, which the original
            architecture computes but never uses). Turn off for a faster step when none are unused.
        ddp_timeout_s: how long a process waits for the others (joining, each collective) before
            the run stops with an error naming the step, instead of hanging (torch's default: 30 min).

    Export:
        model_name: the name written in the model card (default: the output folder's name).
        card_license: the licence field of the generated model card.
    """

    output_dir: str = "outputs/majl"
    # model
    model_config: dict | None = None
    init_from: str | None = None
    config_from: str | None = None
    config_overrides: dict = field(default_factory=dict)
    freeze: list = field(default_factory=list)
    # data
    train_data: list = field(default_factory=list)
    eval_data: list = field(default_factory=list)
    segment_s: float = 3.0
    eval_segment_s: float | None = None
    crops_per_example: int = 1
    eval_crops_per_example: int = 1
    source_sampling: str = "duration"
    gain_db: list | None = None
    channel_swap_p: float = 0.0
    remix_p: float = 0.0
    # optimisation
    batch_size: int = 16
    eval_batch_size: int | None = None
    learning_rate: float = 1e-3
    adam_betas: list = field(default_factory=lambda: [0.9, 0.999])
    adam_eps: float = 1e-8
    weight_decay: float = 0.0
    lr_decay_gamma: float = 0.98
    lr_decay_epochs: int = 10
    max_grad_norm: float | None = 1.0
    gradient_accumulation_steps: int = 1
    num_epochs: int = 100
    max_steps: int | None = None
    # checkpoints, evaluation, logs
    save_steps: int = 500
    save_total_limit: int | None = 3
    eval_every_epochs: int = 1
    eval_metrics: bool = True
    logging_steps: int = 10
    report_to: list = field(default_factory=lambda: ["csv", "tensorboard"])
    progress_bar: bool = True
    # reproducibility
    seed: int = 0
    deterministic: bool = False
    num_workers: int = 0
    mixed_precision: str = "no"
    ddp_find_unused_parameters: bool = True
    ddp_timeout_s: float = 1800.0
    # export
    model_name: str | None = None
    card_license: str = "other"

    def __post_init__(self):
        sources = [x for x in (self.model_config, self.init_from, self.config_from) if x]
        if len(sources) != 1:
            raise ValueError(
                "give exactly one of model_config (train from scratch), init_from (start from pretrained "
                "weights) or config_from (the architecture of a saved model, fresh weights); got "
                f"{len(sources)}"
            )
        if not isinstance(self.config_overrides, Mapping):
            raise ValueError(f"config_overrides must be a mapping, got {type(self.config_overrides).__name__}")
        if isinstance(self.freeze, str):
            self.freeze = [self.freeze]
        for part in self.freeze:
            check_choice("freeze[i]", part, FREEZABLE)
        if not self.train_data:
            raise ValueError("train_data is empty: give at least one data source (e.g. {corpus: mir1k, root: ...})")
        for name in ("train_data", "eval_data"):
            for i, spec in enumerate(getattr(self, name)):
                if not isinstance(spec, Mapping) or "corpus" not in spec:
                    raise ValueError(f"{name}[{i}] must be a mapping with a 'corpus' key, got {spec!r}")
        check_range("segment_s", self.segment_s, 0.0, None, low_open=True)
        if self.eval_segment_s is not None:
            check_range("eval_segment_s", self.eval_segment_s, 0.0, None, low_open=True)
        check_range("crops_per_example", self.crops_per_example, 1, None)
        check_range("eval_crops_per_example", self.eval_crops_per_example, 1, None)
        check_choice("source_sampling", self.source_sampling, SOURCE_SAMPLING)
        check_range("batch_size", self.batch_size, 1, None)
        if self.eval_batch_size is not None:
            check_range("eval_batch_size", self.eval_batch_size, 1, None)
        check_range("learning_rate", self.learning_rate, 0.0, None, low_open=True)
        if len(self.adam_betas) != 2:
            raise ValueError(f"adam_betas must be [beta1, beta2], got {self.adam_betas}")
        check_range("lr_decay_gamma", self.lr_decay_gamma, 0.0, 1.0, low_open=True)
        check_range("lr_decay_epochs", self.lr_decay_epochs, 1, None)
        if self.max_grad_norm is not None:
            check_range("max_grad_norm", self.max_grad_norm, 0.0, None, low_open=True)
        check_range("gradient_accumulation_steps", self.gradient_accumulation_steps, 1, None)
        check_range("num_epochs", self.num_epochs, 1, None)
        if self.max_steps is not None:
            check_range("max_steps", self.max_steps, 1, None)
        check_range("save_steps", self.save_steps, 0, None)
        if self.save_total_limit is not None:
            check_range("save_total_limit", self.save_total_limit, 1, None)
        check_range("eval_every_epochs", self.eval_every_epochs, 0, None)
        check_range("logging_steps", self.logging_steps, 1, None)
        if isinstance(self.report_to, str):
            self.report_to = [] if self.report_to == "none" else [self.report_to]
        for r in self.report_to:
            check_choice("report_to[i]", r, REPORTERS)
        check_range("num_workers", self.num_workers, 0, None)
        check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        if isinstance(self.ddp_timeout_s, bool) or not isinstance(self.ddp_timeout_s, (int, float)) \
                or not self.ddp_timeout_s > 0:
            raise ValueError(f"ddp_timeout_s must be a positive number of seconds, got {self.ddp_timeout_s!r}")

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict:
        return copy.deepcopy(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        yaml = _yaml()
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def save(self, path) -> Path:
        """Write the resolved configuration (YAML, or JSON for a ``.json`` path)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2) if path.suffix == ".json" else self.to_yaml()
        from ..utils import write_text_atomic

        return write_text_atomic(path, text)

    @classmethod
    def from_dict(cls, data: Mapping) -> "TrainingArguments":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training argument(s) {unknown}; known: {sorted(known)}")
        return cls(**copy.deepcopy(dict(data)))

    @classmethod
    def from_file(cls, path=None, overrides: Sequence[str] | Mapping | None = None) -> "TrainingArguments":
        """Read ``path`` (YAML or JSON; None = defaults only), then apply ``overrides``: a mapping, or
        ``key=value`` strings where ``key`` may be dotted (``model_config.joint_method=dwhs``,
        ``train_data.0.root=/data/MIR-1K``: a number indexes a list) and ``value`` is parsed as YAML
        (``true``, ``3``, ``[separator]``, ``{a: 1}``, ``null``)."""
        data = load_config_file(path) if path is not None else {}
        data = apply_overrides(data, overrides or [])
        return cls.from_dict(data)


def _yaml():
    from ..utils import require

    return require("yaml", "train")


def load_config_file(path) -> dict:
    """A YAML or JSON config file as a dict (``{}`` for an empty file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else _yaml().safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a mapping of training arguments")
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"a.b=value"`` → (["a", "b"], YAML-parsed value)."""
    if "=" not in item:
        raise ValueError(f"override {item!r} must look like key=value (dotted keys allowed)")
    key, value = item.split("=", 1)
    keys = [k for k in key.strip().split(".")]
    if not all(keys):
        raise ValueError(f"override {item!r}: empty key")
    return keys, _yaml().safe_load(value) if value.strip() else None


def apply_overrides(data: Mapping, overrides: Sequence[str] | Mapping) -> dict:
    """A deep copy of ``data`` with ``overrides`` applied (see :meth:`TrainingArguments.from_file`)."""
    out = copy.deepcopy(dict(data))
    items = overrides.items() if isinstance(overrides, Mapping) else (parse_override(o) for o in overrides)
    for keys, value in items:
        keys = keys.split(".") if isinstance(keys, str) else list(keys)
        node = out
        for k in keys[:-1]:
            if isinstance(node, list):  # train_data.0.root=...: an index into a list
                node = node[_index(node, k)]
                continue
            if not isinstance(node.get(k), (dict, list)):
                node[k] = {}
            node = node[k]
        if isinstance(node, list):
            node[_index(node, keys[-1])] = value
        else:
            node[keys[-1]] = value
    # init_from / config_from / model_config are alternatives: setting one of them (the key itself)
    # on the command line replaces the one from the file
    chosen = [k for k in ("model_config", "init_from", "config_from") if _touched(overrides, k)]
    if chosen:
        for k in ("model_config", "init_from", "config_from"):
            if k not in chosen and k in out and not _touched(overrides, k):
                out[k] = None
    return out


def _index(items: list, key: str) -> int:
    try:
        i = int(key)
        items[i]
    except (ValueError, IndexError):
        raise ValueError(f"override key part {key!r}: not an index of a list of {len(items)} items") from None
    return i


def _touched(overrides, key: str) -> bool:
    """Whether ``overrides`` sets the top-level ``key`` itself (not one of its sub-keys)."""
    if isinstance(overrides, Mapping):
        return any(str(k) == key for k in overrides)
    return any(o.split("=", 1)[0].strip() == key for o in overrides)


__all__ = ["FREEZABLE", "TrainingArguments", "apply_overrides", "load_config_file", "parse_override"]
