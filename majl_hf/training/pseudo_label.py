"""Stage I → II of MAJL (paper §4.1, MAJL_SPEC §4): pseudo-labels and their frame confidences for
single-labelled data, written as an on-disk dataset.

For each example (flags of the schema in :mod:`majl_hf.data.base`):

- separation-only (``has_vocals`` and not ``has_f0``, e.g. MUSDB18): the pitch of the **true**
  vocals by the stage-I pitch estimator becomes the pitch label; ``confidence_pe`` = Eq. 4
  confidence of that pitch per frame, ``confidence_mss`` = 1 (Eq. 6);
- pitch-only (``has_f0`` and not ``has_vocals``, e.g. MIR-ST500): the stage-I separator's vocals
  of the mixture become the separation label; ``confidence_mss`` = Eq. 4 confidence of
  PE(pseudo vocals) per frame, ``confidence_pe`` = 1 (Eq. 7);
- fully-labelled examples are copied with both confidences 1 (Eq. 5) when
  ``include_fully_labelled``, else left out (train on their own source); unlabelled ones are left out.

Whole tracks go through the package's long-audio inference (:func:`majl_hf.inference.apply.apply_majl`
for the cascade, :func:`~majl_hf.inference.apply.pitch_long` for the pitch of true vocals): chunks of
``chunk_length_s`` seconds with ``overlap_s`` of context each side (default: the separator's receptive
field; the names are apply_majl's and the pipeline's), pitch frame-exact on the global grid, so the
labels do not depend on the chunking. The pitch is decoded as everywhere else in the package
(:func:`majl_hf.pitch.decode.decode_f0` with the pitch estimator's ``decode_window``).

Output folder::

    <output_dir>/
      pseudo_labels_manifest.json      format, settings, labelling model (path, weights sha256),
                                       sources, per-example statistics, shards with sha256;
                                       written last: its presence marks a complete folder
      shards/shard-00000-of-00002.arrow   one Arrow file per process (datasets' format)

Rows have the schema's keys (audio at the labelling model's rate and channels, labels on the
20 ms grid) plus ``confidence_mss``, ``confidence_pe`` (float32 per grid frame), ``pseudo_label``
(``"f0"``, ``"vocals"`` or ``"none"``) and ``source_index``. :func:`load_pseudo_labels` verifies
the hashes and returns them as one ``datasets.Dataset`` in source order, whatever the number of
processes that wrote them. The threshold ``th`` is *not* applied here: the stage-II model applies
its ``pseudo_label_threshold`` (default 0.7) to these confidences.

Distributed: the same code labels a folder on one CPU (``python scripts/pseudo_label.py``) or a
corpus on many GPUs (``accelerate launch scripts/pseudo_label.py``): examples are dealt out with
``accelerator.split_between_processes``, each process writes its own shard, the statistics are
gathered and the main process writes the manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import soxr
import torch

from ..audio import convert_channels
from ..data.base import GRID_HOP_S, features, grid_times, n_grid_frames
from ..pitch.decode import decode_f0, frame_confidence
from ..pitch.labels import resample_f0
from ..utils import check_range, require, sha256_file, write_json_atomic
from .arguments import apply_overrides, load_config_file

logger = logging.getLogger(__name__)

FORMAT = "majl-pseudo-labels"
FORMAT_VERSION = 1
MANIFEST = "pseudo_labels_manifest.json"
SHARDS = "shards"
KIND_F0, KIND_VOCALS, KIND_NONE = "f0", "vocals", "none"
#: knobs renamed to the names apply_majl and the pipeline use (old name → new); the old ones are still
#: accepted, with a DeprecationWarning, for one release
RENAMED = {"chunk_s": "chunk_length_s", "context_s": "overlap_s"}


class _Unset:
    def __repr__(self):
        return "<not given>"


_UNSET = _Unset()  # the default of a deprecated name: not given


def _warn_renamed(old: str, stacklevel: int) -> None:
    warnings.warn(f"{old} is deprecated and will be removed in the next release: use {RENAMED[old]} (the name "
                  "apply_majl and the pipeline use)", DeprecationWarning, stacklevel=stacklevel + 1)


def _both(old: str) -> str:
    return f"{old} and {RENAMED[old]} are the same setting ({old} is its old name): give only {RENAMED[old]}"


def _renamed(old: str, old_value, new_value, new_default, stacklevel: int = 3):
    """The value of a renamed knob given (maybe) under its old name ``old``."""
    if old_value is _UNSET:
        return new_value
    if new_value != new_default:
        raise TypeError(_both(old))
    _warn_renamed(old, stacklevel)
    return old_value


def _upgrade_keys(data: Mapping, *, old_wins: bool = False) -> dict:
    """``data`` with the old knob names replaced by the new ones (a DeprecationWarning each). Where
    both stand: the old one wins when it was just set (``old_wins``, an override), else an error."""
    data = dict(data)
    for old, new in RENAMED.items():
        if old in data:
            if new in data and not old_wins:
                raise ValueError(_both(old))
            _warn_renamed(old, 3)
            data[new] = data.pop(old)
    return data


# ---------------------------------------------------------------------------------------------
# settings


@dataclass
class PseudoLabelArguments:
    """What :func:`run_pseudo_labelling` needs (also the YAML of ``scripts/pseudo_label.py``).

    Args:
        model: the stage-I model (a saved folder or Hub id).
        output_dir: the folder to write (must be empty or absent unless ``overwrite``).
        data: data sources (see :mod:`majl_hf.training.data`), e.g. MUSDB18 and MIR-ST500.
        chunk_length_s: seconds of audio per separator chunk (None or 0 = whole tracks at once).
        overlap_s: seconds of context each side of a separator chunk (None = the separator's
            receptive field).
        chunk_s, context_s: the old names of ``chunk_length_s`` and ``overlap_s`` (deprecated: a
            DeprecationWarning; also accepted in YAML/JSON files and overrides).
        frames_per_batch: pitch frames per pitch-estimator call.
        include_fully_labelled: copy fully-labelled examples with confidences 1 (else skip them).
        resample_quality: soxr quality for bringing the audio to the model's rate.
        overwrite: replace an existing output folder.
    """

    model: str = ""
    output_dir: str = "outputs/pseudo-labels"
    data: list = field(default_factory=list)
    chunk_length_s: float | None = 30.0
    overlap_s: float | None = None
    frames_per_batch: int = 512
    include_fully_labelled: bool = False
    resample_quality: str = "HQ"
    overwrite: bool = False
    chunk_s: dataclasses.InitVar[float | None] = _UNSET  # deprecated names (not fields: not in to_dict)
    context_s: dataclasses.InitVar[float | None] = _UNSET

    def __post_init__(self, chunk_s=_UNSET, context_s=_UNSET):
        default = {f.name: f.default for f in dataclasses.fields(self)}
        self.chunk_length_s = _renamed("chunk_s", chunk_s, self.chunk_length_s, default["chunk_length_s"], 4)
        self.overlap_s = _renamed("context_s", context_s, self.overlap_s, default["overlap_s"], 4)
        if not self.model:
            raise ValueError("model is empty: give the stage-I model (a saved folder or Hub id)")
        if not self.data:
            raise ValueError("data is empty: give at least one data source to label")
        if self.chunk_length_s is not None:
            check_range("chunk_length_s", self.chunk_length_s, 0.0, None)
        if self.overlap_s is not None:
            check_range("overlap_s", self.overlap_s, 0.0, None)
        check_range("frames_per_batch", self.frames_per_batch, 1, None)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> "PseudoLabelArguments":
        known = {f.name for f in dataclasses.fields(cls)} | set(RENAMED)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown pseudo-labelling argument(s) {unknown}; known: {sorted(known - set(RENAMED))}")
        return cls(**_upgrade_keys(data))

    @classmethod
    def from_file(cls, path=None, *overrides) -> "PseudoLabelArguments":
        """Read ``path`` (YAML/JSON, or None), then apply each of ``overrides`` in turn (a list of
        ``key=value`` strings or a mapping, as :func:`~.arguments.apply_overrides`)."""
        data = _upgrade_keys(load_config_file(path)) if path is not None else {}
        for o in overrides:
            data = _upgrade_keys(apply_overrides(data, o or []), old_wins=True)
        return cls.from_dict(data)


# ---------------------------------------------------------------------------------------------
# the model side


def weights_sha256(model: torch.nn.Module) -> str:
    """sha256 over the model's state dict (names, dtypes, shapes, bytes), independent of file format."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _model_record(model, name_or_path: str | None) -> dict:
    record = {
        "name_or_path": name_or_path or getattr(model, "name_or_path", None) or "",
        "weights_sha256": weights_sha256(model),
        "separator": model.separator.config.model_type,
        "pitch_estimator": model.pitch_estimator.config.model_type,
        "joint_method": model.config.joint_method,
        "sampling_rate": model.sampling_rate,
        "audio_channels": model.audio_channels,
    }
    folder = Path(record["name_or_path"]) if record["name_or_path"] else None
    if folder is not None and folder.is_dir():
        record["files_sha256"] = {p.name: sha256_file(p) for p in sorted(folder.iterdir())
                                  if p.is_file() and p.suffix in (".json", ".safetensors", ".bin")}
    return record


