"""The corpus base class: what every corpus declares, iteration, and one ``to_dataset()``.

A corpus is a subclass of :class:`Corpus` in its own module that sets the class attributes
(``name``, ``display_name``, ``licence``, ``labels``, …), takes its options as keyword-only
arguments of ``__init__`` stored under the same attribute names, and implements three methods:

- ``_items()``: the planned items of the selected split (raises :class:`~.base.CorpusError` when
  the corpus is not where ``root`` says);
- ``_build(item)``: one schema example (:func:`~.base.make_example`), or a ``CorpusError``;
- ``files()``: the files the examples are read from (they key the ``datasets`` cache).

Registering it in :data:`majl_hf.data.CORPORA` makes it available to training (data sources),
evaluation and the model cards; its dataset card is ``majl_hf/data/cards/<name>.md``.

    from majl_hf.data import CORPORA
    corpus = CORPORA["mir1k"]("/data/MIR-1K", split="test", split_by="clip")
    for example in corpus: ...
    dataset = corpus.to_dataset(cache_dir="cache")   # datasets.Dataset (a DatasetDict without split)
"""

from __future__ import annotations

import importlib
import inspect
import logging
from pathlib import Path
from typing import ClassVar, Iterable, Iterator, Sequence

from ..utils import require
from .base import (
    SPLITS,
    CorpusError,
    DecoderNotFoundError,
    check_on_error,
    check_split,
    features,
    files_fingerprint,
    guarded,
)

logger = logging.getLogger(__name__)

LABELS = ("vocals", "f0", "notes")  # what a corpus can provide (Corpus.labels)
CARDS_DIR = Path(__file__).resolve().parent / "cards"


