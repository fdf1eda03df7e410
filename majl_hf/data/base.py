"""The one example schema shared by every corpus, the 20 ms label grid, audio reading, the split
rules and the ``datasets`` features. The corpus base class is :class:`majl_hf.data.corpus.Corpus`.

Every example, whatever its corpus, is a dict with exactly the keys of :data:`SCHEMA_KEYS`:

=================  ==========================================================================
key                value
=================  ==========================================================================
``id``             str, unique within the corpus (file stem, track name or song id)
``corpus``         str: the corpus's registry name (``"mir1k"``, ``"medleydb"``, ``"musdb18"``, ``"mirst500"``)
``split``          str: ``"train"``, ``"test"`` (MUSDB18 may also give ``"validation"``)
``mixture``        float32 array (channels, samples), full scale ±1 (sums may exceed it)
``sampling_rate``  int, Hz, of ``mixture`` and ``vocals``
``vocals``         float32 array, same shape as ``mixture``; all zeros when ``has_vocals`` is False
``has_vocals``     bool: ``vocals`` is a real separation target (silent vocals count as known)
``f0_hz``          float32 (T,), vocal f0 in Hz on the 20 ms grid, ``0`` = unvoiced
``times_s``        float64 (T,), centre of each frame in seconds from the start of the audio
``has_f0``         bool: ``f0_hz`` is a real pitch label (all zeros when False)
``voicing``        bool (T,), ``f0_hz > 0``
``duration_s``     float, ``samples / sampling_rate``
``licence``        str, the corpus's licence in a few words
=================  ==========================================================================

The grid: frame ``t`` is centred at ``t · 0.02`` s from the first sample and there are
``1 + floor(samples / (0.02 · sampling_rate))`` frames — the same centred-frame convention as the
pitch estimators (``1 + N // hop``). Each corpus puts its labels on this grid with
:func:`majl_hf.pitch.labels.resample_f0`.

A missing target is a flag (``has_vocals`` / ``has_f0`` False, zeros in the array), never a missing
key. Bad data raises :class:`CorpusError` naming the file and what is wrong, or, with
``on_error="skip"``, is logged as a warning and the example is left out.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..pitch.labels import frame_times
from ..utils import require

logger = logging.getLogger(__name__)

GRID_HOP_S = 0.02  # s: hop of the shared label grid (frame t centred at t * GRID_HOP_S)
SPLITS = ("train", "test")
ON_ERROR = ("raise", "skip")
SPLIT_BY = ("singer", "clip")  # MIR-1K and MedleyDB: leak-free by singer (default), or the paper's 80/20 over clips
SCHEMA_KEYS = (
    "id",
    "corpus",
    "split",
    "mixture",
    "sampling_rate",
    "vocals",
    "has_vocals",
    "f0_hz",
    "times_s",
    "has_f0",
    "voicing",
    "duration_s",
    "licence",
)


class CorpusError(ValueError):
    """Bad corpus data: ``path`` is the offending file (or folder) and ``problem`` says what is wrong."""

    def __init__(self, path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DecoderNotFoundError(RuntimeError):
    """An external decoder (ffmpeg) needed for a file format is not installed."""


# ---------------------------------------------------------------------------------------------
# The grid


def n_grid_frames(n_samples: int, sampling_rate: int, hop_s: float = GRID_HOP_S) -> int:
    """Number of centred frames ``1 + floor(n_samples / (hop_s · sampling_rate))``.

    Args:
        n_samples: audio length in samples.
        sampling_rate: Hz.
        hop_s: frame hop in seconds (default the 20 ms grid).
    """
    if n_samples < 0 or sampling_rate <= 0 or hop_s <= 0:
        raise ValueError(f"bad grid arguments: n_samples={n_samples}, sampling_rate={sampling_rate}, hop_s={hop_s}")
    hop_samples = hop_s * sampling_rate
    # the small epsilon keeps exact multiples (e.g. 882.0000000001 samples) on the right side
    return 1 + int(math.floor(n_samples / hop_samples + 1e-9))


def grid_times(n_samples: int, sampling_rate: int, hop_s: float = GRID_HOP_S) -> np.ndarray:
    """Frame centres (s) of the label grid for audio of ``n_samples`` at ``sampling_rate`` Hz."""
    return frame_times(n_grid_frames(n_samples, sampling_rate, hop_s), hop_s)


# ---------------------------------------------------------------------------------------------
# Audio


def read_audio(
    path,
    *,
    channels: int | None = None,
    sampling_rate: int | None = None,
) -> tuple[np.ndarray, int]:
    """Read an audio file with soundfile (WAV, FLAC, OGG, MP3 …).

    Args:
        path: the file.
        channels: if given, the channel count the file must have.
        sampling_rate: if given, the rate (Hz) the file must have.
    Returns:
        ``(audio, sampling_rate)`` with ``audio`` float32 of shape (channels, samples).
    Raises:
        CorpusError: missing, unreadable or empty file, or a channel count / rate other than asked.
    """
    import soundfile as sf  # not at module level: `import majl_hf.data` stays light

    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, "audio file not found")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise CorpusError(path, f"unreadable audio ({type(err).__name__}: {err})") from err
    audio = np.ascontiguousarray(data.T)
    if audio.shape[1] == 0:
        raise CorpusError(path, "audio file holds no samples")
    if channels is not None and audio.shape[0] != channels:
        raise CorpusError(path, f"expected {channels} audio channel(s), found {audio.shape[0]}")
    if sampling_rate is not None and sr != sampling_rate:
        raise CorpusError(path, f"expected a sampling rate of {sampling_rate} Hz, found {sr} Hz")
    return audio, int(sr)


def audio_info(path):
    """soundfile's header info (``samplerate``, ``channels``, ``frames``) or a :class:`CorpusError`."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, "audio file not found")
    try:
        return sf.info(str(path))
    except Exception as err:
        raise CorpusError(path, f"unreadable audio ({type(err).__name__}: {err})") from err


