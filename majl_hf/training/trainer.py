"""The MAJL trainer: a thin loop over 🤗 Accelerate.

``accelerator.prepare`` → for each batch ``compute_loss`` (the model's own loss: MajlModel.forward
computes the pipeline / naive / DWHS / stage-II losses, never re-implemented here) →
``accelerator.backward`` → optimiser step; ``gather_for_metrics`` in evaluation; checkpoints with
``accelerator.save_state`` made atomic and verifiable (:mod:`.checkpoint`). One override point:
:meth:`MajlTrainer.compute_loss`.

Exact resumption: the data order is a permutation of (seed, epoch) (:class:`~.data.EpochShuffleSampler`),
crops are seeded per (epoch, item) by the view, the consumed batches of the interrupted epoch are
skipped with ``accelerator.skip_first_batches``, and the global torch RNG (dropout) is re-seeded
from (seed, micro-batch, process) before every micro-batch — so nothing that draws from it between
steps (a DataLoader iterator's base seed, an evaluation) can shift the dropout masks of a resumed
run. Optimiser, scheduler, sampler, counters and running statistics are restored from the
checkpoint.

Logs (``<output_dir>/logs``): ``train.csv`` every ``logging_steps`` optimiser steps and
``epochs.csv`` once per epoch — the losses, and for DWHS the number of samples in each Table-1
case with their mean ω_mss, ω_pe (the paper's Fig. 5) — mirrored to TensorBoard.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from ..configuration_majl import MajlConfig
from ..data import collate_training
from ..dwhs import CASE_NONE, CASES, saturated
from ..modeling_majl import MajlModel, MajlOutput
from ..utils import require, write_json_atomic
from .arguments import TrainingArguments
from .checkpoint import find_resumable_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from .data import EpochShuffleSampler, build_view, describe_source, load_source, model_view_kwargs
from .launch import use_cpu_processes, warn_if_single_cpu_launch

logger = logging.getLogger(__name__)

CASE_COLUMNS = (
    [f"n_case{c}" for c in CASES]
    + [f"w_mss_case{c}" for c in CASES]
    + [f"w_pe_case{c}" for c in CASES]
    + ["n_no_case", "frac_saturated_mss", "frac_saturated_pe"]
)
TRAIN_COLUMNS = [
    "step",
    "epoch",
    "lr",
    "loss",
    "loss_mss",
    "loss_pe",
    "loss_dwhs",
    "loss_pe_target",
    "samples",
    *CASE_COLUMNS,
    "samples_per_s",
]
SAMPLING_COLUMNS = [
    "epoch",
    "source",
    "corpus",
    "sampling",
    "examples",
    "audio_s",
    "crops",
    "crop_share",
    "audio_share",
    "distinct_examples",
]
from .model_card import EVAL_KEYS  # noqa: E402  (one list, shared with the model card)

EPOCH_COLUMNS = [
    "epoch",
    "step",
    "lr",
    *[f"train_{k}" for k in ("loss", "loss_mss", "loss_pe", "loss_dwhs", "loss_pe_target")],
    *CASE_COLUMNS,
    *EVAL_KEYS,
]


# ---------------------------------------------------------------------------------------------
# model


def _override_config(config: MajlConfig, overrides: Mapping) -> MajlConfig:
    data = config.to_dict()
    data.update(dict(overrides))
    return MajlConfig.from_dict(data)


def with_joint_settings(model: MajlModel, overrides: Mapping) -> MajlModel:
    """``model`` with ``overrides`` applied to its joint-training fields (``joint_method``,
    ``correct_frame_ratio``, ``w_max``, ``pseudo_label_threshold`` …), sharing its backbones.

    Turning a ``pipeline``/``naive`` model into ``dwhs`` adds a freshly initialised Dynamic Weight
    Module (ω = 1 at the start); a DWM the model already has is kept when its shape still fits.
    """
    if not overrides:
        return model
    if {"separator_config", "pitch_config"} & set(overrides):
        raise ValueError(
            "config_overrides cannot change a backbone of a pretrained model; use model_config or config_from"
        )
    config = _override_config(model.config, overrides)
    new = MajlModel(config, separator=model.separator, pitch_estimator=model.pitch_estimator)
    if model.dwm is not None and new.dwm is not None:
        try:
            new.dwm.load_state_dict(model.dwm.state_dict())
        except RuntimeError:
            logger.info("the Dynamic Weight Module changed shape: it starts freshly initialised")
    return new


def freeze_parts(model: MajlModel, parts: Sequence[str]) -> None:
    """Stop gradients to the named parts (``separator``, ``pitch_estimator``)."""
    for part in parts:
        for p in getattr(model, part).parameters():
            p.requires_grad_(False)


def build_model(args: TrainingArguments) -> MajlModel:
    """The model a run starts from: a fresh ``MajlModel`` from ``model_config`` or from the config
    of ``config_from`` (stage II re-initialisation), or the pretrained ``init_from`` (fine-tuning),
    with ``config_overrides`` applied and ``freeze`` parts frozen. Seeded by ``args.seed``."""
    from accelerate.utils import set_seed
    from transformers import AutoConfig, AutoModel

    set_seed(args.seed)
    overrides = dict(args.config_overrides)
    if args.model_config is not None:
        model = MajlModel(MajlConfig(**{**args.model_config, **overrides}))
    elif args.config_from:
        base = AutoConfig.from_pretrained(args.config_from)
        if not isinstance(base, MajlConfig):
            raise ValueError(f"{args.config_from} holds a {type(base).__name__}, not a MajlConfig")
        model = MajlModel(_override_config(base, overrides))
    else:
        loaded = AutoModel.from_pretrained(args.init_from)
        if not isinstance(loaded, MajlModel):
            raise ValueError(f"{args.init_from} holds a {type(loaded).__name__}, not a MajlModel")
        model = with_joint_settings(loaded, overrides)
    freeze_parts(model, args.freeze)
    return model


# ---------------------------------------------------------------------------------------------
# running statistics


class LossStatistics:
    """Sums over micro-batches (one process): losses, samples per DWHS case and their ω sums.
    ``summary`` reduces them over processes into means (Fig. 5 of the paper: mean ω per case), the
    samples that took no case (``n_no_case``) and the fraction of ω_mss / ω_pe saturated (within 5 %
    of w_max from 0 or w_max, over samples with a case: the BPR terms drive ω there, so these say
    how far DWHS acts as a {0, 1, w_max} weighting)."""

    FIELDS = [
        "batches",
        "loss",
        "n_vocals",
        "loss_mss",
        "n_f0",
        "loss_pe",
        "dwhs_batches",
        "loss_dwhs",
        "samples",
        *[f"n_case{c}" for c in CASES],
        *[f"w_mss_case{c}" for c in CASES],
        *[f"w_pe_case{c}" for c in CASES],
        "n_no_case",
        "sat_mss",
        "sat_pe",
        "target_batches",
        "loss_pe_target",
    ]

    def __init__(self, w_max: float | None = None):
        self.w_max = w_max
        self.values = torch.zeros(len(self.FIELDS), dtype=torch.float64)
        self._index = {k: i for i, k in enumerate(self.FIELDS)}

    def reset(self) -> None:
        self.values.zero_()

    def _add(self, key: str, value) -> None:
        self.values[self._index[key]] += float(value)

    @torch.no_grad()
    def update(self, out: MajlOutput, batch: Mapping) -> None:
        b = out.loss_mss.shape[0]
        has_vocals = batch.get("has_vocals")
        has_f0 = batch.get("has_f0")
        wv = torch.ones(b) if has_vocals is None else has_vocals.detach().cpu().double()
        wf = torch.ones(b) if has_f0 is None else has_f0.detach().cpu().double()
        self._add("batches", 1)
        self._add("samples", b)
        self._add("loss", out.loss.detach().double().cpu())
        self._add("n_vocals", wv.sum())
        self._add("loss_mss", (out.loss_mss.detach().double().cpu() * wv).sum())
        self._add("n_f0", wf.sum())
        self._add("loss_pe", (out.loss_pe.detach().double().cpu() * wf).sum())
        if out.loss_dwhs is not None:
            self._add("dwhs_batches", 1)
            self._add("loss_dwhs", out.loss_dwhs.detach().double().cpu())
        if out.loss_pe_target is not None:
            self._add("target_batches", 1)
            self._add("loss_pe_target", (out.loss_pe_target.detach().double().cpu() * wf).sum())
        if out.dwhs_cases is not None:
            cases = out.dwhs_cases.detach().cpu()
            w = out.dwhs_weights.detach().double().cpu()
            for c in CASES:
                sel = cases == c
                self._add(f"n_case{c}", sel.sum())
                self._add(f"w_mss_case{c}", w[sel, 0].sum())
                self._add(f"w_pe_case{c}", w[sel, 1].sum())
            self._add("n_no_case", (cases == CASE_NONE).sum())
            if self.w_max is not None:
                sat = saturated(w[cases != CASE_NONE], self.w_max)
                self._add("sat_mss", sat[:, 0].sum())
                self._add("sat_pe", sat[:, 1].sum())

    def summary(self, accelerator=None) -> dict:
        v = self.values
        if accelerator is not None and accelerator.num_processes > 1:
            v = accelerator.reduce(v.to(accelerator.device), reduction="sum").cpu()
        g = {k: float(v[i]) for i, k in enumerate(self.FIELDS)}

        def ratio(a, b):
            return g[a] / g[b] if g[b] > 0 else math.nan

        out = {
            "loss": ratio("loss", "batches"),
            "loss_mss": ratio("loss_mss", "n_vocals"),
            "loss_pe": ratio("loss_pe", "n_f0"),
            "loss_dwhs": ratio("loss_dwhs", "dwhs_batches"),
            "samples": int(g["samples"]),
        }
        for c in CASES:
            out[f"n_case{c}"] = int(g[f"n_case{c}"])
            out[f"w_mss_case{c}"] = ratio(f"w_mss_case{c}", f"n_case{c}")
            out[f"w_pe_case{c}"] = ratio(f"w_pe_case{c}", f"n_case{c}")
        with_case = sum(g[f"n_case{c}"] for c in CASES)
        out["n_no_case"] = int(g["n_no_case"])
        for k in ("mss", "pe"):
            out[f"frac_saturated_{k}"] = g[f"sat_{k}"] / with_case if with_case > 0 and self.w_max else math.nan
        out["loss_pe_target"] = ratio("loss_pe_target", "n_f0") if g["target_batches"] > 0 else math.nan
        return out

    def state_dict(self) -> dict:
        return {"values": self.values.tolist()}

    def load_state_dict(self, state: Mapping) -> None:
        values = torch.tensor(state["values"], dtype=torch.float64)
        if len(values) < len(self.FIELDS):  # a checkpoint from before fields were added: zeros for them
            values = torch.cat([values, torch.zeros(len(self.FIELDS) - len(values), dtype=torch.float64)])
        self.values = values


class TrainingState:
    """Counters and running statistics, registered with the accelerator for checkpointing."""

    def __init__(self, w_max: float | None = None):
        self.epoch = 0  # epochs completed
        self.batch_in_epoch = 0  # micro-batches consumed in the current epoch
        self.global_step = 0  # optimiser steps
        self.micro_step = 0  # micro-batches since the start
        self.interval = LossStatistics(w_max)  # since the last train-log row
        self.epoch_stats = LossStatistics(w_max)  # since the start of the epoch
        self.log_history: list[dict] = []  # epoch rows

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "global_step": self.global_step,
            "micro_step": self.micro_step,
            "interval": self.interval.state_dict(),
            "epoch_stats": self.epoch_stats.state_dict(),
            "log_history": json.loads(json.dumps(self.log_history)),
        }

    def load_state_dict(self, state: Mapping) -> None:
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.global_step = int(state["global_step"])
        self.micro_step = int(state["micro_step"])
        self.interval.load_state_dict(state["interval"])
        self.epoch_stats.load_state_dict(state["epoch_stats"])
        self.log_history = list(state.get("log_history", []))


class CsvLog:
    """Append rows with fixed columns; on resume, rows logged after the checkpoint are dropped."""

    def __init__(self, path, columns: Sequence[str]):
        self.path = Path(path)
        self.columns = list(columns)

    def truncate_after(self, key: str, value: float) -> None:
        if not self.path.is_file():
            return
        with open(self.path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get(key) not in (None, "") and float(r[key]) <= value]
        self._write(rows, "w")

    def append(self, row: Mapping) -> None:
        self._write([row], "a")

    def _write(self, rows, mode: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = mode == "w" or not self.path.is_file() or self.path.stat().st_size == 0
        with open(self.path, mode, newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore")
            if new:
                w.writeheader()
            for r in rows:
                w.writerow({k: _fmt(r.get(k)) for k in self.columns})


def _fmt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.8g}"
    return v


def read_csv_log(path) -> list[dict]:
    """Rows of a ``train.csv`` / ``epochs.csv`` / ``sampling.csv`` log with numbers parsed (empty →
    NaN; text, e.g. a corpus name, stays text)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [{k: _parse(v) for k, v in r.items()} for r in rows]


