"""MIR-ST500: 500 pop songs with vocal note annotations (pitch labels only; audio from YouTube).

Folder trees::

    MIR-ST500_20210206/                 the official index (github, below)
      MIR-ST500_corrected.json          {"<song id>": [[onset_s, offset_s, midi_pitch], ...], ...}
      MIR-ST500_link.json               {"<song id>": "<YouTube URL>"}
      metadata.csv                      song_id,youtube_link,orig_id,labeler,verifier
      README

    <root>/                             the audio the user downloaded; any of these layouts:
      train/<id>/Mixture.mp3            (the official get_youtube.py layout: #1–#400)
      test/<id>/Mixture.mp3             (#401–#500)
      <id>/Mixture.<ext>
      <id>.<ext>                        ext: wav, flac, ogg or mp3 (read with soundfile)

Where to get it: https://github.com/york135/singing_transcription_ICASSP2021 (Wang & Jang,
ICASSP 2021); the audio with its ``get_youtube.py`` from the links. Licence: the annotations
come with no licence file (NTU MIR Lab, research use); the audio belongs to its rights holders.

What an example holds (``corpus="mirst500"``, one per song whose audio is found): ``mixture`` the
audio as stored (channels, samples), no separation label (``has_vocals`` False), and ``f0_hz``
from the notes: a grid frame centred at ``t`` is voiced with the note's pitch
(:func:`~majl_hf.pitch.convert.midi_to_hz`) when ``onset <= t < offset``, unvoiced outside every
note; where notes overlap, the later one wins. Songs listed in the note file without audio are
left out (counted in an info log: many YouTube links are dead); audio without an entry in the note
file is a missing-label error. Notes may run past the end of the audio by at most
``max_label_excess_s`` (default 1.0 s; cropped) — more means the audio is another version.

Split: the official one (README): songs #1–#400 ``train``, #401–#500 ``test``. When
``metadata.csv`` is found (``metadata_path``, default beside the note file) every song id must be
listed in it.

The corpus's ``root`` is the audio folder; the note file is the option ``notes_path`` (required).

The notes themselves are :class:`majl_hf.notes.Note` lists (the type the segmenter, the MIDI
writer and the evaluation runner use): :meth:`MIRST500.reference_notes` gives a song's, and
:func:`read_note_lists` the whole file's; ``scripts/evaluate.py --corpus mirst500`` scores the
pipeline's notes against them (COnPOff / COnP / COn F-measure) beside RPA/RCA.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from ..pitch.convert import midi_to_hz
from .base import CorpusError, grid_times, make_example, read_audio
from .corpus import Corpus

logger = logging.getLogger(__name__)

CORPUS = "mirst500"
LICENCE = "MIR-ST500 annotations: no licence file (research use); audio: rights holders (YouTube)"
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
N_TRAIN_SONGS = 400  # official split: ids 1..400 train, 401..500 test
DEFAULT_MAX_LABEL_EXCESS_S = 1.0  # s: notes allowed past the end of the audio (cropped)


def official_split(song_id: str) -> str:
    """``"train"`` for songs #1–#400, ``"test"`` for #401–#500 (MIR-ST500 README)."""
    return "train" if int(song_id) <= N_TRAIN_SONGS else "test"