# ---------------------------------------------------------------------------------------------
# one example


def _as_numpy_example(ex) -> dict:
    return {k: (np.asarray(v) if isinstance(v, (list, np.ndarray)) else v) for k, v in dict(ex).items()}


def _to_model_audio(audio: np.ndarray, sr: int, model, quality: str) -> np.ndarray:
    audio = convert_channels(np.asarray(audio, dtype=np.float32), model.audio_channels)
    if sr != model.sampling_rate:
        audio = soxr.resample(np.ascontiguousarray(audio.T), sr, model.sampling_rate, quality=quality).T
    return np.ascontiguousarray(audio, dtype=np.float32)


def _fit(values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    m = min(n, len(values))
    out[:m] = values[:m]
    return out


def _to_grid(model, probs: torch.Tensor, n_samples: int):
    """PE activations (T, bins) → (f0 on the 20 ms grid, Eq. 4 confidence on the grid)."""
    pe = model.pitch_estimator
    hop_s = pe.config.hop_length / pe.config.sampling_rate
    probs = probs.float()
    f0, _, _ = decode_f0(probs, model.pitch_bins, threshold=model.config.voicing_threshold, window=pe.decode_window)
    f0 = f0.numpy()
    conf = frame_confidence(probs).numpy()
    grid = grid_times(n_samples, model.sampling_rate)
    if abs(hop_s - GRID_HOP_S) < 1e-12:
        return _fit(f0, len(grid)), _fit(conf, len(grid))
    times = pe.frame_times(len(f0)).numpy()
    f0_grid = resample_f0(times, f0.astype(np.float64), grid, max_gap_s=0.5 * hop_s + 1e-6).astype(np.float32)
    idx = np.clip(np.floor(grid / hop_s + 0.5).astype(np.int64), 0, len(conf) - 1)
    return f0_grid, conf[idx].astype(np.float32)


def label_kind(example: Mapping) -> str:
    hv, hf = bool(example["has_vocals"]), bool(example["has_f0"])
    if hv and not hf:
        return KIND_F0
    if hf and not hv:
        return KIND_VOCALS
    return KIND_NONE


@torch.no_grad()
def label_example(model, example: Mapping, *, chunk_length_s: float | None = 30.0, overlap_s: float | None = None,
                  frames_per_batch: int = 512, resample_quality: str = "HQ", chunk_s=_UNSET, context_s=_UNSET) -> dict:
    """The pseudo-labelled copy of one schema example (see the module docstring); the model must be
    in eval mode. Audio comes back at the model's rate and channels. The mixture goes through the
    cascade at its own level, as the training crops do (no inference-time level normalisation): the
    pseudo vocals are then what the stage-I model gives on the signals it was trained on.
    ``chunk_s`` / ``context_s``: deprecated names of ``chunk_length_s`` / ``overlap_s``."""
    from ..inference.apply import apply_majl, pitch_long

    chunk_length_s = _renamed("chunk_s", chunk_s, chunk_length_s, 30.0)
    overlap_s = _renamed("context_s", context_s, overlap_s, None)
    ex = _as_numpy_example(example)
    kind = label_kind(ex)
    sr = int(ex["sampling_rate"])
    device = next(model.parameters()).device
    mixture = _to_model_audio(ex["mixture"], sr, model, resample_quality)
    n = mixture.shape[1]
    n_grid = n_grid_frames(n, model.sampling_rate)
    ones = np.ones(n_grid, dtype=np.float32)
    if kind == KIND_F0:  # MSS-only data: pitch labels from the PE on the true vocals (Eq. 6)
        vocals = _to_model_audio(ex["vocals"], sr, model, resample_quality)
        probs, _, _ = pitch_long(model, torch.from_numpy(vocals).to(device), frames_per_batch)
        f0, conf = _to_grid(model, probs, n)
        confidence_mss, confidence_pe = ones, conf
    elif kind == KIND_VOCALS:  # PE-only data: vocals from the separator, confidence of their pitch (Eq. 7)
        with torch.no_grad():
            res = apply_majl(model, torch.from_numpy(mixture).to(device), chunk_length_s=chunk_length_s or 0,
                             overlap_s=overlap_s, frames_per_batch=frames_per_batch, normalize_level=False)
        vocals = res.vocals.float().cpu().numpy().reshape(-1, res.vocals.shape[-1])[:, :n]
        _, conf = _to_grid(model, res.pitch_probabilities[0], n)
        f0 = _fit(np.asarray(ex["f0_hz"], dtype=np.float32), n_grid)
        confidence_mss, confidence_pe = conf, ones
    else:  # fully labelled: both confidences 1 (Eq. 5)
        vocals = _to_model_audio(ex["vocals"], sr, model, resample_quality)
        f0 = _fit(np.asarray(ex["f0_hz"], dtype=np.float32), n_grid)
        confidence_mss, confidence_pe = ones, ones
    return {
        "id": str(ex["id"]),
        "corpus": str(ex["corpus"]),
        "split": str(ex["split"]),
        "mixture": mixture,
        "sampling_rate": int(model.sampling_rate),
        "vocals": np.ascontiguousarray(vocals, dtype=np.float32),
        "has_vocals": True,
        "f0_hz": f0,
        "times_s": grid_times(n, model.sampling_rate),
        "has_f0": True,
        "voicing": f0 > 0,
        "duration_s": n / float(model.sampling_rate),
        "licence": str(ex["licence"]),
        "confidence_mss": confidence_mss,
        "confidence_pe": confidence_pe,
        "pseudo_label": kind,
    }


def pseudo_features():
    ds = require("datasets", "train")
    feats = features()
    feats["confidence_mss"] = ds.List(ds.Value("float32"))
    feats["confidence_pe"] = ds.List(ds.Value("float32"))
    feats["pseudo_label"] = ds.Value("string")
    feats["source_index"] = ds.Value("int64")
    return feats


def _stats(row: Mapping, threshold: float) -> dict:
    kind = row["pseudo_label"]
    conf = row["confidence_pe"] if kind == KIND_F0 else row["confidence_mss"]
    return {
        "source_index": int(row["source_index"]),
        "id": row["id"],
        "corpus": row["corpus"],
        "split": row["split"],
        "pseudo_label": kind,
        "frames": int(len(conf)),
        "mean_confidence": float(np.mean(conf)) if len(conf) else None,
        "fraction_above_threshold": float(np.mean(np.asarray(conf) >= threshold)) if len(conf) else None,
        "voiced_fraction": float(np.mean(np.asarray(row["f0_hz"]) > 0)) if len(row["f0_hz"]) else None,
    }


# ---------------------------------------------------------------------------------------------
# a corpus


def pseudo_label(model, sources: Sequence, output_dir, *, accelerator=None, chunk_length_s: float | None = 30.0,
                 overlap_s: float | None = None, frames_per_batch: int = 512, include_fully_labelled: bool = False,
                 resample_quality: str = "HQ", model_name_or_path: str | None = None, overwrite: bool = False,
                 progress_bar: bool = True, chunk_s=_UNSET, context_s=_UNSET) -> Path:
    """Label ``sources`` (``[(spec, examples), …]``) with ``model`` into ``output_dir``.

    Call it on every process of an ``accelerate launch`` (or just once); returns the folder.
    ``chunk_s`` / ``context_s``: deprecated names of ``chunk_length_s`` / ``overlap_s``.
    """
    chunk_length_s = _renamed("chunk_s", chunk_s, chunk_length_s, 30.0)
    overlap_s = _renamed("context_s", context_s, overlap_s, None)
    from accelerate.utils import gather_object
    from tqdm.auto import tqdm

    from .launch import make_plain_accelerator

    ds = require("datasets", "train")
    acc = accelerator if accelerator is not None else make_plain_accelerator()
    out = Path(output_dir)
    if acc.is_main_process:
        if out.exists() and any(out.iterdir()):
            if not overwrite:
                raise FileExistsError(f"{out} is not empty: choose another output_dir or pass overwrite=True")
            shutil.rmtree(out)
        (out / SHARDS).mkdir(parents=True, exist_ok=True)
    acc.wait_for_everyone()
    model = model.to(acc.device).eval()
    sources = [(spec, ex.with_format("numpy") if hasattr(ex, "with_format") else ex) for spec, ex in sources]
    items = [(s, i) for s, (_, examples) in enumerate(sources) for i in range(len(examples))]
    flat = []
    offset = 0
    for s, (_, examples) in enumerate(sources):
        flat.append(offset)
        offset += len(examples)
    shard = out / SHARDS / f"shard-{acc.process_index:05d}-of-{acc.num_processes:05d}.arrow"
    threshold = float(model.config.pseudo_label_threshold)
    stats = []
    feats = pseudo_features()
    t0 = time.perf_counter()
    with acc.split_between_processes(items) as mine:
        writer = ds.arrow_writer.ArrowWriter(features=feats, path=str(shard))
        try:
            for s, i in tqdm(mine, desc=f"pseudo-label [{acc.process_index}]", disable=not progress_bar):
                examples = sources[s][1]
                ex = examples[i]
                kind = label_kind(ex)
                if kind == KIND_NONE and not (include_fully_labelled and ex["has_vocals"] and ex["has_f0"]):
                    logger.info("skipping %s/%s: %s", ex["corpus"], ex["id"],
                                "fully labelled" if ex["has_vocals"] else "no label at all")
                    continue
                row = label_example(model, ex, chunk_length_s=chunk_length_s, overlap_s=overlap_s,
                                    frames_per_batch=frames_per_batch, resample_quality=resample_quality)
                row["source_index"] = flat[s] + i
                writer.write(row)
                stats.append(_stats(row, threshold))
            writer.finalize()
        finally:
            writer.close()
    shard_info = [{"file": f"{SHARDS}/{shard.name}", "num_rows": len(stats), "sha256": sha256_file(shard),
                   "process_index": acc.process_index}]
    all_stats = gather_object(stats) if acc.num_processes > 1 else stats
    all_shards = gather_object(shard_info) if acc.num_processes > 1 else shard_info
    if acc.is_main_process:
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "complete": True,
            "created_unix_s": time.time(),
            "seconds": time.perf_counter() - t0,
            "num_processes": acc.num_processes,
            "model": _model_record(acc.unwrap_model(model), model_name_or_path),
            "settings": {
                "chunk_length_s": chunk_length_s,
                "overlap_s": overlap_s,
                "frames_per_batch": frames_per_batch,
                "include_fully_labelled": include_fully_labelled,
                "resample_quality": resample_quality,
                "voicing_threshold": float(model.config.voicing_threshold),
                "threshold_for_statistics": threshold,
                "confidence": "MAJL Eq. 4: max(y) if max(y) >= 0.5 else 1 - max(y), per frame",
            },
            "sources": [json.loads(json.dumps(dict(spec), default=str)) for spec, _ in sources],
            "shards": sorted(all_shards, key=lambda r: r["process_index"]),
            "examples": sorted(all_stats, key=lambda r: r["source_index"]),
        }
        write_json_atomic(out / MANIFEST, manifest)
    acc.wait_for_everyone()
    return out


