"""Table 5 of the MAJL paper in one command: every backbone pair × joint method, trained with the
package's trainer, evaluated with its evaluation runner, laid out beside the paper's numbers.

Rows (paper §6.2, Table 5: "Performance with different combinations of modules on the MIR-1K
dataset"), for each pair of separator U (U-Net) / R (ResUNetDecouple+) and pitch estimator
C (CREPE) / H (HarmoF0), in the paper's order U-H, R-H, U-C, R-C:

- ``pipeline``  — each module on its own labels (``joint_method="pipeline"``), MIR-1K train;
- ``naive``     — Eq. 3, L = L_mss + L_pe through the cascade (``joint_method="naive"``);
- ``stage1``    — MAJL-Stage I: DWHS on MIR-1K (``joint_method="dwhs"``);
- ``majl``      — MAJL: stage II, fresh weights of the stage-I architecture (``config_from``) on
  MIR-1K ∪ MUSDB18 + MIR-ST500 pseudo-labelled by that pair's stage-I model, th = 0.7.

Each row is :func:`~majl_hf.training.trainer.run_training` (the ``scripts/train.py`` machinery;
stage II's pseudo-labels by :func:`~majl_hf.training.pseudo_label.run_pseudo_labelling`) and then
:func:`~majl_hf.evaluation.runner.evaluate` (``scripts/evaluate.py``) on the whole MIR-1K test clips
(SDR = length-weighted BSS Eval v3 SDR, GNSDR, RPA, RCA on the 20 ms grid). The settings come from
``configs/table5/{paper,toy}.yaml`` (:func:`load_table5_config`).

Output folder::

    <output_dir>/
      table5.md, table5.json       the table (ours, the paper's, ours − paper), rewritten after each row
      table5_config.yaml           the resolved settings (a resumed run must match them)
      <pair>/<method>/train/       the training run: training_config.yaml, logs/ (train.csv, epochs.csv,
                                   TensorBoard: losses, DWHS case counts, mean ω per case), checkpoints/, model/
      <pair>/<method>/trained.json written when the training has finished
      <pair>/<method>/eval/        metrics.json, per_track.csv, table2.md of the evaluation runner
      <pair>/<method>/result.json  written last: the row is done
      <pair>/pseudo_labels/        stage II's pseudo-labels (complete when their manifest exists)

Resumable row by row: a row with ``result.json`` is not run again; a trained row is only evaluated;
a row killed mid-training continues from its newest valid checkpoint (``save_steps``); stage II
reuses complete pseudo-labels and rebuilds incomplete ones.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Mapping, Sequence

from .arguments import TrainingArguments, apply_overrides, load_config_file

logger = logging.getLogger(__name__)

SEPARATOR_NAMES = {"U": "U-Net", "R": "ResUNetDecouple+"}
PITCH_NAMES = {"C": "CREPE", "H": "HarmoF0"}
PAIRS = ("U-H", "R-H", "U-C", "R-C")  # the paper's order
METHODS = ("pipeline", "naive", "stage1", "majl")
METHOD_LABELS = {
    "pipeline": "Pipeline",
    "naive": "Naive Joint Learning",
    "stage1": "MAJL-Stage I",
    "majl": "MAJL",
}
JOINT_METHOD = {"pipeline": "pipeline", "naive": "naive", "stage1": "dwhs", "majl": "dwhs"}
METRICS = ("sdr", "gnsdr", "rpa", "rca")  # Table 5's columns; RPA/RCA in %
METRIC_LABELS = {"sdr": "SDR", "gnsdr": "GNSDR", "rpa": "RPA", "rca": "RCA"}
PERCENT = ("rpa", "rca")
SCALES = ("toy", "paper")
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "table5"

# MAJL paper, Table 5: (SDR, GNSDR, RPA %, RCA %) on the MIR-1K test set
PAPER_TABLE5 = {
    ("U-H", "pipeline"): (11.43, 8.48, 87.95, 88.57),
    ("U-H", "naive"): (11.05, 8.11, 88.96, 89.20),
    ("U-H", "stage1"): (12.05, 9.11, 90.62, 91.57),
    ("U-H", "majl"): (12.25, 9.29, 91.09, 91.85),
    ("R-H", "pipeline"): (12.06, 9.13, 90.21, 90.61),
    ("R-H", "naive"): (12.04, 9.08, 91.46, 91.61),
    ("R-H", "stage1"): (12.28, 9.33, 92.16, 92.76),
    ("R-H", "majl"): (12.60, 9.64, 92.51, 93.16),
    ("U-C", "pipeline"): (11.43, 8.48, 89.28, 90.41),
    ("U-C", "naive"): (11.78, 8.84, 89.69, 90.44),
    ("U-C", "stage1"): (12.16, 9.19, 91.78, 92.40),
    ("U-C", "majl"): (12.37, 9.41, 92.23, 92.79),
    ("R-C", "pipeline"): (12.06, 9.13, 91.40, 92.07),
    ("R-C", "naive"): (11.91, 8.92, 91.88, 92.15),
    ("R-C", "stage1"): (12.33, 9.36, 93.17, 93.65),
    ("R-C", "majl"): (12.98, 9.99, 94.11, 94.38),
}

TRAINED, RESULT, CONFIG_FILE = "trained.json", "result.json", "table5_config.yaml"


# ---------------------------------------------------------------------------------------------
# settings


@dataclass
class CorpusPaths:
    """Where the corpora are, each in its own layout (see :mod:`majl_hf.data`)."""

    mir1k: str
    musdb18: str | None = None
    mirst500_audio: str | None = None
    mirst500_notes: str | None = None
    medleydb: str | None = None  # accepted and recorded; Table 5's rows read MIR-1K only

    def check(self, rows: Sequence[tuple[str, str]]) -> None:
        needed = {"mir1k": self.mir1k}
        if any(m == "majl" for _, m in rows):
            needed.update(musdb18=self.musdb18, mirst500_audio=self.mirst500_audio, mirst500_notes=self.mirst500_notes)
        missing = [k for k, v in needed.items() if not v]
        if missing:
            raise ValueError(f"the MAJL rows need {', '.join('--' + k.replace('_', '-') for k in missing)}")
        for k, v in needed.items():
            if not Path(v).exists():
                raise FileNotFoundError(f"{k}: {v} does not exist")


def load_table5_config(scale: str = "paper", path=None, overrides: Sequence[str] | Mapping = ()) -> dict:
    """The runner's settings: ``configs/table5/<scale>.yaml`` (or ``path``) with ``key=value``
    overrides (dotted keys, YAML values, as ``scripts/train.py --set``)."""
    if path is None:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        path = CONFIG_DIR / f"{scale}.yaml"
    config = apply_overrides(load_config_file(path), overrides)
    for key in ("separators", "pitch_estimators", "training", "mir1k"):
        if key not in config:
            raise ValueError(f"{path}: the Table 5 config needs a {key!r} section")
    for letter in ("U", "R"):
        if letter not in config["separators"]:
            raise ValueError(f"{path}: separators.{letter} is missing")
    for letter in ("C", "H"):
        if letter not in config["pitch_estimators"]:
            raise ValueError(f"{path}: pitch_estimators.{letter} is missing")
    return config


def resolve_backbone(spec: Mapping) -> dict:
    """A backbone config dict (``model_type`` + every field) from a spec; ``preset: name`` takes
    the config class's ``from_preset(name)`` (or ``tiny()`` for ``preset: tiny``), other keys override."""
    from ..models import BACKBONES, config_class

    spec = dict(spec)
    model_type = spec.pop("model_type", None)
    if model_type not in BACKBONES:
        raise ValueError(f"backbone spec {spec} needs a registered model_type, one of {sorted(BACKBONES)}")
    cls = config_class(model_type)
    preset = spec.pop("preset", None)
    if preset is None:
        config = cls(**spec)
    elif hasattr(cls, "from_preset"):
        config = cls.from_preset(preset, **spec)
    elif preset == "tiny" and hasattr(cls, "tiny"):
        config = cls.tiny(**spec)
    else:
        raise ValueError(f"{cls.__name__} has no preset {preset!r}")
    out = config.to_dict()
    out.pop("transformers_version", None)
    out["model_type"] = model_type
    return out