def fit_length(audio: np.ndarray, n_samples: int, *, path, what: str, tolerance_samples: int) -> np.ndarray:
    """Zero-pad or crop ``audio`` (C, N) at its end to ``n_samples`` when the difference is within
    ``tolerance_samples``; otherwise raise a :class:`CorpusError` naming ``path``."""
    diff = audio.shape[1] - n_samples
    if abs(diff) > tolerance_samples:
        raise CorpusError(
            path, f"{what} has {audio.shape[1]} samples but {n_samples} were expected (tolerance {tolerance_samples})"
        )
    if diff > 0:
        return audio[:, :n_samples]
    if diff < 0:
        return np.pad(audio, ((0, 0), (0, -diff)))
    return audio


# ---------------------------------------------------------------------------------------------
# Examples


def make_example(
    *,
    id: str,
    corpus: str,
    split: str,
    mixture: np.ndarray,
    sampling_rate: int,
    licence: str,
    vocals: np.ndarray | None = None,
    f0_hz: np.ndarray | None = None,
) -> dict:
    """Assemble one schema-complete example.

    Args:
        id, corpus, split, licence: strings, see the module docstring.
        mixture: float array (channels, samples).
        sampling_rate: Hz.
        vocals: same shape as ``mixture`` or ``None`` (no separation label: zeros, ``has_vocals``
            False). Silent-but-known vocals are passed as zeros, not ``None``.
        f0_hz: (T,) on the 20 ms grid (Hz, 0 = unvoiced) with T = :func:`n_grid_frames`, or
            ``None`` (no pitch label: zeros, ``has_f0`` False).
    """
    mixture = np.ascontiguousarray(mixture, dtype=np.float32)
    if mixture.ndim != 2 or mixture.shape[1] == 0:
        raise ValueError(f"{corpus}/{id}: mixture must be (channels, samples), got shape {mixture.shape}")
    n_frames = n_grid_frames(mixture.shape[1], sampling_rate)
    has_vocals = vocals is not None
    if has_vocals:
        vocals = np.ascontiguousarray(vocals, dtype=np.float32)
        if vocals.shape != mixture.shape:
            raise ValueError(f"{corpus}/{id}: vocals shape {vocals.shape} differs from mixture {mixture.shape}")
    else:
        vocals = np.zeros_like(mixture)
    has_f0 = f0_hz is not None
    if has_f0:
        f0_hz = np.asarray(f0_hz, dtype=np.float32)
        if f0_hz.shape != (n_frames,):
            raise ValueError(f"{corpus}/{id}: f0 has shape {f0_hz.shape}, the grid needs ({n_frames},)")
        if not np.all(np.isfinite(f0_hz)) or np.any(f0_hz < 0):
            raise ValueError(f"{corpus}/{id}: f0 must be finite and >= 0 (0 = unvoiced)")
    else:
        f0_hz = np.zeros(n_frames, dtype=np.float32)
    return {
        "id": str(id),
        "corpus": corpus,
        "split": split,
        "mixture": mixture,
        "sampling_rate": int(sampling_rate),
        "vocals": vocals,
        "has_vocals": bool(has_vocals),
        "f0_hz": f0_hz,
        "times_s": frame_times(n_frames, GRID_HOP_S),
        "has_f0": bool(has_f0),
        "voicing": f0_hz > 0,
        "duration_s": mixture.shape[1] / float(sampling_rate),
        "licence": licence,
    }