class Corpus:
    """A corpus on disk in its own layout, as an iterable of schema examples (:mod:`.base`).

    Args:
        root: the corpus folder.
        split: ``None`` (every example, each tagged with its split) or one of :attr:`available_splits`.
        on_error: ``"raise"`` (default) or ``"skip"``: bad data raises a :class:`~.base.CorpusError`
            naming the file, or is logged as a warning and the example left out.
        **options: the corpus's own keyword-only options (see each subclass).

    Class attributes:
        name: registry name, also the ``corpus`` field of its examples.
        display_name: the name in reports and model cards (``"MIR-1K"``).
        licence: the corpus's licence in a few words (the ``licence`` field of its examples).
        labels: what its examples can carry, a subset of :data:`LABELS`: ``"vocals"`` (a separation
            target), ``"f0"`` (a frame pitch label), ``"notes"`` (that pitch label comes from note
            annotations: piecewise constant semitones).
        splits: the splits it yields by default.
        ids_option: the option that restricts the corpus to some example ids (``None``: none).
        museval_by_default: evaluation reports museval's SDR by default (the SiSEC convention).
    """

    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    labels: ClassVar[frozenset] = frozenset()
    splits: ClassVar[tuple] = SPLITS
    ids_option: ClassVar[str | None] = None
    museval_by_default: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        unknown = set(cls.labels) - set(LABELS)
        if unknown:
            raise TypeError(f"{cls.__name__}.labels: unknown labels {sorted(unknown)} (known: {LABELS})")

    def __init__(self, root, *, split: str | None = None, on_error: str = "raise"):
        if root is None:
            raise ValueError(f"{self.display_name or type(self).__name__} needs root (the corpus folder)")
        check_on_error(on_error)
        self.root = Path(root)
        self.on_error = on_error
        check_split(split, self.available_splits)
        self.split = split

    # ------------------------------------------------------------------------------------------

    @property
    def available_splits(self) -> tuple:
        """The splits this instance can yield (a subclass may make it depend on its options)."""
        return tuple(type(self).splits)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The keyword-only options of ``__init__`` (``split`` excluded)."""
        params = inspect.signature(cls.__init__).parameters.values()
        return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name != "split")

    @property
    def options(self) -> dict:
        """The options this instance was made with: ``type(self)(self.root, split=..., **self.options)``
        makes the same corpus. Sequences are lists, paths strings (JSON- and cache-friendly); a
        subclass stores path options as :class:`~pathlib.Path` (``to_dataset`` makes them absolute)."""
        out = {}
        for name in self.option_names():
            value = getattr(self, name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({str(self.root)!r}, split={self.split!r}{opts})"

    @classmethod
    def card(cls) -> str:
        """The markdown dataset card (``majl_hf/data/cards/<name>.md``)."""
        return (CARDS_DIR / f"{cls.name}.md").read_text(encoding="utf-8")

    # ------------------------------------------------------------------------------------------
    # what a subclass implements

    def _items(self) -> Iterable:
        raise NotImplementedError

    def _build(self, item) -> dict:
        raise NotImplementedError

    def files(self) -> list[Path]:
        """The files the examples are read from (``datasets`` rebuilds its cache when one changes)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[dict]:
        """The examples of the split, as numpy dicts with the keys of :data:`~.base.SCHEMA_KEYS`."""
        yield from guarded(self._items(), self._build, self.on_error, logging.getLogger(type(self).__module__))

    def to_dataset(self, *, cache_dir=None, keep_in_memory: bool = False):
        """The examples as a ``datasets.Dataset`` (this split) or, with ``split=None``, a
        ``DatasetDict`` of every split in :attr:`available_splits`.

        Built with ``Dataset.from_generator`` and cached under ``cache_dir`` (default
        ``~/.cache/huggingface/datasets``), keyed by the options and the size and mtime of
        :meth:`files`, so an edit on disk rebuilds it. An empty split is an empty dataset with the
        schema's features (and a logged warning). Corpus errors come out as themselves, not wrapped
        by ``datasets``. Needs the ``train`` extra.
        """
        ds = require("datasets", "train")
        root = self.root.resolve()
        options = {
            k: str(Path(v).resolve()) if isinstance(getattr(self, k), Path) else v for k, v in self.options.items()
        }
        resolved = type(self)(root, split=self.split, **options)  # absolute paths: a cwd-independent cache key
        gen_kwargs = {
            "corpus_class": f"{type(self).__module__}:{type(self).__qualname__}",
            "root": str(root),
            "options": resolved.options,
            "fingerprint": files_fingerprint(resolved.files()),
        }
        feats = features()

        def one(split: str):
            try:
                return ds.Dataset.from_generator(
                    _generate,
                    features=feats,
                    cache_dir=None if cache_dir is None else str(cache_dir),
                    keep_in_memory=keep_in_memory,
                    gen_kwargs={**gen_kwargs, "split": split},
                )
            except ds.exceptions.DatasetGenerationError as err:
                cause = err.__cause__ or err.__context__
                if isinstance(cause, (CorpusError, DecoderNotFoundError)):
                    raise cause from None
                if isinstance(cause, ValueError) and "corresponds to no data" in str(cause):
                    return _empty(ds, feats, self.name, split)
                raise
            except ValueError as err:  # datasets refuses a generator that yields nothing
                if "corresponds to no data" not in str(err):
                    raise
                return _empty(ds, feats, self.name, split)

        if self.split is not None:
            return one(self.split)
        return ds.DatasetDict({split: one(split) for split in self.available_splits})

    # ------------------------------------------------------------------------------------------
    # the function forms (``iter_<name>``, ``load_<name>``)

    @classmethod
    def iterate(cls, root=None, split: str | None = None, **options) -> Iterator[dict]:
        """``iter(cls(root, split=split, **options))``: the examples as a plain iterator."""
        return iter(cls(root, split=split, **options))

    @classmethod
    def load(cls, root=None, split: str | None = None, *, cache_dir=None, keep_in_memory: bool = False, **options):
        """``cls(root, split=split, **options).to_dataset(cache_dir=..., keep_in_memory=...)``."""
        return cls(root, split=split, **options).to_dataset(cache_dir=cache_dir, keep_in_memory=keep_in_memory)


def _generate(corpus_class: str, root: str, split: str, options: dict, fingerprint: str):
    """Module-level generator for ``Dataset.from_generator`` (``fingerprint`` only keys the cache)."""
    module, qualname = corpus_class.split(":")
    cls = getattr(importlib.import_module(module), qualname)
    yield from cls(root, split=split, **options)


def _empty(ds, feats, corpus: str, split: str):
    logger.warning("%s: split %r is empty", corpus, split)
    return ds.Dataset.from_dict({k: [] for k in feats}, features=feats)


def check_registry(corpora: Sequence[type]) -> dict[str, type]:
    """``{name: class}`` of corpus classes, checking that each declares what the registry needs."""
    out = {}
    for cls in corpora:
        if not (isinstance(cls, type) and issubclass(cls, Corpus)):
            raise TypeError(f"{cls!r} is not a Corpus subclass")
        for attr in ("name", "display_name", "licence"):
            if not getattr(cls, attr):
                raise TypeError(f"{cls.__name__} does not set {attr}")
        if not cls.labels:
            raise TypeError(f"{cls.__name__} does not say which labels it provides")
        if cls.name in out:
            raise ValueError(f"two corpora named {cls.name!r}: {out[cls.name].__name__} and {cls.__name__}")
        out[cls.name] = cls
    return out
