"""Training data: data sources → examples → crops with (optional) stage-II frame confidences, and
the seeded, resumable data order.

A *data source* is a dict naming a corpus of :data:`majl_hf.data.CORPORA` and the options of its
class::

    {corpus: mir1k, root: /data/MIR-1K, split: train, split_by: clip}   # MIR1K(root, split=..., split_by=...)
    {corpus: medleydb, root: /data/MedleyDB, split: train}
    {corpus: musdb18, root: /data/MUSDB18-HQ, split: train}
    {corpus: mirst500, root: ..., notes_path: ..., split: train}         # (audio_root: is accepted for root)
    {corpus: pseudo, path: outputs/pseudo-labels}                        # majl_hf.training.pseudo_label

Real corpora are read with their class's ``to_dataset()`` (a cached ``datasets.Dataset``; the
extra keys ``cache_dir`` and ``keep_in_memory`` go to it) or, with ``materialize: memory``, by
iterating the corpus into a list (small corpora, tests).
"""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
import torch

from ..data import CORPORA, TrainingView, collate_training
from ..data.base import GRID_HOP_S
from ..utils import check_choice

logger = logging.getLogger(__name__)

LOADERS = CORPORA  # the corpus classes by name (kept under its old name for callers of training.data)
PSEUDO = "pseudo"
CONFIDENCE_KEYS = ("confidence_mss", "confidence_pe")  # per 20 ms grid frame, in [0, 1]
# keys of a source that are not corpus options
SOURCE_OPTIONS = ("corpus", "materialize", "crops_per_example", "sampling_weight")
#: how the crops of an epoch are shared among the data sources (TrainingArguments.source_sampling)
SOURCE_SAMPLING = ("duration", "examples")
DATASET_OPTIONS = ("cache_dir", "keep_in_memory")  # keys of a source for Corpus.to_dataset


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
    if corpus not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r} in data source {spec}; one of {sorted(CORPORA) + [PSEUDO]}")
    materialize = spec.get("materialize", "dataset")
    if materialize not in ("dataset", "memory"):
        raise ValueError(f"materialize must be 'dataset' or 'memory', got {materialize!r} in {spec}")
    options = {k: v for k, v in spec.items() if k not in SOURCE_OPTIONS + DATASET_OPTIONS}
    source = CORPORA[corpus](**options)
    if materialize == "memory":
        return list(source)
    return source.to_dataset(**{k: spec[k] for k in DATASET_OPTIONS if k in spec})


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


def example_durations(examples) -> np.ndarray:
    """Seconds of audio of each example (the schema's ``duration_s``; a ``datasets.Dataset`` column
    is read without decoding any audio)."""
    if hasattr(examples, "column_names"):
        if "duration_s" in examples.column_names:
            return np.asarray(examples["duration_s"], dtype=np.float64)
        return np.asarray([ex["mixture"].shape[-1] / float(ex["sampling_rate"]) for ex in examples])
    out = []
    for ex in examples:
        if "duration_s" in ex:
            out.append(float(ex["duration_s"]))
        else:
            out.append(np.asarray(ex["mixture"]).shape[-1] / float(ex["sampling_rate"]))
    return np.asarray(out, dtype=np.float64)


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    """Integers summing to ``total`` in proportion to ``shares`` (Hamilton's method)."""
    shares = np.asarray(shares, dtype=np.float64)
    if total <= 0 or shares.sum() <= 0:
        return np.zeros(len(shares), dtype=np.int64)
    exact = total * shares / shares.sum()
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:rest]] += 1
    return base