def read_pseudo_label_manifest(path) -> dict:
    p = Path(path) / MANIFEST
    if not p.is_file():
        raise FileNotFoundError(f"{p} not found: {path} is not a complete pseudo-label folder (interrupted run?)")
    manifest = json.loads(p.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT or not manifest.get("complete"):
        raise ValueError(f"{p} is not a complete {FORMAT} manifest")
    return manifest


def verify_pseudo_labels(path) -> tuple[bool, str]:
    """``(True, "ok")`` when every shard of the manifest is present with its sha256."""
    try:
        manifest = read_pseudo_label_manifest(path)
    except (OSError, ValueError) as err:
        return False, str(err)
    for shard in manifest["shards"]:
        p = Path(path) / shard["file"]
        if not p.is_file():
            return False, f"shard {shard['file']} is missing"
        if sha256_file(p) != shard["sha256"]:
            return False, f"shard {shard['file']} is corrupted (sha256 differs from the manifest)"
    return True, "ok"


def load_pseudo_labels(path, split: str | None = None, *, verify: bool = True):
    """The pseudo-labelled examples of ``path`` as one ``datasets.Dataset`` in source order."""
    ds = require("datasets", "train")
    if verify:
        ok, reason = verify_pseudo_labels(path)
        if not ok:
            raise ValueError(f"pseudo-labels in {path} are not usable: {reason}")
    manifest = read_pseudo_label_manifest(path)
    parts = [ds.Dataset.from_file(str(Path(path) / s["file"])) for s in manifest["shards"] if s["num_rows"]]
    if not parts:
        return ds.Dataset.from_dict({k: [] for k in pseudo_features()}, features=pseudo_features())
    data = ds.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    order = np.argsort(np.asarray(data["source_index"]), kind="stable")
    if not np.array_equal(order, np.arange(len(order))):
        data = data.select(order.tolist())
    if split is not None:
        data = data.filter(lambda s: s == split, input_columns="split")
    return data


def run_pseudo_labelling(args: PseudoLabelArguments, *, accelerator=None, progress_bar: bool = True) -> Path:
    """Load ``args.model`` and ``args.data``, label them, write ``args.output_dir``."""
    from transformers import AutoModel

    from .data import load_source
    from .launch import make_plain_accelerator

    acc = accelerator if accelerator is not None else make_plain_accelerator()
    model = AutoModel.from_pretrained(args.model)
    with acc.main_process_first():
        sources = [(spec, load_source(spec)) for spec in args.data]
    return pseudo_label(model, sources, args.output_dir, accelerator=acc, chunk_length_s=args.chunk_length_s,
                        overlap_s=args.overlap_s, frames_per_batch=args.frames_per_batch,
                        include_fully_labelled=args.include_fully_labelled, resample_quality=args.resample_quality,
                        model_name_or_path=args.model, overwrite=args.overwrite, progress_bar=progress_bar)


__all__ = [
    "MANIFEST",
    "PseudoLabelArguments",
    "label_example",
    "load_pseudo_labels",
    "pseudo_label",
    "read_pseudo_label_manifest",
    "run_pseudo_labelling",
    "verify_pseudo_labels",
    "weights_sha256",
]
