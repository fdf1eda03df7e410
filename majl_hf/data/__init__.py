"""The four corpora behind one schema (:mod:`majl_hf.data.base`), as ``datasets`` objects or plain
iterators, and a training view with fixed-length crops at the model's rates (:mod:`.training`).

=============  ======================  ======================  ==============================
corpus         ``load_*`` (datasets)   ``iter_*`` (plain)      labels
=============  ======================  ======================  ==============================
MIR-1K         :func:`load_mir1k`      :func:`iter_mir1k`      vocals + f0
MedleyDB       :func:`load_medleydb`   :func:`iter_medleydb`   vocals + f0
MUSDB18(-HQ)   :func:`load_musdb18`    :func:`iter_musdb18`    vocals
MIR-ST500      :func:`load_mirst500`   :func:`iter_mirst500`   f0 (from notes)
=============  ======================  ======================  ==============================

Dataset cards: ``majl_hf/data/cards/<corpus>.md`` (:func:`dataset_card`).
"""

from pathlib import Path

from .base import (
    GRID_HOP_S,
    SCHEMA_KEYS,
    CorpusError,
    DecoderNotFoundError,
    assign_split,
    check_example,
    features,
    grid_times,
    make_example,
    n_grid_frames,
    read_audio,
)
from .medleydb import iter_medleydb, load_medleydb
from .mir1k import iter_mir1k, load_mir1k
from .mirst500 import iter_mirst500, load_mirst500
from .musdb18 import iter_musdb18, load_musdb18
from .training import TrainingView, collate_training

ITERATORS = {
    "mir1k": iter_mir1k,
    "medleydb": iter_medleydb,
    "musdb18": iter_musdb18,
    "mirst500": iter_mirst500,
}
CORPORA = tuple(ITERATORS)


def dataset_card(corpus: str) -> str:
    """The markdown dataset card of ``corpus`` (one of :data:`CORPORA`)."""
    if corpus not in ITERATORS:
        raise ValueError(f"corpus must be one of {CORPORA}, got {corpus!r}")
    return (Path(__file__).parent / "cards" / f"{corpus}.md").read_text(encoding="utf-8")


__all__ = [
    "CORPORA",
    "GRID_HOP_S",
    "ITERATORS",
    "SCHEMA_KEYS",
    "CorpusError",
    "DecoderNotFoundError",
    "TrainingView",
    "assign_split",
    "check_example",
    "collate_training",
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
]
