"""MedleyDB: multitrack recordings with per-stem pitch annotations.

Folder tree (the corpus's own layout)::

    MedleyDB/
      Audio/<Track>/<Track>_MIX.wav                 44.1 kHz stereo mix
      Audio/<Track>/<Track>_STEMS/<Track>_STEM_xx.wav  one file per stem, same length as the mix
      Metadata/<Track>_METADATA.yaml                artist, instrumental flag, stems → instrument
      Annotations/Pitch/<Track>_STEM_xx.csv         "time_s,f0_hz[,extra]", voiced frames only,
                                                    256/44100 s hop (a missing time = unvoiced);
                                                    ``Annotations/Pitch_Annotations/`` (the name in
                                                    the official download) is found as well

Where to get it: https://medleydb.weebly.com/ (audio on Zenodo, access on request; v1
https://zenodo.org/record/1649325); annotations and metadata also in https://github.com/marl/medleydb.
Licence: CC BY-NC-SA 4.0.

What an example holds (``corpus="medleydb"``, one per track):

- ``mixture``: ``<Track>_MIX.wav`` as is (channels, samples).
- ``vocals``: the sum of the stems whose metadata instrument is a voice (:data:`VOCAL_INSTRUMENTS`:
  singers, "vocalists", choir, rapper, screamer, speaker; not beatboxing). A stem may differ from
  the mix in length by up to ``max_length_mismatch_s`` (zero-padded / cropped at the end).
- ``f0_hz``: the Pitch annotations of the vocal stems, put on the 20 ms grid with
  :func:`~majl_hf.pitch.labels.resample_f0` after marking the voicing gaps explicitly (a grid frame
  is voiced iff the nearest annotation row is voiced). With several annotated vocal stems the
  frame's f0 is that of the first voiced stem in priority order: stems whose metadata
  ``component`` is ``"melody"`` first, then by stem number. A vocal stem without a Pitch
  annotation still counts in ``vocals``, is left out of ``f0_hz`` and is logged; a vocal track
  where *no* vocal stem has one is a missing-label error.
- Silent-vocal rule: a track whose metadata says ``instrumental: 'yes'`` and lists no vocal stem
  has *known* silent vocals: ``has_vocals`` True with zero vocals, ``has_f0`` True with every frame
  unvoiced. (No stem files are needed for such a track.) A track marked non-instrumental that lists
  no vocal stem is a metadata error.

Label/audio length rule: annotation rows may run past the end of the audio by at most
``max_label_excess_s`` (default 0.5 s; cropped). A shorter annotation is normal (voiced-only).

Split (``split_by``), both 80/20 and the same on every machine:

- ``"singer"`` (the default): by the metadata's ``artist`` (the performer: a singer never spans both
  splits; leak-free), with :func:`~majl_hf.data.base.assign_split` (sha256 of ``"<seed>:<artist>"``).
  Large artists (Music Delta has dozens of tracks) make the realised share vary with the seed.
- ``"clip"``: the MAJL paper's split, 80/20 at random over tracks
  (:func:`~majl_hf.data.base.split_at_random`: exactly ``round(0.2 · n)`` test tracks of the ``n``
  listed in ``Metadata/``, seeded). The Table 5 configurations use this one.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from ..pitch.labels import resample_f0
from ..utils import require
from .base import (
    CorpusError,
    assign_split,
    audio_info,
    check_split_by,
    fit_length,
    grid_times,
    make_example,
    read_audio,
    split_at_random,
)
from .corpus import Corpus

logger = logging.getLogger(__name__)

CORPUS = "medleydb"
LICENCE = "CC BY-NC-SA 4.0"
PITCH_HOP_S = 256 / 44100  # s: hop of MedleyDB's Pitch annotations
DEFAULT_MAX_LABEL_EXCESS_S = 0.5  # s: annotation rows allowed past the end of the audio (cropped)
DEFAULT_MAX_LENGTH_MISMATCH_S = 0.01  # s: stem vs mix length difference that is padded/cropped
VOCAL_INSTRUMENTS = (
    "male singer",
    "female singer",
    "vocalists",
    "choir",
    "male rapper",
    "female rapper",
    "male screamer",
    "female screamer",
    "male speaker",
    "female speaker",
)
PITCH_DIRS = ("Pitch", "Pitch_Annotations")  # folders under Annotations/ searched for Pitch CSVs


# ---------------------------------------------------------------------------------------------
# Files


def read_metadata(path) -> dict:
    """Parse a ``<Track>_METADATA.yaml`` (needs pyyaml, the ``train`` extra); :class:`CorpusError`
    when missing, unparsable or without a ``stems`` mapping."""
    yaml = require("yaml", "train")
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, "metadata file not found")
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception as err:
        raise CorpusError(path, f"malformed metadata YAML ({err})") from err
    if not isinstance(meta, dict):
        raise CorpusError(path, "malformed metadata: expected a mapping at the top level")
    stems = meta.get("stems")
    if not isinstance(stems, dict):
        raise CorpusError(path, "malformed metadata: no 'stems' mapping")
    for key, stem in stems.items():
        if not isinstance(stem, dict) or not isinstance(stem.get("filename"), str):
            raise CorpusError(path, f"malformed metadata: stem {key!r} has no filename")
    return meta


def read_pitch_csv(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a MedleyDB Pitch annotation: rows ``time_s,f0_hz`` (a third column, when present, is
    ignored), voiced frames only. Returns ``(times_s, f0_hz)``; :class:`CorpusError` naming the file
    and line for a missing file, a non-numeric or negative value, or times that do not increase."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, "pitch annotation (CSV) not found")
    times, f0s = [], []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(path, f"malformed pitch CSV: not text ({err})") from err
    for lineno, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < 2:
            raise CorpusError(path, f"line {lineno}: expected 'time,f0' but got {','.join(row)!r}")
        try:
            t, f = float(row[0]), float(row[1])
        except ValueError:
            raise CorpusError(path, f"line {lineno}: non-numeric time or f0 in {','.join(row)!r}") from None
        if not (np.isfinite(t) and np.isfinite(f)) or t < 0 or f < 0:
            raise CorpusError(path, f"line {lineno}: time and f0 must be finite and >= 0, got {t}, {f}")
        if times and t <= times[-1]:
            raise CorpusError(path, f"line {lineno}: time {t} s does not increase (previous {times[-1]} s)")
        times.append(t)
        f0s.append(f)
    if not times:
        raise CorpusError(path, "empty pitch annotation")
    return np.asarray(times), np.asarray(f0s)


def voiced_rows_to_dense(times_s: np.ndarray, f0_hz: np.ndarray, hop_s: float = PITCH_HOP_S):
    """Make the unvoiced parts of a voiced-only annotation explicit: an unvoiced row (f0 0) is
    put one ``hop_s`` after the end and before the start of every run of rows (a run ends where two
    rows are more than 1.5 hops apart), so that interpolation never bridges a gap."""
    times_s = np.asarray(times_s, dtype=np.float64)
    f0_hz = np.asarray(f0_hz, dtype=np.float64)
    if len(times_s) == 0:
        return times_s, f0_hz
    breaks = np.flatnonzero(np.diff(times_s) > 1.5 * hop_s)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(times_s) - 1]])
    t = np.concatenate([times_s, times_s[starts] - hop_s, times_s[ends] + hop_s])
    f = np.concatenate([f0_hz, np.zeros(len(starts)), np.zeros(len(ends))])
    order = np.argsort(t, kind="stable")
    t, f = t[order], f[order]
    keep = np.concatenate([[True], np.diff(t) > 1e-9])  # a marker may coincide with a row: keep one
    return t[keep], f[keep]


def pitch_csv_on_grid(
    path, n_samples: int, sampling_rate: int, *, max_label_excess_s: float = DEFAULT_MAX_LABEL_EXCESS_S
) -> np.ndarray:
    """A MedleyDB Pitch CSV on the 20 ms grid of ``n_samples`` at ``sampling_rate`` Hz (Hz, 0 = unvoiced)."""
    times_s, f0_hz = read_pitch_csv(path)
    times_dst = grid_times(n_samples, sampling_rate)
    duration_s = n_samples / sampling_rate
    if times_s[-1] - duration_s > max_label_excess_s:
        raise CorpusError(
            path,
            f"annotation runs to {times_s[-1]:.2f} s, {times_s[-1] - duration_s:.2f} s past the end of the "
            f"{duration_s:.2f} s audio (tolerance {max_label_excess_s} s): annotation of another take or excerpt?",
        )
    t, f = voiced_rows_to_dense(times_s, f0_hz)
    return resample_f0(t, f, times_dst, max_gap_s=PITCH_HOP_S)


def find_pitch_csv(root: Path, stem_filename: str) -> Path:
    """The Pitch CSV of a stem, in ``Annotations/Pitch/`` or ``Annotations/Pitch_Annotations/``;
    when neither has it, the path where it was expected first (which does not exist)."""
    name = Path(stem_filename).stem + ".csv"
    candidates = [root / "Annotations" / d / name for d in PITCH_DIRS]
    return next((c for c in candidates if c.is_file()), candidates[0])


def _stem_number(key: str) -> int:
    digits = "".join(ch for ch in str(key) if ch.isdigit())
    return int(digits) if digits else 0


def vocal_stems(meta: dict, vocal_instruments: Sequence[str] = VOCAL_INSTRUMENTS) -> list[tuple[str, dict]]:
    """``(key, stem)`` of the vocal stems, in f0 priority order (melody component first, then stem number)."""
    wanted = {v.lower() for v in vocal_instruments}
    stems = [(k, s) for k, s in meta["stems"].items() if str(s.get("instrument", "")).strip().lower() in wanted]
    return sorted(stems, key=lambda ks: (str(ks[1].get("component", "")).strip() != "melody", _stem_number(ks[0])))


def _listed_tracks(root: Path) -> list[str]:
    """Every track with a ``Metadata/<Track>_METADATA.yaml``, by name."""
    meta_dir = root / "Metadata"
    if not meta_dir.is_dir():
        raise CorpusError(meta_dir, "MedleyDB Metadata/ folder not found (is root the MedleyDB folder?)")
    found = sorted(p.name[: -len("_METADATA.yaml")] for p in meta_dir.glob("*_METADATA.yaml"))
    if not found:
        raise CorpusError(meta_dir, "no *_METADATA.yaml files")
    return found


def _artist(track: str, meta: dict) -> str:
    artist = meta.get("artist")
    return str(artist).strip() if artist else track


# ---------------------------------------------------------------------------------------------
# The corpus


class MedleyDB(Corpus):
    """MedleyDB (module docstring): one example per track, by track name.

    Args:
        root: the MedleyDB folder (holding ``Audio/``, ``Metadata/``, ``Annotations/Pitch/``
            or ``Annotations/Pitch_Annotations/``).
        split: ``"train"``, ``"test"`` or ``None`` (all tracks, each tagged with its split).
        split_by: ``"singer"`` (default; by the metadata's artist, leak-free) or ``"clip"`` (the
            paper's 80/20 at random over tracks).
        tracks: track names to load (default: every ``Metadata/*_METADATA.yaml``). With
            ``split_by="clip"`` the split is still drawn over every listed track.
        seed: split seed (int).
        test_fraction: share put in the test split, in [0, 1] (of artists in expectation with
            ``"singer"``, of tracks exactly with ``"clip"``).
        vocal_instruments: metadata instrument names that count as vocals (case-insensitive).
        include_instrumental: also yield instrumental tracks (silent vocals, all frames unvoiced).
        on_error: ``"raise"`` (default) or ``"skip"`` (log a warning and leave the track out).
        max_label_excess_s: seconds an annotation may run past the end of the audio (cropped).
        max_length_mismatch_s: seconds a stem may differ in length from the mix (padded/cropped).
    """

    name = CORPUS
    display_name = "MedleyDB"
    licence = LICENCE
    labels = frozenset({"vocals", "f0"})
    ids_option = "tracks"

    def __init__(
        self,
        root,
        *,
        split: str | None = None,
        split_by: str = "singer",
        tracks: Sequence[str] | None = None,
        seed: int = 0,
        test_fraction: float = 0.2,
        vocal_instruments: Sequence[str] = VOCAL_INSTRUMENTS,
        include_instrumental: bool = True,
        on_error: str = "raise",
        max_label_excess_s: float = DEFAULT_MAX_LABEL_EXCESS_S,
        max_length_mismatch_s: float = DEFAULT_MAX_LENGTH_MISMATCH_S,
    ):
        check_split_by(split_by)
        if not 0.0 <= test_fraction <= 1.0:
            raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
        if isinstance(tracks, str):
            raise ValueError(f"tracks must be a list of track names, got the string {tracks!r}")
        self.split_by = split_by
        self.tracks = None if tracks is None else list(tracks)
        self.seed = int(seed)
        self.test_fraction = float(test_fraction)
        self.vocal_instruments = tuple(vocal_instruments)
        self.include_instrumental = bool(include_instrumental)
        self.max_label_excess_s = float(max_label_excess_s)
        self.max_length_mismatch_s = float(max_length_mismatch_s)
        super().__init__(root, split=split, on_error=on_error)

    def track_names(self) -> list[str]:
        """The tracks this instance reads: ``tracks``, or every track listed in ``Metadata/``."""
        return list(self.tracks) if self.tracks is not None else _listed_tracks(self.root)

    def _items(self):
        names = self.track_names()
        by_clip = None
        if self.split_by == "clip":  # drawn over every listed track, so that `tracks` does not move it
            listed = _listed_tracks(self.root) if (self.root / "Metadata").is_dir() else []
            by_clip = split_at_random(set(listed) | set(names), seed=self.seed, test_fraction=self.test_fraction)
        for track in names:
            try:
                meta = read_metadata(self.root / "Metadata" / f"{track}_METADATA.yaml")
            except CorpusError as err:
                if self.on_error == "raise":
                    raise
                logger.warning("skipping %s: %s", err.path, err.problem)
                continue
            if by_clip is not None:
                track_split = by_clip[track]
            else:
                track_split = assign_split(_artist(track, meta), seed=self.seed, test_fraction=self.test_fraction)
            if self.split is not None and track_split != self.split:
                continue
            yield track, meta, track_split

    def _build(self, item) -> dict:
        track, meta, track_split = item
        meta_path = self.root / "Metadata" / f"{track}_METADATA.yaml"
        track_dir = self.root / "Audio" / track
        mix_path = track_dir / str(meta.get("mix_filename") or f"{track}_MIX.wav")
        voc = vocal_stems(meta, self.vocal_instruments)
        instrumental = str(meta.get("instrumental", "")).strip().lower() in ("yes", "true")
        if not voc and not instrumental:
            raise CorpusError(meta_path, "track is not marked instrumental but lists no vocal stem")
        if not voc and not self.include_instrumental:
            raise CorpusError(meta_path, "instrumental track (include_instrumental=False)")
        mixture, sr = read_audio(mix_path)
        n = mixture.shape[1]
        vocals = np.zeros_like(mixture)
        f0 = np.zeros(len(grid_times(n, sr)), dtype=np.float64)
        if voc:
            stem_dir = track_dir / str(meta.get("stem_dir") or f"{track}_STEMS")
            tolerance = int(round(self.max_length_mismatch_s * sr))
            annotated = 0
            for key, stem in voc:
                stem_path = stem_dir / stem["filename"]
                if not stem_path.is_file():
                    raise CorpusError(
                        stem_path, f"vocal stem {key} ({stem.get('instrument')}) listed in metadata is missing"
                    )
                info = audio_info(stem_path)
                if info.samplerate != sr:
                    raise CorpusError(stem_path, f"stem rate {info.samplerate} Hz differs from the mix's {sr} Hz")
                audio, _ = read_audio(stem_path, channels=mixture.shape[0])
                vocals += fit_length(audio, n, path=stem_path, what="vocal stem", tolerance_samples=tolerance)
                csv_path = find_pitch_csv(self.root, stem["filename"])
                if not csv_path.is_file():
                    logger.info("%s: vocal stem %s has no pitch annotation %s", track, key, csv_path)
                    continue
                stem_f0 = pitch_csv_on_grid(csv_path, n, sr, max_label_excess_s=self.max_label_excess_s)
                f0 = np.where(f0 > 0, f0, stem_f0)  # earlier (higher-priority) stems win
                annotated += 1
            if annotated == 0:
                expected = find_pitch_csv(self.root, voc[0][1]["filename"])
                raise CorpusError(expected, "pitch annotation (CSV) not found for any vocal stem of this track")
        return make_example(
            id=track,
            corpus=CORPUS,
            split=track_split,
            mixture=mixture,
            vocals=vocals,
            sampling_rate=sr,
            f0_hz=f0,
            licence=LICENCE,
        )


    def files(self) -> list[Path]:
        root, out = self.root, []
        for t in self.track_names():
            out += [root / "Metadata" / f"{t}_METADATA.yaml", root / "Audio" / t / f"{t}_MIX.wav"]
            out += list((root / "Audio" / t / f"{t}_STEMS").glob("*.wav"))
            for d in PITCH_DIRS:
                out += list((root / "Annotations" / d).glob(f"{t}_STEM_*.csv"))
        return out


iter_medleydb = MedleyDB.iterate  # the function forms of before: iter_medleydb(root, split, **options)
load_medleydb = MedleyDB.load
