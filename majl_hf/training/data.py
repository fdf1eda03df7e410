"""Training data: data sources → examples → crops with (optional) stage-II frame confidences, and
the seeded, resumable data order.

A *data source* is a dict naming a corpus and the arguments of its loader::

    {corpus: mir1k, root: /data/MIR-1K, split: train}              # load_mir1k(root, split=...)
    {corpus: medleydb, root: /data/MedleyDB, split: train}
    {corpus: musdb18, root: /data/MUSDB18-HQ, split: train}
    {corpus: mirst500, audio_root: ..., notes_path: ..., split: train}
    {corpus: pseudo, path: outputs/pseudo-labels}                   # majl_hf.training.pseudo_label

Real corpora are read with their ``load_*`` function (a cached ``datasets.Dataset``; the extra
key ``cache_dir`` picks the cache folder) or, with ``materialize: memory``, with their ``iter_*``
function into a list (small corpora, tests).
"""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
import torch

from ..data import (
    ITERATORS,
    TrainingView,
    collate_training,
    load_medleydb,
    load_mir1k,
    load_mirst500,
    load_musdb18,
)
from ..data.base import GRID_HOP_S

logger = logging.getLogger(__name__)

LOADERS = {"mir1k": load_mir1k, "medleydb": load_medleydb, "musdb18": load_musdb18, "mirst500": load_mirst500}
PSEUDO = "pseudo"
CONFIDENCE_KEYS = ("confidence_mss", "confidence_pe")  # per 20 ms grid frame, in [0, 1]
SOURCE_OPTIONS = ("corpus", "materialize", "crops_per_example")  # keys of a source that are not loader arguments


def load_source(spec: Mapping):
    """The examples of one data source (module docstring): a ``datasets.Dataset`` or a list of
    schema dicts. Pseudo-labelled sources carry the extra columns of :data:`CONFIDENCE_KEYS`."""
    spec = dict(spec)
    corpus = spec.get("corpus")
    if corpus == PSEUDO:
        from .pseudo_label import load_pseudo_labels

        if "path" not in spec:
            raise ValueError(f"a pseudo-labelled source needs a 'path': {spec}")
        return load_pseudo_labels(spec["path"], split=spec.get("split"))
    if corpus not in LOADERS:
        raise ValueError(f"unknown corpus {corpus!r} in data source {spec}; one of {sorted(LOADERS) + [PSEUDO]}")
    materialize = spec.get("materialize", "dataset")
    kwargs = {k: v for k, v in spec.items() if k not in SOURCE_OPTIONS}
    if materialize == "memory":
        kwargs.pop("cache_dir", None)
        kwargs.pop("keep_in_memory", None)
        return list(ITERATORS[corpus](**kwargs))
    if materialize != "dataset":
        raise ValueError(f"materialize must be 'dataset' or 'memory', got {materialize!r} in {spec}")
    return LOADERS[corpus](**kwargs)


def describe_source(spec: Mapping, examples) -> dict:
    """A JSON-friendly summary of a source for logs and model cards: corpus, size, licence, labels."""
    n = len(examples)
    if hasattr(examples, "column_names"):
        licences = sorted(set(examples["licence"])) if n else []
        corpora = sorted(set(examples["corpus"])) if n else []
        has_vocals = int(np.sum(np.asarray(examples["has_vocals"], dtype=bool))) if n else 0
        has_f0 = int(np.sum(np.asarray(examples["has_f0"], dtype=bool))) if n else 0
    else:
        licences = sorted({ex["licence"] for ex in examples})
        corpora = sorted({ex["corpus"] for ex in examples})
        has_vocals = sum(bool(ex["has_vocals"]) for ex in examples)
        has_f0 = sum(bool(ex["has_f0"]) for ex in examples)
    return {
        "source": {k: v for k, v in dict(spec).items()},
        "examples": n,
        "corpora": corpora,
        "with_vocals": has_vocals,
        "with_f0": has_f0,
        "licences": licences,
    }


def _has_confidences(examples) -> bool:
    if hasattr(examples, "column_names"):
        return all(k in examples.column_names for k in CONFIDENCE_KEYS)
    return len(examples) > 0 and all(k in examples[0] for k in CONFIDENCE_KEYS)


