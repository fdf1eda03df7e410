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
from typing import Sequence

import numpy as np

from .base import CorpusError, DecoderNotFoundError, make_example, read_audio
from .corpus import Corpus

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


class MUSDB18(Corpus):
    """MUSDB18 or MUSDB18-HQ (module docstring): one example per track.

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

    name = CORPUS
    display_name = "MUSDB18"
    licence = LICENCE
    labels = frozenset({"vocals"})
    ids_option = "tracks"
    museval_by_default = True  # SiSEC / MUSDB18 convention: BSS Eval v4, median over windows and tracks

    def __init__(
        self,
        root,
        *,
        split: str | None = None,
        tracks: Sequence[str] | None = None,
        fmt: str = "auto",
        validation: bool = False,
        on_error: str = "raise",
    ):
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
        if isinstance(tracks, str):
            raise ValueError(f"tracks must be a list of track names, got the string {tracks!r}")
        self.tracks = None if tracks is None else list(tracks)
        self.fmt = fmt
        self.validation = bool(validation)
        super().__init__(root, split=split, on_error=on_error)

    @property
    def available_splits(self) -> tuple:
        return ("train", "validation", "test") if self.validation else ("train", "test")

    def _items(self):
        plan = _plan(self.root, self.fmt, self.tracks)
        return [x for x in plan if self.split is None or _folder_split(x[0], x[1], self.validation) == self.split]

    def _build(self, item) -> dict:
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
            split=_folder_split(folder, track, self.validation),
            mixture=mixture,
            vocals=vocals,
            sampling_rate=sr,
            f0_hz=None,
            licence=LICENCE,
        )


    def files(self) -> list[Path]:
        out = []
        for _, _, kind, p in _plan(self.root, self.fmt, self.tracks):
            out += [p] if kind == "stem" else [p / "mixture.wav", p / "vocals.wav"]
        return out


iter_musdb18 = MUSDB18.iterate  # the function forms of before: iter_musdb18(root, split, **options)
load_musdb18 = MUSDB18.load