def _parse(v: str):
    if v == "":
        return math.nan
    try:
        return float(v)
    except ValueError:
        return v


# ---------------------------------------------------------------------------------------------
# accelerator


def make_accelerator(args: TrainingArguments):
    """An ``Accelerator`` for ``args``: batches split across processes (``batch_size`` is the
    global batch, as in the paper, whatever the process count), TensorBoard when asked for and
    installed."""
    accelerate = require("accelerate", "train")
    from datetime import timedelta

    from accelerate.utils import (
        DataLoaderConfiguration,
        DistributedDataParallelKwargs,
        InitProcessGroupKwargs,
        ProjectConfiguration,
    )

    log_with = None
    if "tensorboard" in args.report_to:
        try:
            import tensorboard  # noqa: F401

            log_with = ["tensorboard"]
        except ImportError:
            logger.warning("tensorboard is not installed: logging to CSV only (pip install 'majl_hf[train]')")
    out = Path(args.output_dir)
    warn_if_single_cpu_launch()
    cpu = use_cpu_processes()  # N CPU processes over gloo for a torchrun-style launch without GPUs
    return accelerate.Accelerator(
        cpu=cpu,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=args.ddp_find_unused_parameters),
                         InitProcessGroupKwargs(timeout=timedelta(seconds=args.ddp_timeout_s))],
        mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with=log_with,
        project_config=ProjectConfiguration(project_dir=str(out), logging_dir=str(out / "logs")),
        dataloader_config=DataLoaderConfiguration(split_batches=True),
        step_scheduler_with_optimizer=False,
    )