class ConfidenceView(TrainingView):
    """:class:`~majl_hf.data.TrainingView` whose items also carry ``confidence_mss`` and
    ``confidence_pe`` (T,) on the model's pitch frames (MAJL Eq. 5–7).

    Examples with :data:`CONFIDENCE_KEYS` columns (pseudo-labelled, on the 20 ms grid) give their
    frame confidences at the crop (nearest grid frame; frames past the end of the example get 0,
    i.e. no loss); fully-labelled examples give ones (Eq. 5). The model thresholds them at
    ``pseudo_label_threshold`` (Eq. 8/15). The crop is the one the parent class draws: its start
    is recorded from the first ``_crop_audio`` call of each item.
    """

    def _crop_audio(self, ex, rng, keys):
        out = super()._crop_audio(ex, rng, keys)
        if self._first_crop is None:
            self._first_crop = (ex, out[1])
        return out

    def _confidences_at(self, ex, start_s: float) -> dict:
        if not all(k in ex for k in CONFIDENCE_KEYS):
            return {k: torch.ones(self.n_frames) for k in CONFIDENCE_KEYS}
        t = start_s + self.hop_s * np.arange(self.n_frames)
        g = np.floor(t / GRID_HOP_S + 0.5 + 1e-9).astype(np.int64)
        out = {}
        for key in CONFIDENCE_KEYS:
            conf = np.asarray(ex[key], dtype=np.float32)
            inside = (g >= 0) & (g < len(conf))
            values = np.zeros(self.n_frames, dtype=np.float32)
            values[inside] = conf[g[inside]]
            out[key] = torch.from_numpy(values)
        return out

    def __getitem__(self, index: int) -> dict:
        self._first_crop = None
        item = super().__getitem__(index)
        ex, start_s = self._first_crop
        item.update(self._confidences_at(ex, start_s))
        return item


class UnionView(torch.utils.data.ConcatDataset):
    """Several views as one dataset (stage II: fully-labelled ∪ pseudo-labelled); ``set_epoch``
    reaches every part."""

    def set_epoch(self, epoch: int) -> None:
        for d in self.datasets:
            d.set_epoch(epoch)


class EpochShuffleSampler(torch.utils.data.Sampler):
    """A permutation of ``range(n)`` that depends only on ``(seed, epoch)``: the data order of any
    epoch can be rebuilt after a restart (then the consumed batches are skipped). ``shuffle=False``
    gives ``0 … n−1``. Registered with the accelerator for checkpointing."""

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True):
        self.n = int(n)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def permutation(self, epoch: int | None = None) -> list[int]:
        epoch = self.epoch if epoch is None else int(epoch)
        if not self.shuffle:
            return list(range(self.n))
        return np.random.default_rng([self.seed, epoch]).permutation(self.n).tolist()

    def __iter__(self):
        return iter(self.permutation())

    def __len__(self) -> int:
        return self.n

    def state_dict(self) -> dict:
        return {"n": self.n, "seed": self.seed, "shuffle": self.shuffle, "epoch": self.epoch}

    def load_state_dict(self, state: Mapping) -> None:
        if int(state["n"]) != self.n or int(state["seed"]) != self.seed:
            raise ValueError(
                f"the checkpoint's data order was for {state['n']} items with seed {state['seed']}; this run has "
                f"{self.n} items with seed {self.seed}: the training data or seed changed"
            )
        self.shuffle = bool(state["shuffle"])
        self.epoch = int(state["epoch"])


def build_view(
    sources: Sequence,
    *,
    sampling_rate: int,
    channels: int,
    hop_s: float,
    segment_s: float,
    crops_per_example: int = 1,
    seed: int = 0,
    augment: Mapping | None = None,
    with_confidences: bool | None = None,
):
    """One dataset over the examples of several sources (each a list or ``datasets.Dataset``).

    ``with_confidences`` (default: when any source has them) adds the stage-II confidence keys to
    every item. A source dict may set its own ``crops_per_example``.
    """
    augment = dict(augment or {})
    if with_confidences is None:
        with_confidences = any(_has_confidences(ex) for _, ex in sources)
    cls = ConfidenceView if with_confidences else TrainingView
    views = []
    for i, (spec, examples) in enumerate(sources):
        if len(examples) == 0:
            logger.warning("data source %s has no examples", dict(spec))
            continue
        views.append(
            cls(
                examples,
                segment_s=segment_s,
                sampling_rate=sampling_rate,
                channels=channels,
                hop_s=hop_s,
                crops_per_example=int(dict(spec).get("crops_per_example", crops_per_example)),
                seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]),
                **augment,
            )
        )
    if not views:
        raise ValueError("no examples in any data source")
    return views[0] if len(views) == 1 else UnionView(views)


def model_view_kwargs(model) -> dict:
    """The rates and frame hop a :class:`~majl_hf.MajlModel` expects of its training crops."""
    pe = model.pitch_estimator.config
    return {"sampling_rate": model.sampling_rate, "channels": model.audio_channels, "hop_s": pe.hop_length / pe.sampling_rate}


__all__ = [
    "CONFIDENCE_KEYS",
    "ConfidenceView",
    "EpochShuffleSampler",
    "LOADERS",
    "UnionView",
    "build_view",
    "collate_training",
    "describe_source",
    "load_source",
    "model_view_kwargs",
]
