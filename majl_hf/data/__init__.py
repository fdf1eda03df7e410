"""The corpora, one class each behind one schema (:mod:`majl_hf.data.base`), in one registry
:data:`CORPORA`, and a training view with fixed-length crops at the model's rates (:mod:`.training`).

- ``mir1k``: :class:`~.mir1k.MIR1K` — vocals, f0; ``split_by="singer"`` (default) or ``"clip"`` (the paper's)
- ``medleydb``: :class:`~.medleydb.MedleyDB` — vocals, f0; ``split_by="singer"`` (default) or ``"clip"``
- ``musdb18``: :class:`~.musdb18.MUSDB18` — vocals; the official folders (+ musdb's validation list)
- ``mirst500``: :class:`~.mirst500.MIRST500` — f0 from notes; the official split (#1–#400 train)

    from majl_hf.data import CORPORA
    corpus = CORPORA["mir1k"]("/data/MIR-1K", split="train", split_by="clip")
    examples = list(corpus)                 # numpy dicts, the schema of majl_hf.data.base
    dataset = corpus.to_dataset()           # datasets.Dataset (a DatasetDict when split is None)

A corpus class declares ``name``, ``display_name``, ``licence`` and ``labels`` (read by training,
evaluation and the model cards); a fifth corpus is one module with a :class:`~.corpus.Corpus`
subclass and one entry in :data:`CORPORA`. Dataset cards: ``majl_hf/data/cards/<name>.md``
(:func:`dataset_card`). The functions ``iter_<name>`` / ``load_<name>`` of before remain as aliases.

Importing this package imports numpy and :mod:`majl_hf.pitch` (so torch), nothing heavier: soundfile,
``datasets``, pyyaml, soxr and the training view are loaded when first used.
"""

from .base import (
    GRID_HOP_S,
    SCHEMA_KEYS,
    SPLIT_BY,
    CorpusError,
    DecoderNotFoundError,
    assign_split,
    check_example,
    features,
    grid_times,
    make_example,
    n_grid_frames,
    read_audio,
    split_at_random,
)
from .corpus import LABELS, Corpus, check_registry
from .medleydb import MedleyDB, iter_medleydb, load_medleydb
from .mir1k import MIR1K, iter_mir1k, load_mir1k
from .mirst500 import MIRST500, iter_mirst500, load_mirst500
from .musdb18 import MUSDB18, iter_musdb18, load_musdb18

CORPORA: dict[str, type[Corpus]] = check_registry([MIR1K, MedleyDB, MUSDB18, MIRST500])
"""The registry: corpus name → :class:`~.corpus.Corpus` subclass."""

ITERATORS = {name: cls.iterate for name, cls in CORPORA.items()}  # the iter_<name> forms, by name (old callers)

_LAZY = {"TrainingView": ".training", "collate_training": ".training"}  # torch + soxr: loaded on first use


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def corpus_class(name: str) -> type[Corpus]:
    """The class registered as ``name`` in :data:`CORPORA` (``ValueError`` listing the names otherwise)."""
    try:
        return CORPORA[name]
    except (KeyError, TypeError):
        raise ValueError(f"corpus must be one of {tuple(CORPORA)}, got {name!r}") from None


def dataset_card(corpus: str) -> str:
    """The markdown dataset card of ``corpus`` (a name in :data:`CORPORA`)."""
    return corpus_class(corpus).card()


__all__ = [
    "CORPORA",
    "GRID_HOP_S",
    "ITERATORS",
    "LABELS",
    "MIR1K",
    "MIRST500",
    "MUSDB18",
    "SCHEMA_KEYS",
    "SPLIT_BY",
    "Corpus",
    "CorpusError",
    "DecoderNotFoundError",
    "MedleyDB",
    "TrainingView",
    "assign_split",
    "check_example",
    "collate_training",
    "corpus_class",
    "dataset_card",
    "features",
    "grid_times",
    "iter_medleydb",
    "iter_mir1k",
    "iter_mirst500",
    "iter_musdb18",
    "load_medleydb",
    "load_mir1k",
    "load_mirst500",
    "load_musdb18",
    "make_example",
    "n_grid_frames",
    "read_audio",
    "split_at_random",
]