def read_notes(path) -> dict[str, np.ndarray]:
    """Read ``MIR-ST500_corrected.json``: ``{song_id: (n_notes, 3) array [onset_s, offset_s, midi]}``.

    :class:`CorpusError` naming the file (and song / note) for a missing file, invalid JSON, a
    non-integer song id, a note that is not three numbers, ``offset <= onset``, a negative onset or
    a pitch outside (0, 127].
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, "note file (MIR-ST500_corrected.json) not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorpusError(path, f"malformed JSON ({err})") from err
    if not isinstance(data, dict):
        raise CorpusError(path, "malformed note file: expected {song_id: [[onset, offset, pitch], ...]}")
    out = {}
    for song, notes in data.items():
        if not str(song).isdigit():
            raise CorpusError(path, f"song id {song!r} is not a number")
        if not isinstance(notes, list):
            raise CorpusError(path, f"song {song}: notes must be a list")
        arr = np.zeros((len(notes), 3))
        for j, note in enumerate(notes):
            ok = isinstance(note, (list, tuple)) and len(note) == 3
            ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in note)
            if not ok:
                raise CorpusError(
                    path, f"song {song}, note {j}: expected [onset_s, offset_s, midi_pitch], got {note!r}"
                )
            onset, offset, pitch = (float(v) for v in note)
            if not all(math.isfinite(v) for v in (onset, offset, pitch)) or onset < 0 or offset <= onset:
                raise CorpusError(path, f"song {song}, note {j}: needs 0 <= onset < offset, got {note!r}")
            if not 0 < pitch <= 127:
                raise CorpusError(path, f"song {song}, note {j}: MIDI pitch {pitch} outside (0, 127]")
            arr[j] = (onset, offset, pitch)
        out[str(int(song))] = arr
    return out


def read_note_lists(path) -> dict:
    """:func:`read_notes` as ``{song_id: [Note, ...]}`` (:class:`majl_hf.notes.Note`, sorted by onset)."""
    from ..notes import notes_from_array

    return {sid: notes_from_array(arr) for sid, arr in read_notes(path).items()}


def notes_to_f0(notes: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Frame f0 (Hz) at ``times_s`` from notes ``[onset_s, offset_s, midi]``: the note's pitch where
    ``onset <= t < offset`` (a later note overrides an earlier overlapping one), 0 elsewhere."""
    times_s = np.asarray(times_s, dtype=np.float64)
    midi = np.zeros_like(times_s)
    for onset, offset, pitch in notes[np.argsort(notes[:, 0], kind="stable")] if len(notes) else []:
        midi[(times_s >= onset - 1e-9) & (times_s < offset - 1e-9)] = pitch
    return midi_to_hz(midi)