def model_config(config: Mapping, pair: str, method: str) -> dict:
    """The ``MajlConfig`` keyword arguments of a row (pipeline / naive / stage-I)."""
    sep, pe = pair.split("-")
    return {
        **copy.deepcopy(config.get("model", {})),
        "separator_config": resolve_backbone(config["separators"][sep]),
        "pitch_config": resolve_backbone(config["pitch_estimators"][pe]),
        "joint_method": JOINT_METHOD[method],
    }


def parse_rows(rows: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """Rows to run, in the paper's order: tokens ``all``, a pair (``R-C``), a method (``majl``) or
    ``pair/method`` (``R-C/majl``). A MAJL row brings its pair's MAJL-Stage I row (its stage-I model)."""
    if not rows:
        rows = ["all"]
    wanted = set()
    for token in rows:
        for t in str(token).split(","):
            t = t.strip()
            if not t:
                continue
            if t == "all":
                wanted |= {(p, m) for p in PAIRS for m in METHODS}
            elif "/" in t:
                p, m = t.split("/", 1)
                if p not in PAIRS or m not in METHODS:
                    raise ValueError(f"row {t!r}: pair one of {PAIRS}, method one of {METHODS}")
                wanted.add((p, m))
            elif t in PAIRS:
                wanted |= {(t, m) for m in METHODS}
            elif t in METHODS:
                wanted |= {(p, t) for p in PAIRS}
            else:
                raise ValueError(f"row {t!r}: 'all', a pair {PAIRS}, a method {METHODS} or pair/method")
    wanted |= {(p, "stage1") for p, m in wanted if m == "majl"}
    return [(p, m) for p in PAIRS for m in METHODS if (p, m) in wanted]


def mir1k_source(config: Mapping, paths: CorpusPaths, split: str, cache_dir) -> dict:
    return {"corpus": "mir1k", "root": str(paths.mir1k), "split": split, **config["mir1k"],
            "cache_dir": str(cache_dir)}


def training_arguments(config: Mapping, paths: CorpusPaths, output_dir, pair: str, method: str) -> TrainingArguments:
    """The :class:`~.arguments.TrainingArguments` of a row (``<output_dir>/<pair>/<method>/train``)."""
    out = Path(output_dir)
    data = {**copy.deepcopy(config["training"]), "output_dir": str(out / pair / method / "train")}
    data["model_name"] = f"table5-{pair}-{method}"
    train = [mir1k_source(config, paths, "train", out / "cache")]
    if method == "majl":
        stage2 = config.get("stage2", {})
        data.update(copy.deepcopy(stage2.get("training", {})))
        data["config_from"] = str(out / pair / "stage1" / "train" / "model")
        data["config_overrides"] = dict(stage2.get("config_overrides", {}))
        train.append({"corpus": "pseudo", "path": str(out / pair / "pseudo_labels")})
    else:
        data["model_config"] = model_config(config, pair, method)
    data["train_data"] = train
    data.setdefault("eval_data", [])
    return TrainingArguments.from_dict(data)


def pseudo_label_arguments(config: Mapping, paths: CorpusPaths, output_dir, pair: str, overwrite: bool = False):
    """The pseudo-labelling of MUSDB18 + MIR-ST500 (train) by ``pair``'s MAJL-Stage I model."""
    from .pseudo_label import PseudoLabelArguments

    out = Path(output_dir)
    cache = str(out / "cache")
    data = [
        {"corpus": "musdb18", "root": str(paths.musdb18), **config.get("musdb18", {}), "cache_dir": cache},
        {"corpus": "mirst500", "audio_root": str(paths.mirst500_audio), "notes_path": str(paths.mirst500_notes),
         **config.get("mirst500", {}), "cache_dir": cache},
    ]
    return PseudoLabelArguments(
        model=str(out / pair / "stage1" / "train" / "model"),
        output_dir=str(out / pair / "pseudo_labels"),
        data=data,
        overwrite=overwrite,
        **config.get("pseudo_label", {}),
    )


def evaluation_settings(config: Mapping, paths: CorpusPaths, pair: str, method: str):
    """``scripts/evaluate.py``'s settings for a row: the whole MIR-1K test clips of the paper's split."""
    from ..evaluation.runner import EvaluationSettings

    mir = dict(config["mir1k"])
    mir.pop("split", None)
    return EvaluationSettings(corpus="mir1k", root=str(paths.mir1k), split="test", corpus_kwargs=mir,
                              method=METHOD_LABELS[method], extra=pair, **config.get("evaluation", {}))


# ---------------------------------------------------------------------------------------------
# files


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def read_results(output_dir) -> dict:
    """``{(pair, method): result}`` of the finished rows under ``output_dir``."""
    out = {}
    for p in PAIRS:
        for m in METHODS:
            r = _read_json(Path(output_dir) / p / m / RESULT)
            if r is not None:
                out[(p, m)] = r
    return out


# ---------------------------------------------------------------------------------------------
# the table


def _fmt(v, digits: int = 2) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def table5_rows(results: Mapping) -> list[dict]:
    """Every row of Table 5 (paper order): ours (None when not run), the paper's, ours − paper."""
    rows = []
    for p in PAIRS:
        sep, pe = p.split("-")
        for m in METHODS:
            res = results.get((p, m))
            ours = (res or {}).get("metrics", {})
            row = {"pair": p, "mss": sep, "pe": pe, "method": m, "joint_method": METHOD_LABELS[m],
                   "status": "done" if res else "missing"}
            for k, paper in zip(METRICS, PAPER_TABLE5[(p, m)]):
                v = ours.get(k)
                v = None if v is None or not math.isfinite(v) else float(v)
                row[k] = v
                row[f"{k}_paper"] = paper
                row[f"{k}_diff"] = None if v is None else v - paper
            rows.append(row)
    return rows


def table5_markdown(results: Mapping, title: str | None = None) -> str:
    """Table 5 in the paper's layout (MSS, PE, Joint Method; SDR, GNSDR in dB; RPA, RCA in %),
    each metric as ours | paper | Δ = ours − paper; ``—`` for rows not run."""
    head = ["MSS", "PE", "Joint Method"]
    for k in METRICS:
        unit = " (%)" if k in PERCENT else ""
        head += [f"{METRIC_LABELS[k]}{unit} ours", "paper", "Δ"]
    lines = []
    if title:
        lines += [title, ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * 3 * len(METRICS)) + "|"]
    last_pair = None
    for r in table5_rows(results):
        first = r["pair"] != last_pair
        last_pair = r["pair"]
        cells = [r["mss"] if first else "", r["pe"] if first else "", r["joint_method"]]
        for k in METRICS:
            d = r[f"{k}_diff"]
            cells += [_fmt(r[k]), _fmt(r[f"{k}_paper"]), "—" if d is None else f"{d:+.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "U = U-Net, R = ResUNetDecouple+, H = HarmoF0, C = CREPE. SDR: BSS Eval v3, length-weighted over the "
        "MIR-1K test clips (dB); GNSDR: length-weighted NSDR (dB); RPA / RCA: 50 cents, 20 ms grid (%). "
        "Paper: MAJL, Table 5. Δ = ours − paper.",
    ]
    return "\n".join(lines) + "\n"