class SourceSampledView(torch.utils.data.Dataset):
    """The training crops of an epoch drawn from several sources in proportion to their audio
    duration (``sampling="duration"``, TrainingArguments.source_sampling's default) — times each
    source's ``sampling_weight`` — instead of one crop per example per epoch, which lets a corpus of
    many short clips (MIR-1K: ~60 % of the crops, ~5 % of the audio of stage II) dominate.

    The epoch keeps its size (Σ examples × crops_per_example over the sources); source i gets
    ``n_i`` of its crops (largest remainder of that total ∝ weight_i · seconds_i), and within the
    source the crops are a systematic sample over its concatenated audio with an offset drawn from
    (seed, epoch, i): each example gets ⌊·⌋ or ⌈·⌉ of its expected share. Every choice depends only
    on (seed, epoch), so a resumed run rebuilds the same epoch. The views' own seeded crops are used
    (a view is indexed example × its crop slot, so each crop of an example in an epoch differs).

    ``sampling="examples"`` is the former behaviour: every example ``crops_per_example`` times.
    :meth:`summary` gives the per-source counts of an epoch (logged once per epoch).
    """

    def __init__(self, views, specs, durations, *, crops_per_example, sampling: str = "duration", seed: int = 0):
        check_choice("source_sampling", sampling, SOURCE_SAMPLING)
        self.datasets = list(views)
        self.specs = [dict(s) for s in specs]
        self.durations = [np.asarray(d, dtype=np.float64) for d in durations]
        self.sampling = sampling
        self.seed = int(seed)
        self.epoch = 0
        crops = [int(c) for c in crops_per_example]
        self._natural = [len(d) * c for d, c in zip(self.durations, crops)]
        total = int(sum(self._natural))
        if sampling == "examples":
            self.counts = np.asarray(self._natural, dtype=np.int64)
        else:
            weights = np.asarray([float(s.get("sampling_weight", 1.0)) for s in self.specs])
            if (weights < 0).any():
                raise ValueError(f"sampling_weight must be >= 0, got {weights.tolist()}")
            seconds = np.asarray([d.sum() for d in self.durations])
            self.counts = _largest_remainder(total, weights * seconds)
            for spec, n in zip(self.specs, self.counts):
                if n == 0:
                    logger.warning("data source %s gets no crops under duration-proportional sampling", spec)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self._maps: list[np.ndarray] = []
        self.set_epoch(0)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self._maps = []
        for i, (view, d, n) in enumerate(zip(self.datasets, self.durations, self.counts)):
            view.set_epoch(self.epoch)
            if self.sampling == "examples":
                self._maps.append(np.arange(int(n), dtype=np.int64))
                continue
            self._maps.append(self._systematic(i, view, d, int(n)))

    def _systematic(self, i: int, view, d: np.ndarray, n: int) -> np.ndarray:
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        u = np.random.default_rng([self.seed, self.epoch, i]).random()
        points = (u + np.arange(n)) * (d.sum() / n)
        ex = np.searchsorted(np.cumsum(d), points, side="right").clip(0, len(d) - 1)
        slot = np.zeros(n, dtype=np.int64)  # the k-th crop of an example in this epoch uses slot k
        for k in range(1, n):
            slot[k] = slot[k - 1] + 1 if ex[k] == ex[k - 1] else 0
        if slot.max() >= view.crops_per_example:
            raise RuntimeError(f"source {i}: {slot.max() + 1} crops of one example exceed its index space")
        return ex * view.crops_per_example + slot

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(index)
        i = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return self.datasets[i][int(self._maps[i][index - self.offsets[i]])]

    def summary(self) -> list[dict]:
        """Per source, for the current epoch: crops, their share of the epoch, the source's share of
        the audio, distinct examples drawn."""
        seconds = np.asarray([d.sum() for d in self.durations])
        total_s = max(float(seconds.sum()), 1e-12)
        total = max(len(self), 1)
        rows = []
        for i, (spec, m, n) in enumerate(zip(self.specs, self._maps, self.counts)):
            per_example = self.datasets[i].crops_per_example
            rows.append(
                {
                    "epoch": self.epoch,
                    "source": i,
                    "corpus": spec.get("corpus"),
                    "sampling": self.sampling,
                    "examples": len(self.durations[i]),
                    "audio_s": float(seconds[i]),
                    "crops": int(n),
                    "crop_share": int(n) / total,
                    "audio_share": float(seconds[i]) / total_s,
                    "distinct_examples": int(len(np.unique(m // per_example))) if len(m) else 0,
                }
            )
        return rows


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
    sampling: str | None = None,
):
    """One dataset over the examples of several sources (each a list or ``datasets.Dataset``).

    ``with_confidences`` (default: when any source has them) adds the stage-II confidence keys to
    every item. A source dict may set its own ``crops_per_example`` (and ``sampling_weight``).
    ``sampling``: ``None`` (every example ``crops_per_example`` times; one view or a
    :class:`UnionView`), or ``"duration"`` / ``"examples"`` for a :class:`SourceSampledView`.
    """
    augment = dict(augment or {})
    if with_confidences is None:
        with_confidences = any(_has_confidences(ex) for _, ex in sources)
    cls = ConfidenceView if with_confidences else TrainingView
    kept = []
    for i, (spec, examples) in enumerate(sources):
        if len(examples) == 0:
            logger.warning("data source %s has no examples", dict(spec))
            continue
        n_crops = int(dict(spec).get("crops_per_example", crops_per_example))
        d = example_durations(examples) if sampling is not None else np.zeros(len(examples))
        kept.append((i, dict(spec), examples, n_crops, d))
    if not kept:
        raise ValueError("no examples in any data source")
    total = sum(len(e) * c for _, _, e, c, _ in kept)
    weighted = sum(float(s.get("sampling_weight", 1.0)) * d.sum() for _, s, _, _, d in kept)
    views, specs, durations, crops = [], [], [], []
    for i, spec, examples, n_crops, d in kept:
        slots = n_crops
        if sampling == "duration" and d.sum() > 0:
            # index space: the most crops the systematic sample can give one example of this source
            n_max = total * float(spec.get("sampling_weight", 1.0)) * d.sum() / max(weighted, 1e-12) + 1
            slots = max(n_crops, int(np.floor(d.max() * n_max / d.sum())) + 2)
        views.append(
            cls(
                examples,
                segment_s=segment_s,
                sampling_rate=sampling_rate,
                channels=channels,
                hop_s=hop_s,
                crops_per_example=slots,
                seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]),
                **augment,
            )
        )
        specs.append(spec)
        durations.append(d)
        crops.append(n_crops)
    if sampling is None:
        return views[0] if len(views) == 1 else UnionView(views)
    return SourceSampledView(views, specs, durations, crops_per_example=crops, sampling=sampling, seed=seed)


def model_view_kwargs(model) -> dict:
    """The rates and frame hop a :class:`~majl_hf.MajlModel` expects of its training crops."""
    pe = model.pitch_estimator.config
    return {
        "sampling_rate": model.sampling_rate,
        "channels": model.audio_channels,
        "hop_s": pe.hop_length / pe.sampling_rate,
    }


__all__ = [
    "CONFIDENCE_KEYS",
    "ConfidenceView",
    "EpochShuffleSampler",
    "LOADERS",
    "SOURCE_SAMPLING",
    "SourceSampledView",
    "UnionView",
    "build_view",
    "collate_training",
    "describe_source",
    "example_durations",
    "load_source",
    "model_view_kwargs",
]
