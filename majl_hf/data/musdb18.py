"""MUSDB18 and MUSDB18-HQ: 150 full tracks with vocals / drums / bass / other stems (separation only).

Folder trees (the corpus's own layouts; track names contain spaces)::

    MUSDB18-HQ/                                 MUSDB18/
      train/<Artist - Title>/mixture.wav          train/<Artist - Title>.stem.mp4
                            vocals.wav            test/<Artist - Title>.stem.mp4
                            drums.wav, bass.wav, other.wav   (not used)
      test/<Artist - Title>/...

``.stem.mp4`` is the STEMS format: five AAC streams (0 mixture, 1 drums, 2 bass, 3 other,
4 vocals). Decoding it needs the ``ffmpeg`` program (e.g. ``apt-get install ffmpeg`` or
``conda install -c conda-forge ffmpeg``); without it a :class:`~majl_hf.data.base.DecoderNotFoundError`
says so. The WAV layout needs nothing but soundfile. Its streams were encoded separately, so the
mixture is not exactly the sum of the stems (differences up to ~0.05).

Where to get it: MUSDB18 https://zenodo.org/record/1117372, MUSDB18-HQ https://zenodo.org/record/3338373
(sigsep, Rafii et al. 2017/2019). Licence: research and educational use only; the tracks carry
their own licences (many CC BY-NC-SA, e.g. those from MedleyDB).

What an example holds (``corpus="musdb18"``, one per track): ``mixture`` and ``vocals`` as stored
(stereo, 44.1 kHz), ``has_vocals`` True, no pitch label (``has_f0`` False). Mixture and vocals must
have the same rate, channel count and length.

Splits: the official ``train``/``test`` folders. With ``validation=True`` the 14 tracks of musdb's
official validation list (:data:`VALIDATION_TRACKS`) are taken out of ``train`` as ``"validation"``.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .base import (
    CorpusError,
    DecoderNotFoundError,
    build_dataset,
    check_on_error,
    check_split,
    files_fingerprint,
    guarded,
    make_example,
    read_audio,
)

logger = logging.getLogger(__name__)

CORPUS = "musdb18"
LICENCE = "MUSDB18: research/educational use only; per-track licences (many CC BY-NC-SA)"
FORMATS = ("auto", "wav", "stem")
STEM_STREAMS = {"mixture": 0, "drums": 1, "bass": 2, "other": 3, "vocals": 4}
STEM_SAMPLING_RATE = 44100  # Hz
# musdb's official validation subset of the train folder (sigsep-mus-db, configs/mus.yaml)
VALIDATION_TRACKS = (
    "Actions - One Minute Smile",
    "Alexander Ross - Goodbye Bolero",
    "ANiMAL - Rockshow",
    "Clara Berry And Wooldog - Waltz For My Victims",
    "Fergessen - Nos Palpitants",
    "James May - On The Line",
    "Johnny Lokke - Promises & Lies",
    "Leaf - Summerghost",
    "Meaxic - Take A Step",
    "Patrick Talbot - A Reason To Leave",
    "Skelpolu - Human Mistakes",
    "Traffic Experiment - Sirens",
    "Triviul - Angelsaint",
    "Young Griffo - Pennies",
)


def read_stem_mp4(path, streams: Sequence[str] = ("mixture", "vocals")) -> tuple[list[np.ndarray], int]:
    """Decode streams of a ``.stem.mp4`` with the ``ffmpeg`` program (float32, (2, samples) each,
    44.1 kHz). All streams are cut to the shortest one (AAC priming may differ by a few samples).

    Raises:
        DecoderNotFoundError: ffmpeg is not on PATH (the message says how to install it).
        CorpusError: the file is missing or ffmpeg cannot decode a stream.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, "stem file not found")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise DecoderNotFoundError(
            f"{path}: decoding MUSDB18 .stem.mp4 needs the ffmpeg program, which is not on PATH. "
            "Install ffmpeg (e.g. `apt-get install ffmpeg` or `conda install -c conda-forge ffmpeg`), "
            "or use MUSDB18-HQ (WAV files, read with soundfile)."
        )
    out = []
    for name in streams:
        cmd = [
            ffmpeg, "-nostdin", "-v", "error", "-i", str(path),
            "-map", f"0:a:{STEM_STREAMS[name]}", "-f", "f32le", "-acodec", "pcm_f32le",
            "-ac", "2", "-ar", str(STEM_SAMPLING_RATE), "-",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, check=False)
        if proc.returncode != 0 or not proc.stdout:
            msg = proc.stderr.decode("utf-8", "replace").strip()[-300:]
            raise CorpusError(path, f"ffmpeg could not decode stream {STEM_STREAMS[name]} ({name}): {msg}")
        out.append(np.frombuffer(proc.stdout, dtype="<f4").reshape(-1, 2).T.copy())
    n = min(a.shape[1] for a in out)
    return [a[:, :n] for a in out], STEM_SAMPLING_RATE


def _folder_split(folder: str, track: str, validation: bool) -> str:
    if folder == "train" and validation and track in VALIDATION_TRACKS:
        return "validation"
    return folder