def read_metadata_ids(path) -> set[str]:
    """Song ids listed in ``metadata.csv`` (:class:`CorpusError` when malformed)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise CorpusError(path, f"unreadable metadata.csv ({err})") from err
    if not rows or "song_id" not in rows[0]:
        raise CorpusError(path, "malformed metadata.csv: no song_id column")
    ids = set()
    for lineno, row in enumerate(rows, 2):
        sid = (row.get("song_id") or "").strip()
        if not sid.isdigit():
            raise CorpusError(path, f"line {lineno}: song_id {sid!r} is not a number")
        ids.add(str(int(sid)))
    return ids


def find_audio(audio_root: Path) -> dict[str, Path]:
    """``{song_id: audio path}`` for every song found under ``audio_root`` in the layouts above."""
    found: dict[str, Path] = {}

    def add(sid: str, p: Path):
        if sid in found and found[sid] != p:
            raise CorpusError(p, f"song {sid} has more than one audio file (also {found[sid]})")
        found[sid] = p

    for base in (audio_root / "train", audio_root / "test", audio_root):
        if not base.is_dir():
            continue
        for p in sorted(base.iterdir()):
            if p.is_dir() and p.name.isdigit():
                for ext in AUDIO_EXTENSIONS:
                    q = p / f"Mixture{ext}"
                    if q.is_file():
                        add(str(int(p.name)), q)
                        break
            elif p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and p.stem.isdigit():
                add(str(int(p.stem)), p)
    return found


def _plan(audio_root: Path, notes_path: Path, metadata_path, song_ids):
    if not audio_root.is_dir():
        raise CorpusError(audio_root, "audio folder not found")
    audio = find_audio(audio_root)
    if not audio:
        raise CorpusError(
            audio_root,
            "no MIR-ST500 audio found (expected <id>.<ext>, <id>/Mixture.<ext> or train|test/<id>/Mixture.<ext>)",
        )
    if song_ids is not None:
        wanted = {str(int(s)) for s in song_ids}
        audio = {k: v for k, v in audio.items() if k in wanted}
    if metadata_path is None:
        candidate = notes_path.parent / "metadata.csv"
        metadata_path = candidate if candidate.is_file() else None
    return dict(sorted(audio.items(), key=lambda kv: int(kv[0]))), metadata_path


class MIRST500(Corpus):
    """MIR-ST500 (module docstring): one example per song whose audio is found, by song number.

    Args:
        root: the folder holding the downloaded audio (layouts in the module docstring).
        split: ``"train"`` (#1–#400), ``"test"`` (#401–#500) or ``None``.
        notes_path: the note file (``MIR-ST500_corrected.json`` or one in its format); required.
        audio_root: another name for ``root`` (the key of data-source dicts); give one of the two.
        metadata_path: ``metadata.csv``; default the one beside ``notes_path`` when present. Every
            song id must then be listed in it.
        song_ids: restrict to these ids.
        on_error: ``"raise"`` (default) or ``"skip"`` (log a warning and leave the song out).
            A malformed note or metadata file always raises.
        max_label_excess_s: seconds the notes may run past the end of the audio (cropped).
    """

    name = CORPUS
    display_name = "MIR-ST500"
    licence = LICENCE
    labels = frozenset({"f0", "notes"})
    ids_option = "song_ids"

    def __init__(
        self,
        root=None,
        *,
        split: str | None = None,
        notes_path=None,
        audio_root=None,
        metadata_path=None,
        song_ids: Sequence | None = None,
        on_error: str = "raise",
        max_label_excess_s: float = DEFAULT_MAX_LABEL_EXCESS_S,
    ):
        if audio_root is not None and root is not None and Path(audio_root) != Path(root):
            raise ValueError(f"MIR-ST500: root {root!r} and audio_root {audio_root!r} differ (give one of them)")
        root = root if root is not None else audio_root
        if notes_path is None:
            raise ValueError("MIR-ST500 needs notes_path (MIR-ST500_corrected.json or a file in its format)")
        if isinstance(song_ids, (str, int)):
            raise ValueError(f"song_ids must be a list of song ids, got {song_ids!r}")
        self.notes_path = Path(notes_path)
        self.audio_root = None  # folded into root
        self.metadata_path = None if metadata_path is None else Path(metadata_path)
        self.song_ids = None if song_ids is None else [str(int(i)) for i in song_ids]
        self.max_label_excess_s = float(max_label_excess_s)
        super().__init__(root, split=split, on_error=on_error)

    def _plan(self):
        return _plan(self.root, self.notes_path, self.metadata_path, self.song_ids)

    def _items(self):
        audio, metadata_path = self._plan()
        notes = read_notes(self.notes_path)
        known = read_metadata_ids(metadata_path) if metadata_path is not None else None
        missing_audio = sorted(set(notes) - set(audio), key=int)
        if missing_audio and self.song_ids is None:
            logger.info(
                "MIR-ST500: %d songs of %s have no audio under %s", len(missing_audio), self.notes_path, self.root
            )
        return [
            (sid, p, notes, known, metadata_path)
            for sid, p in audio.items()
            if self.split is None or official_split(sid) == self.split
        ]

    def _build(self, item) -> dict:
        sid, path, notes, known, metadata_path = item
        if known is not None and sid not in known:
            raise CorpusError(path, f"song id {sid} is not in {metadata_path}")
        if sid not in notes:
            raise CorpusError(path, f"no notes for song {sid} in {self.notes_path} (missing label)")
        mixture, sr = read_audio(path)
        if mixture.shape[0] > 2:
            raise CorpusError(path, f"expected mono or stereo audio, found {mixture.shape[0]} channels")
        duration = mixture.shape[1] / sr
        song_notes = notes[sid]
        if len(song_notes) and song_notes[:, 1].max() - duration > self.max_label_excess_s:
            raise CorpusError(
                self.notes_path,
                f"song {sid}: notes run to {song_notes[:, 1].max():.2f} s but {path.name} lasts {duration:.2f} s "
                f"(tolerance {self.max_label_excess_s} s): another version of the song?",
            )
        f0 = notes_to_f0(song_notes, grid_times(mixture.shape[1], sr))
        return make_example(
            id=sid,
            corpus=CORPUS,
            split=official_split(sid),
            mixture=mixture,
            vocals=None,
            sampling_rate=sr,
            f0_hz=f0,
            licence=LICENCE,
        )

    def reference_notes(self, example_id) -> list:
        """The annotated notes of song ``example_id`` (:class:`majl_hf.notes.Note` list; the note
        file is read once per corpus instance). KeyError for a song without notes."""
        if getattr(self, "_note_lists", None) is None:
            self._note_lists = read_note_lists(self.notes_path)
        return self._note_lists[str(int(example_id))]

    def files(self) -> list[Path]:
        audio, metadata_path = self._plan()
        return list(audio.values()) + [self.notes_path] + ([metadata_path] if metadata_path else [])


def iter_mirst500(audio_root, notes_path, split: str | None = None, **options):
    """The function form of before: ``iter(MIRST500(audio_root, split=split, notes_path=notes_path, **options))``."""
    return MIRST500.iterate(audio_root, split, notes_path=notes_path, **options)


def load_mirst500(audio_root, notes_path, split: str | None = None, **options):
    """The function form of before: ``MIRST500(audio_root, notes_path=..., ...).to_dataset(...)``."""
    return MIRST500.load(audio_root, split, notes_path=notes_path, **options)