def write_table(output_dir, results: Mapping, *, meta: Mapping | None = None) -> dict:
    """Write ``table5.md`` and ``table5.json``; returns their paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "table5.md"
    tmp = md.with_name(md.name + ".tmp")
    tmp.write_text(table5_markdown(results, "# MAJL Table 5: ours beside the paper"), encoding="utf-8")
    tmp.replace(md)
    data = {"rows": table5_rows(results), "metrics": list(METRICS), "percent": list(PERCENT), **(meta or {})}
    _write_json(out / "table5.json", data)
    return {"markdown": str(md), "json": str(out / "table5.json")}


# ---------------------------------------------------------------------------------------------
# the runner


class Table5Runner:
    """Run rows of Table 5 into ``output_dir`` (module docstring), resumably.

    Args:
        config: :func:`load_table5_config`'s dict.
        paths: the corpora.
        output_dir: the run's folder.
        trainer_class: the trainer (default :class:`~.trainer.MajlTrainer`).
        device: torch device for the evaluation (default: the first accelerator, else CPU).
        progress: progress bars of the evaluation and pseudo-labelling.
        allow_config_change: resume although ``table5_config.yaml`` holds other settings.
    """

    def __init__(self, config: Mapping, paths: CorpusPaths, output_dir, *, trainer_class=None, device=None,
                 progress: bool = False, allow_config_change: bool = False):
        from .trainer import MajlTrainer

        self.config = copy.deepcopy(dict(config))
        self.paths = paths
        self.output_dir = Path(output_dir)
        self.trainer_class = trainer_class or MajlTrainer
        self.device = device
        self.progress = progress
        self.allow_config_change = allow_config_change

    def row_dir(self, pair: str, method: str) -> Path:
        return self.output_dir / pair / method

    def _check_config(self) -> None:
        import yaml

        path = self.output_dir / CONFIG_FILE
        if path.is_file():
            before = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if before.get("settings") != json.loads(json.dumps(self.config)) and not self.allow_config_change:
                raise ValueError(
                    f"{path} holds other settings than this run's: finished rows were made with those. Use "
                    "another --output-dir, or --allow-config-change to continue anyway"
                )
        self.output_dir.mkdir(parents=True, exist_ok=True)
        record = {"settings": self.config, "corpora": {k: v for k, v in vars(self.paths).items()}}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(yaml.safe_dump(json.loads(json.dumps(record)), sort_keys=False, allow_unicode=True), "utf-8")
        tmp.replace(path)

    def run(self, rows: Sequence[str] | None = None) -> dict:
        """Run ``rows`` (:func:`parse_rows`); returns ``{(pair, method): result}`` of every
        finished row in the folder, and writes the table after each row."""
        selected = parse_rows(rows)
        self.paths.check(selected)
        self._check_config()
        logger.info("Table 5: %d rows into %s", len(selected), self.output_dir)
        for pair, method in selected:
            self.run_row(pair, method)
            self.write_table()
        return self.write_table()

    def write_table(self) -> dict:
        results = read_results(self.output_dir)
        write_table(self.output_dir, results, meta={"output_dir": str(self.output_dir)})
        return results

    def run_row(self, pair: str, method: str) -> dict:
        """Train (or resume, or skip when trained) and evaluate one row; returns its result."""
        folder = self.row_dir(pair, method)
        done = _read_json(folder / RESULT)
        if done is not None:
            logger.info("row %s/%s: done already (%s)", pair, method, folder / RESULT)
            return done
        started = time.time()
        training = self.train_row(pair, method)
        result = self.evaluate_row(pair, method)
        summary = result["summary"]
        metrics = {k: summary.get(k) for k in METRICS}
        for k in PERCENT:
            if metrics[k] is not None:
                metrics[k] = 100.0 * metrics[k]
        row = {
            "pair": pair,
            "method": method,
            "joint_method": METHOD_LABELS[method],
            "metrics": metrics,
            "paper": dict(zip(METRICS, PAPER_TABLE5[(pair, method)])),
            "n_test_clips": summary.get("n_tracks"),
            "training": {k: training.get(k) for k in ("global_step", "epochs", "train_loss", "resumed_from")},
            "model": str(folder / "train" / "model"),
            "evaluation": str(folder / "eval" / "metrics.json"),
            "seconds": round(time.time() - started, 1),
        }
        _write_json(folder / RESULT, row)
        logger.info("row %s/%s: SDR %s, GNSDR %s, RPA %s, RCA %s", pair, method,
                    *(_fmt(metrics[k]) for k in METRICS))
        return row

    def train_row(self, pair: str, method: str) -> dict:
        """The row's training (skipped when ``trained.json`` exists; resumed from the newest valid
        checkpoint when one exists; stage II first makes or reuses the pair's pseudo-labels)."""
        from .checkpoint import find_resumable_checkpoint
        from .trainer import run_training

        folder = self.row_dir(pair, method)
        trained = _read_json(folder / TRAINED)
        if trained is not None:
            logger.info("row %s/%s: trained already, evaluating", pair, method)
            return trained
        if method == "majl":
            if _read_json(self.row_dir(pair, "stage1") / TRAINED) is None:
                self.train_row(pair, "stage1")
            self.pseudo_labels(pair)
        args = training_arguments(self.config, self.paths, self.output_dir, pair, method)
        checkpoint, _ = find_resumable_checkpoint(Path(args.output_dir) / "checkpoints")
        if checkpoint is not None:
            logger.info("row %s/%s: resuming from %s", pair, method, checkpoint)
        else:
            logger.info("row %s/%s: training", pair, method)
        metrics = run_training(args, resume_from_checkpoint=None if checkpoint is None else str(checkpoint),
                               trainer_class=self.trainer_class)
        record = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
        record["resumed_from"] = None if checkpoint is None else str(checkpoint)
        record["dwhs_cases_last_epoch"] = metrics.get("dwhs_cases_last_epoch")
        _write_json(folder / TRAINED, record)
        return record

    def pseudo_labels(self, pair: str) -> Path:
        """The pair's stage-II pseudo-labels: reused when complete and valid, else (re)made."""
        from .pseudo_label import run_pseudo_labelling, verify_pseudo_labels

        folder = self.output_dir / pair / "pseudo_labels"
        if folder.is_dir():
            ok, why = verify_pseudo_labels(folder)
            if ok:
                logger.info("pseudo-labels of %s: complete already (%s)", pair, folder)
                return folder
            logger.warning("pseudo-labels of %s in %s are incomplete (%s): labelling again", pair, folder, why)
        args = pseudo_label_arguments(self.config, self.paths, self.output_dir, pair, overwrite=True)
        return run_pseudo_labelling(args, progress_bar=self.progress)

    def evaluate_row(self, pair: str, method: str) -> dict:
        """``scripts/evaluate.py`` on the row's model: the whole MIR-1K test clips."""
        from ..evaluation.runner import evaluate

        folder = self.row_dir(pair, method)
        settings = evaluation_settings(self.config, self.paths, pair, method)
        command = ["python", "scripts/evaluate.py", "--model", str(folder / "train" / "model"), "--corpus", "mir1k",
                   "--root", str(self.paths.mir1k), "--split", "test", "--method", METHOD_LABELS[method],
                   "--extra", pair, "--output-dir", str(folder / "eval")]
        command += [f"--corpus-arg={k}={json.dumps(v)}" for k, v in settings.corpus_kwargs.items()]
        return evaluate(str(folder / "train" / "model"), settings, folder / "eval", device=self.device,
                        progress=self.progress, command=command)