def _plan(root: Path, fmt: str, tracks: Sequence[str] | None) -> list[tuple[str, str, str, Path]]:
    """``(folder, track, kind, path)`` for every track, WAV preferred when both layouts are present."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    found: dict[tuple[str, str], tuple[str, Path]] = {}
    for folder in ("train", "test"):
        d = root / folder
        if not d.is_dir():
            continue
        if fmt in ("auto", "stem"):
            for p in sorted(d.glob("*.stem.mp4")):
                found[(folder, p.name[: -len(".stem.mp4")])] = ("stem", p)
        if fmt in ("auto", "wav"):
            for p in sorted(q for q in d.iterdir() if q.is_dir()):
                found[(folder, p.name)] = ("wav", p)
    if not found:
        raise CorpusError(root, f"no MUSDB18 tracks found under train/ or test/ (fmt={fmt!r})")
    plan = [(folder, track, kind, p) for (folder, track), (kind, p) in sorted(found.items())]
    if tracks is not None:
        wanted = set(tracks)
        plan = [x for x in plan if x[1] in wanted]
    return plan


def iter_musdb18(
    root,
    split: str | None = None,
    *,
    tracks: Sequence[str] | None = None,
    fmt: str = "auto",
    validation: bool = False,
    on_error: str = "raise",
) -> Iterator[dict]:
    """Yield MUSDB18(-HQ) examples (the schema of :mod:`majl_hf.data.base`), one per track.

    Args:
        root: the MUSDB18 or MUSDB18-HQ folder (holding ``train/`` and/or ``test/``).
        split: ``"train"``, ``"test"``, ``"validation"`` (only with ``validation=True``) or ``None``.
        tracks: track names (``"Artist - Title"``) to load; default all.
        fmt: ``"wav"`` (HQ folders), ``"stem"`` (``.stem.mp4``, needs ffmpeg) or ``"auto"`` (both,
            WAV preferred for a track present in both layouts).
        validation: split musdb's 14 official validation tracks off ``train``.
        on_error: ``"raise"`` (default) or ``"skip"`` (log a warning and leave the track out).
            A missing ffmpeg is not bad data: it raises :class:`DecoderNotFoundError` either way.
    """
    check_split(split, ("train", "test", "validation") if validation else ("train", "test"))
    check_on_error(on_error)
    root = Path(root)
    plan = [x for x in _plan(root, fmt, tracks) if split is None or _folder_split(x[0], x[1], validation) == split]

    def build(item) -> dict:
        folder, track, kind, path = item
        if kind == "wav":
            mixture, sr = read_audio(path / "mixture.wav")
            vocals, sr_v = read_audio(path / "vocals.wav")
            if sr_v != sr:
                raise CorpusError(path / "vocals.wav", f"rate {sr_v} Hz differs from mixture.wav's {sr} Hz")
            if vocals.shape[0] != mixture.shape[0]:
                raise CorpusError(
                    path / "vocals.wav", f"{vocals.shape[0]} channel(s) but mixture.wav has {mixture.shape[0]}"
                )
            if vocals.shape[1] != mixture.shape[1]:
                raise CorpusError(
                    path / "vocals.wav", f"{vocals.shape[1]} samples but mixture.wav has {mixture.shape[1]}"
                )
        else:
            (mixture, vocals), sr = read_stem_mp4(path, ("mixture", "vocals"))
        return make_example(
            id=track,
            corpus=CORPUS,
            split=_folder_split(folder, track, validation),
            mixture=mixture,
            vocals=vocals,
            sampling_rate=sr,
            f0_hz=None,
            licence=LICENCE,
        )

    yield from guarded(plan, build, on_error, logger)


def load_musdb18(
    root,
    split: str | None = None,
    *,
    tracks: Sequence[str] | None = None,
    fmt: str = "auto",
    validation: bool = False,
    on_error: str = "raise",
    cache_dir=None,
    keep_in_memory: bool = False,
):
    """MUSDB18(-HQ) as a ``datasets.Dataset`` (one ``split``) or ``DatasetDict`` (``train``/``test``
    [/``validation``]). Same arguments as :func:`iter_musdb18`, plus ``cache_dir`` and
    ``keep_in_memory``. Needs the ``train`` extra."""
    splits = ("train", "validation", "test") if validation else ("train", "test")
    check_split(split, splits)
    check_on_error(on_error)
    root = Path(root).resolve()
    plan = _plan(root, fmt, tracks)
    paths = []
    for _, _, kind, p in plan:
        paths += [p] if kind == "stem" else [p / "mixture.wav", p / "vocals.wav"]
    kwargs = dict(
        root=str(root),
        tracks=[x[1] for x in plan],
        fmt=fmt,
        validation=validation,
        on_error=on_error,
    )
    return build_dataset(
        CORPUS,
        kwargs,
        split=split,
        splits=splits,
        fingerprint=files_fingerprint(paths),
        cache_dir=cache_dir,
        keep_in_memory=keep_in_memory,
    )