def _flat_hparams(d: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat_hparams(v, key + "."))
        elif isinstance(v, (bool, int, float, str)):
            out[key] = v
        elif v is not None:
            out[key] = json.dumps(v)
    return out


def args_fingerprint(args: TrainingArguments) -> str:
    return hashlib.sha256(json.dumps(args.to_dict(), sort_keys=True, default=str).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# trainer


class MajlTrainer:
    """Train a :class:`~majl_hf.MajlModel` with Accelerate.

    Args:
        model: the model (see :func:`build_model`).
        args: :class:`~.arguments.TrainingArguments`.
        train_dataset: items of :class:`~majl_hf.data.TrainingView` (or :class:`~.data.ConfidenceView`).
        eval_dataset: the same for evaluation, or None.
        accelerator: an ``accelerate.Accelerator`` (default :func:`make_accelerator`).
        data_collator: batches items (default :func:`~majl_hf.data.collate_training`).
        data_summary: descriptions of the data sources for the model card.
    """

    def __init__(
        self,
        model: MajlModel,
        args: TrainingArguments,
        train_dataset,
        eval_dataset=None,
        *,
        accelerator=None,
        data_collator=collate_training,
        data_summary: dict | None = None,
    ):
        self.args = args
        self.model = model
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.accelerator = accelerator if accelerator is not None else make_accelerator(args)
        self.data_collator = data_collator
        self.data_summary = data_summary or {}
        self.output_dir = Path(args.output_dir)
        self.state = TrainingState(w_max=float(model.config.w_max))
        self._prepared = False

    # ------------------------------------------------------------------ the override point
    def compute_loss(self, model, batch: Mapping) -> MajlOutput:
        """The loss step — the one place to override. Gets the (prepared) model and a collated
        batch (``input_values``, ``target_vocals``, ``target_f0_hz``, ``has_vocals``, ``has_f0``
        and in stage II ``confidence_mss``/``confidence_pe``); must return a
        :class:`~majl_hf.MajlOutput` whose ``loss`` is back-propagated (``loss_mss``/``loss_pe``
        per sample and, for DWHS, ``dwhs_cases``/``dwhs_weights``, are logged). The default asks
        the model: ``model(**batch)``."""
        return model(**batch)

    # ------------------------------------------------------------------ setup
    @property
    def unwrapped_model(self) -> MajlModel:
        return self.accelerator.unwrap_model(self.model)

    def _loader(self, dataset, *, train: bool):
        bs = self.args.batch_size if train else (self.args.eval_batch_size or self.args.batch_size)
        n_proc = self.accelerator.num_processes
        if bs % n_proc:
            raise ValueError(f"the batch size {bs} is split across {n_proc} processes: make it a multiple of {n_proc}")
        sampler = EpochShuffleSampler(len(dataset), seed=self.args.seed, shuffle=train)
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=bs,
            sampler=sampler,
            collate_fn=self.data_collator,
            drop_last=train,
            num_workers=self.args.num_workers,
            generator=torch.Generator().manual_seed(self.args.seed),
        )
        if train and len(loader) == 0:
            raise ValueError(
                f"{len(dataset)} training crops make no full batch of {bs}: "
                "lower batch_size or raise crops_per_example"
            )
        return loader, sampler

    def _setup(self) -> None:
        if self._prepared:
            return
        args, acc = self.args, self.accelerator
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("every parameter is frozen: nothing to train")
        self.optimizer = torch.optim.Adam(
            trainable,
            lr=args.learning_rate,
            betas=tuple(args.adam_betas),
            eps=args.adam_eps,
            weight_decay=args.weight_decay,
        )
        # StepLR per epoch (the paper: ×0.98 every 10 epochs); stepped by us, saved as a custom object
        self.scheduler = torch.optim.lr_scheduler.StepLR(
            self.optimizer, step_size=args.lr_decay_epochs, gamma=args.lr_decay_gamma
        )
        self.train_loader, self.sampler = self._loader(self.train_dataset, train=True)
        self.eval_loader = None
        if self.eval_dataset is not None and len(self.eval_dataset):
            self.eval_loader, _ = self._loader(self.eval_dataset, train=False)
        if self.eval_loader is not None:
            self.model, self.optimizer, self.train_loader, self.eval_loader = acc.prepare(
                self.model, self.optimizer, self.train_loader, self.eval_loader
            )
        else:
            self.model, self.optimizer, self.train_loader = acc.prepare(self.model, self.optimizer, self.train_loader)
        for obj in (self.state, self.sampler, self.scheduler):
            acc.register_for_checkpointing(obj)
        self._prepared = True

    def _set_train_mode(self) -> None:
        self.model.train()
        for part in self.args.freeze:  # frozen parts: no dropout, no batch-norm statistics updates
            getattr(self.unwrapped_model, part).eval()

    def _reseed(self) -> None:
        s = np.random.SeedSequence([self.args.seed, self.state.micro_step, self.accelerator.process_index])
        torch.manual_seed(int(s.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)))

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoints_dir(self) -> Path:
        return self.output_dir / "checkpoints"

    def save_checkpoint(self) -> Path:
        meta = {
            "epoch": self.state.epoch,
            "batch_in_epoch": self.state.batch_in_epoch,
            "global_step": self.state.global_step,
            "args_sha256": args_fingerprint(self.args),
        }
        return save_checkpoint(
            self.accelerator, self.checkpoints_dir, self.state.global_step, meta, keep=self.args.save_total_limit
        )

    def _resume(self, resume_from_checkpoint, allow_fresh_start: bool = False) -> Path | None:
        if resume_from_checkpoint in (None, False):
            self._set_aside_previous_checkpoints()
            return None
        if resume_from_checkpoint is True or resume_from_checkpoint == "latest":
            folder, _ = find_resumable_checkpoint(self.checkpoints_dir)  # logs each skipped one and why
            if folder is None:
                if not allow_fresh_start:
                    raise FileNotFoundError(
                        f"--resume: no valid checkpoint in {self.checkpoints_dir} (see the warnings above for "
                        "the ones skipped); to start from the beginning instead, pass --allow-fresh-start "
                        "(train(..., allow_fresh_start=True)) or leave out --resume"
                    )
                logger.warning(
                    "no valid checkpoint in %s: starting from the beginning (allow_fresh_start)", self.checkpoints_dir
                )
                self._set_aside_previous_checkpoints()
                return None
        else:
            folder = Path(resume_from_checkpoint)
        manifest = load_checkpoint(self.accelerator, folder)  # verifies first; raises if invalid
        if manifest.get("args_sha256") not in (None, args_fingerprint(self.args)):
            logger.warning("resuming from %s with different training arguments than it was saved with", folder)
        if self.accelerator.is_main_process:
            self.accelerator.print(
                f"resumed from {folder}: step {self.state.global_step}, epoch {self.state.epoch}, "
                f"{self.state.batch_in_epoch} batches of that epoch already done"
            )
        return folder

    def _set_aside_previous_checkpoints(self) -> None:
        """A run that starts from the beginning moves the checkpoints of an earlier run in the same
        output folder into ``checkpoints/previous-<time>/`` (nothing is deleted), so that neither
        retention nor a later ``--resume`` mixes them with this run's."""
        acc = self.accelerator
        if acc.is_main_process:
            old = list_checkpoints(self.checkpoints_dir)
            if old:
                dest = self.checkpoints_dir / f"previous-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
                dest.mkdir(parents=True)
                for _, folder in old:
                    os.replace(folder, dest / folder.name)
                logger.warning(
                    "starting from the beginning: moved the %d checkpoint(s) of an earlier run in %s to %s",
                    len(old),
                    self.checkpoints_dir,
                    dest,
                )
        acc.wait_for_everyone()

    # ------------------------------------------------------------------ training
    def train(self, resume_from_checkpoint=None, allow_fresh_start: bool = False) -> dict:
        """Train; ``resume_from_checkpoint`` = a checkpoint folder, or True/"latest" for the newest
        valid one in ``<output_dir>/checkpoints`` — an error (``FileNotFoundError``) when there is
        none, unless ``allow_fresh_start``. Returns the final metrics (also written to
        ``<output_dir>/model/metrics.json`` with the exported model)."""
        self._allow_fresh_start = bool(allow_fresh_start)
        deterministic_before = torch.are_deterministic_algorithms_enabled()
        if self.args.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        try:
            return self._train(resume_from_checkpoint)
        finally:
            torch.use_deterministic_algorithms(deterministic_before)

    def _train(self, resume_from_checkpoint) -> dict:
        from tqdm.auto import tqdm

        args, acc = self.args, self.accelerator
        if resume_from_checkpoint is True or resume_from_checkpoint == "latest":  # fail before any set-up
            if find_resumable_checkpoint(self.checkpoints_dir)[0] is None and not self._allow_fresh_start:
                self._resume(resume_from_checkpoint)  # raises, naming the way out
        self._setup()
        resumed = self._resume(resume_from_checkpoint, self._allow_fresh_start)
        st = self.state
        logs = self.output_dir / "logs"
        train_csv = CsvLog(logs / "train.csv", TRAIN_COLUMNS) if "csv" in args.report_to else None
        epoch_csv = CsvLog(logs / "epochs.csv", EPOCH_COLUMNS) if "csv" in args.report_to else None
        sampling_csv = CsvLog(logs / "sampling.csv", SAMPLING_COLUMNS) if "csv" in args.report_to else None
        if acc.is_main_process and train_csv is not None:
            if resumed is not None:
                train_csv.truncate_after("step", st.global_step)
                epoch_csv.truncate_after("epoch", st.epoch)
                sampling_csv.truncate_after("epoch", st.epoch - 1 + (st.batch_in_epoch > 0))
            else:
                for f in (train_csv, epoch_csv, sampling_csv):
                    if f.path.exists():
                        f.path.unlink()
        if acc.log_with:
            acc.init_trackers("majl", config=_flat_hparams(args.to_dict()))

        batches_per_epoch = len(self.train_loader)
        steps_per_epoch = math.ceil(batches_per_epoch / args.gradient_accumulation_steps)
        total_steps = steps_per_epoch * args.num_epochs
        if args.max_steps is not None:
            total_steps = min(total_steps, args.max_steps)
        bar = tqdm(
            total=total_steps,
            initial=st.global_step,
            desc="train",
            dynamic_ncols=True,
            disable=not (args.progress_bar and acc.is_local_main_process),
        )
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        last_eval: dict = {}
        t_interval = time.perf_counter()
        done = st.global_step >= total_steps
        while st.epoch < args.num_epochs and not done:
            epoch = st.epoch
            self.train_loader.set_epoch(epoch)
            if st.batch_in_epoch == 0:
                self._log_sampling(epoch, sampling_csv)
            loader = self.train_loader
            if st.batch_in_epoch:
                loader = acc.skip_first_batches(self.train_loader, st.batch_in_epoch)
                loader.set_epoch(epoch)
            self._set_train_mode()
            for batch in loader:
                self._reseed()
                with acc.accumulate(self.model):
                    out = self.compute_loss(self.model, batch)
                    acc.backward(out.loss)
                    if acc.sync_gradients and args.max_grad_norm is not None:
                        acc.clip_grad_norm_(trainable, args.max_grad_norm)
                    self.optimizer.step()
                    self.optimizer.zero_grad()
                st.interval.update(out, batch)
                st.epoch_stats.update(out, batch)
                st.micro_step += 1
                st.batch_in_epoch += 1
                if not acc.sync_gradients:
                    continue
                st.global_step += 1
                bar.update(1)
                if st.global_step % args.logging_steps == 0:
                    row = st.interval.summary(acc)
                    now = time.perf_counter()
                    row.update(
                        step=st.global_step,
                        epoch=epoch,
                        lr=self.optimizer.param_groups[0]["lr"],
                        samples_per_s=row["samples"] / max(now - t_interval, 1e-9),
                    )
                    t_interval = now
                    st.interval.reset()
                    self._log(row, train_csv, prefix="train/")
                    bar.set_postfix(loss=f"{row['loss']:.4f}")
                if args.save_steps and st.global_step % args.save_steps == 0:
                    self.save_checkpoint()
                if st.global_step >= total_steps:
                    done = True
                    break
            if st.batch_in_epoch < batches_per_epoch:  # stopped by max_steps inside the epoch
                break
            # end of epoch
            st.epoch += 1
            st.batch_in_epoch = 0
            self.scheduler.step()
            row = {f"train_{k}": v for k, v in st.epoch_stats.summary(acc).items()}
            row.update({k: row.pop(f"train_{k}") for k in CASE_COLUMNS})
            row.update(epoch=epoch, step=st.global_step, lr=self.optimizer.param_groups[0]["lr"])
            if self.eval_loader is not None and args.eval_every_epochs and st.epoch % args.eval_every_epochs == 0:
                last_eval = self.evaluate()
                row.update(last_eval)
            st.epoch_stats.reset()
            st.log_history.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
            self._log(row, epoch_csv, prefix="epoch/")
        bar.close()
        if self.eval_loader is not None and not last_eval:
            last_eval = self.evaluate()
        metrics = {"global_step": st.global_step, "epochs": st.epoch, **last_eval}
        if st.log_history:
            last = st.log_history[-1]
            metrics.update({k: v for k, v in last.items() if k.startswith("train_")})
            metrics["dwhs_cases_last_epoch"] = {k: last.get(k) for k in CASE_COLUMNS}
        self.save_model(self.output_dir / "model", metrics)
        acc.end_training()
        return metrics

    def _log_sampling(self, epoch: int, csv_log: CsvLog | None) -> None:
        """Once per epoch: each source's crops, share of the epoch and share of the audio
        (``logs/sampling.csv``, TensorBoard ``sampling/``, and the log)."""
        summary = getattr(self.train_dataset, "summary", None)
        if summary is None or not self.accelerator.is_main_process:
            return
        self.train_dataset.set_epoch(epoch)  # idempotent: the loader did it already
        rows = summary()
        for r in rows:
            r["epoch"] = epoch
            logger.info(
                "epoch %d, source %d (%s): %d crops = %.1f %% of the epoch, %.1f %% of the audio",
                epoch,
                r["source"],
                r["corpus"],
                r["crops"],
                100 * r["crop_share"],
                100 * r["audio_share"],
            )
            if csv_log is not None:
                csv_log.append(r)
        if self.accelerator.log_with:
            scalars = {}
            for r in rows:
                scalars[f"sampling/source{r['source']}_{r['corpus']}_crop_share"] = r["crop_share"]
                scalars[f"sampling/source{r['source']}_{r['corpus']}_distinct_examples"] = r["distinct_examples"]
            self.accelerator.log(scalars, step=self.state.global_step)

    def _log(self, row: dict, csv_log: CsvLog | None, prefix: str) -> None:
        acc = self.accelerator
        if not acc.is_main_process:
            return
        if csv_log is not None:
            csv_log.append(row)
        if acc.log_with:
            scalars = {
                prefix + k: v
                for k, v in row.items()
                if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)) and k != "step"
            }
            acc.log(scalars, step=int(row["step"]))

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation on the eval crops: loss, loss_mss, loss_pe (means over samples that have the
        target), and with ``eval_metrics`` the energy-ratio SDR (dB, mean over non-silent
        references) and RPA/RCA/OA (mir_eval, weighted by reference frames)."""
        from tqdm.auto import tqdm

        if self.eval_loader is None:
            return {}
        acc = self.accelerator
        self.model.eval()
        model = self.unwrapped_model
        rows = []
        bar = tqdm(
            self.eval_loader,
            desc="eval",
            leave=False,
            dynamic_ncols=True,
            disable=not (self.args.progress_bar and acc.is_local_main_process),
        )
        for batch in bar:
            out = self.compute_loss(self.model, batch)
            per_sample = self._eval_rows(model, out, batch)
            rows.append(acc.gather_for_metrics(per_sample).cpu())
        self._set_train_mode()
        r = torch.cat(rows).double().numpy()
        loss_mss, loss_pe, hv, hf, sdr, rpa, rca, oa, n_voiced, n_frames = r.T

        def mean(x, w):
            return float(np.sum(x * w) / np.sum(w)) if np.sum(w) > 0 else math.nan

        out = {
            "eval_loss_mss": mean(loss_mss, hv),
            "eval_loss_pe": mean(loss_pe, hf),
            "eval_samples": int(len(r)),
        }
        out["eval_loss"] = out["eval_loss_mss"] + out["eval_loss_pe"] if hv.sum() and hf.sum() else math.nan
        if self.args.eval_metrics:
            ok = np.isfinite(sdr)
            out["eval_sdr_db"] = float(np.mean(sdr[ok])) if ok.any() else math.nan
            okp = np.isfinite(rpa) & (n_voiced > 0)
            out["eval_rpa"] = mean(np.where(okp, rpa, 0), np.where(okp, n_voiced, 0))
            out["eval_rca"] = mean(np.where(okp, rca, 0), np.where(okp, n_voiced, 0))
            oko = np.isfinite(oa)
            out["eval_oa"] = mean(np.where(oko, oa, 0), np.where(oko, n_frames, 0))
        return out

    def _eval_rows(self, model: MajlModel, out: MajlOutput, batch: Mapping) -> torch.Tensor:
        """(B, 10): loss_mss, loss_pe, has_vocals, has_f0, sdr, rpa, rca, oa, voiced frames, frames."""
        b = out.loss_mss.shape[0]
        nan = torch.full((b,), math.nan, dtype=torch.float64)
        hv = batch.get("has_vocals", torch.ones(b, dtype=torch.bool)).double().cpu()
        hf = batch.get("has_f0", torch.ones(b, dtype=torch.bool)).double().cpu()
        sdr, rpa, rca, oa, nv, nf = (
            nan.clone(),
            nan.clone(),
            nan.clone(),
            nan.clone(),
            torch.zeros(b, dtype=torch.float64),
            torch.zeros(b, dtype=torch.float64),
        )
        if self.args.eval_metrics:
            sdr, rpa, rca, oa, nv, nf = self._metrics(model, out, batch, hv, hf)
        cols = [
            out.loss_mss.detach().double().cpu(),
            out.loss_pe.detach().double().cpu(),
            hv,
            hf,
            sdr,
            rpa,
            rca,
            oa,
            nv,
            nf,
        ]
        return torch.stack(cols, dim=1).to(out.loss_mss.device)

    def _metrics(self, model, out, batch, hv, hf):
        from ..evaluation import energy_ratio_sdr
        from ..pitch.decode import decode_f0

        b = out.loss_mss.shape[0]
        res = torch.full((6, b), math.nan, dtype=torch.float64)
        res[4:] = 0
        est = out.vocals.detach().float().cpu().numpy()
        ref = batch["target_vocals"].detach().float().cpu().numpy()
        for i in range(b):
            if hv[i] > 0:
                score = energy_ratio_sdr(ref[i], est[i])
                if score.ok:
                    res[0, i] = score.sdr
        probs = out.pitch_probabilities.detach().float().cpu()
        pe = model.pitch_estimator
        # threshold 0: every frame keeps its pitch (raw pitch accuracy scores it whatever the voicing)
        est_f0, confidence, _ = decode_f0(probs, model.pitch_bins, threshold=0.0, window=pe.decode_window)
        est_f0 = est_f0.double().numpy()
        est_voicing = (confidence >= model.config.voicing_threshold).double().numpy()
        ref_f0 = batch["target_f0_hz"].detach().double().cpu().numpy()
        times = pe.frame_times(ref_f0.shape[1]).numpy()
        try:
            from ..evaluation import melody_metrics

            for i in range(b):
                if hf[i] > 0:
                    m = melody_metrics(times, ref_f0[i], times, est_f0[i], est_voicing[i], grid_s=None)
                    for j, k in ((1, "rpa"), (2, "rca"), (3, "oa")):
                        if m[k] is not None:
                            res[j, i] = m[k]
                    res[4, i] = m["n_ref_voiced"]
                    res[5, i] = m["n_frames"]
        except ImportError as err:
            if not getattr(self, "_warned_mir_eval", False):
                logger.warning("pitch metrics skipped: %s", err)
                self._warned_mir_eval = True
        return tuple(res)

    # ------------------------------------------------------------------ export
    def save_model(self, folder, metrics: Mapping | None = None) -> Path:
        """``save_pretrained`` (safetensors) + ``metrics.json`` + the resolved training config +
        a generated model card (``README.md``) into ``folder``."""
        from .model_card import write_model_card

        acc = self.accelerator
        folder = Path(folder)
        acc.wait_for_everyone()
        model = self.unwrapped_model
        if acc.is_main_process:
            folder.mkdir(parents=True, exist_ok=True)
            model.save_pretrained(folder, safe_serialization=True)
            write_json_atomic(folder / "metrics.json", _jsonable(metrics or {}))
            self.args.save(folder / "training_config.yaml")
            write_model_card(
                folder,
                model=model,
                args=self.args,
                metrics=metrics or {},
                data_summary=self.data_summary,
                log_history=self.state.log_history,
            )
        acc.wait_for_everyone()
        return folder


def _jsonable(v):
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (np.floating, np.integer)):
        return _jsonable(v.item())
    return v


# ---------------------------------------------------------------------------------------------
# one call: arguments → trained model


def run_training(
    args: TrainingArguments, resume_from_checkpoint=None, *, trainer_class=MajlTrainer, allow_fresh_start: bool = False
) -> dict:
    """Build the model and the data of ``args``, write the resolved config to
    ``<output_dir>/training_config.yaml`` and train (see :meth:`MajlTrainer.train`; ``--resume``
    without a valid checkpoint is an error unless ``allow_fresh_start``)."""
    if (resume_from_checkpoint is True or resume_from_checkpoint == "latest") and not allow_fresh_start:
        folder, _ = find_resumable_checkpoint(Path(args.output_dir) / "checkpoints")
        if folder is None:
            raise FileNotFoundError(
                f"--resume: no valid checkpoint in {Path(args.output_dir) / 'checkpoints'}; to start from the "
                "beginning instead, pass --allow-fresh-start (run_training(..., allow_fresh_start=True)) or "
                "leave out --resume"
            )
    accelerator = make_accelerator(args)
    model = build_model(args)
    with accelerator.main_process_first():  # datasets caches are built once
        train_sources = [(spec, load_source(spec)) for spec in args.train_data]
        eval_sources = [(spec, load_source(spec)) for spec in args.eval_data]
    view_kwargs = model_view_kwargs(model)
    augment = {
        "gain_db": tuple(args.gain_db) if args.gain_db else None,
        "channel_swap_p": args.channel_swap_p,
        "remix_p": args.remix_p,
    }
    train_ds = build_view(
        train_sources,
        **view_kwargs,
        segment_s=args.segment_s,
        crops_per_example=args.crops_per_example,
        seed=args.seed,
        augment=augment,
        sampling=args.source_sampling,
    )
    eval_ds = None
    if eval_sources:
        eval_ds = build_view(
            eval_sources,
            **view_kwargs,
            segment_s=args.eval_segment_s or args.segment_s,
            crops_per_example=args.eval_crops_per_example,
            seed=args.seed + 1,
        )
    summary = {
        "train": [describe_source(s, e) for s, e in train_sources],
        "eval": [describe_source(s, e) for s, e in eval_sources],
        "train_items_per_epoch": len(train_ds),
    }
    for spec, _ in train_sources:
        if spec.get("corpus") == "pseudo":
            summary.setdefault("pseudo_labels", []).append(_pseudo_manifest_summary(spec["path"]))
    if accelerator.is_main_process:
        args.save(Path(args.output_dir) / "training_config.yaml")
    trainer = trainer_class(model, args, train_ds, eval_ds, accelerator=accelerator, data_summary=summary)
    return trainer.train(resume_from_checkpoint, allow_fresh_start=allow_fresh_start)


def _pseudo_manifest_summary(path) -> dict:
    from .pseudo_label import read_pseudo_label_manifest

    m = read_pseudo_label_manifest(path)
    return {
        "path": str(path),
        "model": m.get("model", {}),
        "settings": m.get("settings", {}),
        "examples": len(m.get("examples", [])),
    }


__all__ = [
    "CASE_COLUMNS",
    "LossStatistics",
    "MajlTrainer",
    "TrainingState",
    "build_model",
    "freeze_parts",
    "make_accelerator",
    "read_csv_log",
    "run_training",
    "with_joint_settings",
]