def run_table5(paths: CorpusPaths, output_dir, *, scale: str = "paper", config_path=None,
               overrides: Sequence[str] = (), rows: Sequence[str] | None = None, **runner_kwargs) -> dict:
    """:class:`Table5Runner` over ``rows`` with the settings of ``scale`` (or ``config_path``)."""
    config = load_table5_config(scale, config_path, overrides)
    return Table5Runner(config, paths, output_dir, **runner_kwargs).run(rows)


# ---------------------------------------------------------------------------------------------
# scale: the runner's data path and training speed


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure_data_path(config: Mapping, paths: CorpusPaths, output_dir, *, pair: str = "R-C", method: str = "stage1",
                      train_steps: int = 3, epochs: int = 1) -> dict:
    """What a row's data path costs: building the corpus cache (``to_dataset``), an epoch of the
    DataLoader alone (crops + collation, batches of ``batch_size``, no model), peak RSS after each,
    and the row's training speed (``train_steps`` optimiser steps through :func:`run_training`,
    the first one left out as warm-up). The numbers go to ``<output_dir>/measure.json`` after each
    phase and are returned."""
    import torch

    from ..configuration_majl import MajlConfig
    from ..data import collate_training
    from .data import EpochShuffleSampler, build_view, load_source, model_view_kwargs
    from .trainer import read_csv_log, run_training

    out = Path(output_dir)
    if method == "majl":
        raise ValueError("measure a row trained from a model_config (pipeline, naive, stage1)")
    args = training_arguments(config, paths, out, pair, method)
    report = {"pair": pair, "method": method, "batch_size": args.batch_size, "segment_s": args.segment_s,
              "torch_threads": torch.get_num_threads(), "rss_start_mib": peak_rss_mib()}
    t = time.perf_counter()
    sources = [(spec, load_source(spec)) for spec in args.train_data]
    report["dataset_build_s"] = time.perf_counter() - t
    report["examples"] = sum(len(e) for _, e in sources)
    report["rss_after_dataset_mib"] = peak_rss_mib()
    _write_json(out / "measure.json", report)  # written after each phase: a killed measurement keeps its numbers
    mc = MajlConfig(**args.model_config)  # the view needs the model's rates and grid only
    shape = SimpleNamespace(pitch_estimator=SimpleNamespace(config=mc.pitch_config),
                            sampling_rate=mc.separator_config.sampling_rate,
                            audio_channels=mc.separator_config.audio_channels)
    view = build_view(sources, **model_view_kwargs(shape), segment_s=args.segment_s,
                      crops_per_example=args.crops_per_example, seed=args.seed, sampling=args.source_sampling)
    global_batch = args.batch_size * args.gradient_accumulation_steps
    loader = torch.utils.data.DataLoader(view, batch_size=global_batch, drop_last=True,
                                         sampler=EpochShuffleSampler(len(view), seed=args.seed),
                                         collate_fn=collate_training, num_workers=args.num_workers)
    times = []
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        view.set_epoch(epoch)
        t = time.perf_counter()
        n = sum(1 for _ in loader)
        times.append(time.perf_counter() - t)
    report.update(loader_batches=n, loader_epoch_s=min(times), loader_epoch_times_s=times,
                  rss_after_loader_mib=peak_rss_mib())
    _write_json(out / "measure.json", report)
    if train_steps:
        data = args.to_dict()
        data.update(output_dir=str(out / "speed"), max_steps=train_steps, num_epochs=1, save_steps=0,
                    logging_steps=1, report_to=["csv"], progress_bar=False)
        t = time.perf_counter()
        run_training(TrainingArguments.from_dict(data))
        report["train_run_s"] = time.perf_counter() - t
        rows = read_csv_log(out / "speed" / "logs" / "train.csv")
        rates = [r["samples_per_s"] / global_batch for r in rows]  # optimiser steps per second
        timed = rates[1:] or rates
        report.update(global_batch=global_batch, gradient_accumulation_steps=args.gradient_accumulation_steps,
                      step_s=[1.0 / r for r in rates], steps_per_s=len(timed) / sum(1.0 / r for r in timed),
                      rss_after_training_mib=peak_rss_mib())
    report["cpu_count"] = os.cpu_count()
    _write_json(out / "measure.json", report)
    return report


__all__ = [
    "CorpusPaths",
    "METHODS",
    "METHOD_LABELS",
    "PAIRS",
    "PAPER_TABLE5",
    "Table5Runner",
    "evaluation_settings",
    "load_table5_config",
    "measure_data_path",
    "model_config",
    "parse_rows",
    "peak_rss_mib",
    "pseudo_label_arguments",
    "read_results",
    "resolve_backbone",
    "run_table5",
    "table5_markdown",
    "table5_rows",
    "training_arguments",
    "write_table",
]