def check_example(example: Mapping) -> None:
    """Raise ``ValueError`` when ``example`` breaks the schema (keys, shapes, grid, flags)."""
    keys = set(example)
    if keys != set(SCHEMA_KEYS):
        raise ValueError(f"schema keys differ: missing {set(SCHEMA_KEYS) - keys}, extra {keys - set(SCHEMA_KEYS)}")
    mix = np.asarray(example["mixture"])
    voc = np.asarray(example["vocals"])
    if mix.ndim != 2 or voc.shape != mix.shape:
        raise ValueError(f"mixture {mix.shape} / vocals {voc.shape} must be equal (channels, samples)")
    n = n_grid_frames(mix.shape[1], int(example["sampling_rate"]))
    for key in ("f0_hz", "times_s", "voicing"):
        if np.asarray(example[key]).shape != (n,):
            raise ValueError(f"{key} must have the grid's {n} frames, got {np.asarray(example[key]).shape}")
    if not np.allclose(np.asarray(example["times_s"]), frame_times(n, GRID_HOP_S)):
        raise ValueError("times_s is not the 20 ms grid")
    f0 = np.asarray(example["f0_hz"])
    if not np.array_equal(np.asarray(example["voicing"], dtype=bool), f0 > 0):
        raise ValueError("voicing must equal f0_hz > 0")
    if not example["has_vocals"] and np.any(voc != 0):
        raise ValueError("has_vocals is False but vocals are not zeros")
    if not example["has_f0"] and np.any(f0 != 0):
        raise ValueError("has_f0 is False but f0_hz is not zeros")
    if not math.isclose(float(example["duration_s"]), mix.shape[1] / int(example["sampling_rate"])):
        raise ValueError("duration_s must be samples / sampling_rate")


# ---------------------------------------------------------------------------------------------
# Splits


def assign_split(group: str, *, seed: int = 0, test_fraction: float = 0.2) -> str:
    """Deterministic train/test assignment of a whole group (singer, song, artist).

    The group goes to ``"test"`` when ``sha256(f"{seed}:{group}")``, read as a number in [0, 1),
    is below ``test_fraction``. The result depends on nothing but these three values: it is the
    same on every run and machine, and a group's split never changes when other files are added
    or missing. With few groups the realised fraction can be far from ``test_fraction`` and one
    split can be empty.
    """
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    digest = hashlib.sha256(f"{int(seed)}:{group}".encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return "test" if u < test_fraction else "train"


def split_at_random(ids: Iterable[str], *, seed: int = 0, test_fraction: float = 0.2) -> dict[str, str]:
    """``{id: "train" | "test"}``: exactly ``round(test_fraction · n)`` of the ``n`` distinct ids
    drawn at random for ``test`` (the MAJL paper's "80/20 at random" over clips).

    The draw is an order by ``sha256(f"{seed}:{id}")`` (the ids with the smallest hashes go to
    ``test``): a seeded random permutation that is the same on every machine and Python/numpy
    version. It depends on the whole set of ids (a clip added or removed can move the boundary by
    one), unlike :func:`assign_split`, and a group (singer) can be on both sides.
    """
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    unique = sorted(set(str(i) for i in ids))
    order = sorted(unique, key=lambda i: (hashlib.sha256(f"{int(seed)}:{i}".encode("utf-8")).digest(), i))
    n_test = int(round(test_fraction * len(unique)))
    test = set(order[:n_test])
    return {i: ("test" if i in test else "train") for i in unique}


def check_split_by(split_by: str, allowed: Sequence[str] = SPLIT_BY) -> None:
    if split_by not in allowed:
        raise ValueError(f"split_by must be one of {tuple(allowed)}, got {split_by!r}")


def check_split(split: str | None, allowed: Sequence[str] = SPLITS) -> None:
    if split is not None and split not in allowed:
        raise ValueError(f"split must be None or one of {tuple(allowed)}, got {split!r}")


def check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")


def guarded(items: Iterable, build: Callable, on_error: str, log: logging.Logger) -> Iterator[dict]:
    """Yield ``build(item)`` for each item; a :class:`CorpusError` is raised, or with
    ``on_error="skip"`` logged as a warning and the item left out."""
    check_on_error(on_error)
    for item in items:
        try:
            example = build(item)
        except CorpusError as err:
            if on_error == "raise":
                raise
            log.warning("skipping %s: %s", err.path, err.problem)
            continue
        yield example


# ---------------------------------------------------------------------------------------------
# datasets plumbing


def features():
    """The ``datasets.Features`` of the schema. Audio is a float32 nested list (channels × samples),
    decoded by soundfile at build time — not ``datasets.Audio`` (which needs torchcodec/ffmpeg).

    ``dataset.with_format("numpy")`` gives each row's arrays as numpy arrays (2-D for audio); note
    that datasets' numpy formatting casts every float column to float32, ``times_s`` included (the
    Arrow table keeps float64) — recompute exact times as ``0.02 * arange(len(f0_hz))``."""
    ds = require("datasets", "train")
    Value, List = ds.Value, ds.List
    return ds.Features(
        {
            "id": Value("string"),
            "corpus": Value("string"),
            "split": Value("string"),
            "mixture": List(List(Value("float32"))),
            "sampling_rate": Value("int32"),
            "vocals": List(List(Value("float32"))),
            "has_vocals": Value("bool"),
            "f0_hz": List(Value("float32")),
            "times_s": List(Value("float64")),
            "has_f0": Value("bool"),
            "voicing": List(Value("bool")),
            "duration_s": Value("float64"),
            "licence": Value("string"),
        }
    )


def files_fingerprint(paths: Iterable) -> str:
    """A hash of the (path, size, mtime) of files, so that the ``datasets`` cache is rebuilt when
    the corpus on disk changes. Missing files count too (as missing)."""
    h = hashlib.sha256()
    for p in sorted(str(p) for p in paths):
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()
