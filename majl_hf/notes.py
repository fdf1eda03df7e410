"""Sung notes from an f0 track: segmentation, MIDI files, and the note metrics of MIR-ST500.

A note is ``(onset_s, offset_s, pitch)`` with ``pitch`` a MIDI note number (A4 = 69), the layout
of MIR-ST500's note file (``[[onset, offset, pitch], ...]``); :class:`Note` is that triple, used
by the segmenter, the MIDI writer, MIR-ST500's loader and the evaluation runner alike.

    from majl_hf.notes import segment_notes, write_midi
    notes = segment_notes(result["times_s"], result["f0_hz"], result["voiced"])
    write_midi(notes, "song.mid", f0=(result["times_s"], result["f0_hz"]))  # f0 → optional pitch bends

Segmentation (:func:`segment_notes`), on the f0 in fractional MIDI numbers, frame by frame:

1. **Voiced runs.** A note never spans an unvoiced stretch longer than ``max_gap_s`` (shorter ones
   are bridged: the f0 tracker's one-frame dropouts inside a held note).
2. **Vibrato tolerance.** The pitch is smoothed by a running median over ``vibrato_s`` (default
   3 frames of 20 ms: it removes single-frame octave errors and jitter). The vibrato itself is
   tolerated by the persistence rule of step 3: one half-cycle of a 5–7 Hz vibrato (70–100 ms)
   is shorter than ``min_note_s``. Longer windows (one whole vibrato cycle, 140–200 ms) measured
   worse: they smear the note changes too.
3. **Pitch stability.** Inside a run a new note starts where the smoothed pitch leaves the current
   note's reference pitch by more than ``split_semitones`` and stays away for ``min_note_s``. The
   reference is the median of the note's frames so far, never of fewer than its first
   ``min_note_s`` (so that the frames of a glide into the note do not set it). Shorter
   excursions (a scoop, an ornament, a tracking error) stay in the note.
4. **Minimum note length.** Notes shorter than ``min_note_s`` are dropped; neighbouring notes of
   the same pitch with no gap between them are joined.

A note's pitch is the rounded median of its frames' (unsmoothed) MIDI numbers; its onset is half a
hop before its first frame's centre and its offset half a hop after its last. The defaults were
chosen by ``scripts/evaluate_notes.py`` (each parameter swept with the others at their defaults, on
synthetic sung melodies with known notes — lognormal durations, glides, vibrato, jitter, dropouts —
and on notes derived from the real MedleyDB annotations); its report is
``model_cards/measured/notes.md``.

Metrics (:func:`note_metrics`): ``mir_eval.transcription`` with MIR-ST500's settings — onset within
50 ms, pitch within 50 cents, offset within 20 % of the reference note's length or 50 ms:
``conpoff`` (onset, pitch and offset), ``conp`` (onset and pitch), ``con`` (onset only), each
as precision / recall / F-measure.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from .utils import require

# Segmentation defaults (see the module docstring and model_cards/measured/notes.md)
DEFAULT_MIN_NOTE_S = 0.1  # s: the shortest note kept
DEFAULT_SPLIT_SEMITONES = 0.5  # semitones: a pitch change beyond this (for min_note_s) starts a new note
DEFAULT_VIBRATO_S = 0.06  # s: running-median window over the pitch (vibrato tolerance)
DEFAULT_MAX_GAP_S = 0.04  # s: unvoiced stretches up to this long do not end a note

# MIR-ST500's (and mir_eval's) note-matching tolerances
ONSET_TOLERANCE_S = 0.05
PITCH_TOLERANCE_CENTS = 50.0
OFFSET_RATIO = 0.2
OFFSET_MIN_TOLERANCE_S = 0.05
NOTE_METRICS = ("conpoff", "conp", "con")
NOTE_METRIC_DESCRIPTIONS = {
    "conpoff": "note F-measure, onset (50 ms), pitch (50 cents) and offset (20 % or 50 ms) correct",
    "conp": "note F-measure, onset (50 ms) and pitch (50 cents) correct",
    "con": "note F-measure, onset (50 ms) correct",
}

# MIDI files: 120 bpm at 1000 ticks per beat = 0.5 ms per tick, so times on a 10 ms grid are exact
MIDI_RESOLUTION = 1000
MIDI_TEMPO = 120.0
MIDI_PROGRAM = 53  # General MIDI "Voice Oohs"
MIDI_VELOCITY = 100
DEFAULT_BEND_RANGE = 2.0  # semitones: the General MIDI default pitch-bend range
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


class Note(NamedTuple):
    """One note: onset and offset in seconds, pitch as a MIDI note number (A4 = 69; integral for
    transcribed notes, annotations may hold fractions). Iterates as MIR-ST500's ``[onset, offset, pitch]``."""

    onset_s: float
    offset_s: float
    pitch: float

    @property
    def name(self) -> str:
        """The note's name, e.g. ``"C4"`` for 60."""
        midi = int(round(self.pitch))
        return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"

    @property
    def pitch_hz(self) -> float:
        return 440.0 * 2.0 ** ((self.pitch - 69.0) / 12.0)


# ---------------------------------------------------------------------------------------------- conversions


def notes_from_array(array) -> list[Note]:
    """``(n, 3)`` rows ``[onset_s, offset_s, midi]`` (MIR-ST500's layout) → sorted :class:`Note` list."""
    arr = np.asarray(array, dtype=np.float64).reshape(-1, 3)
    notes = [Note(float(a), float(b), float(p)) for a, b, p in arr]
    return sorted(notes)


def notes_to_array(notes: Iterable) -> np.ndarray:
    """Notes → ``(n, 3)`` float64 ``[onset_s, offset_s, midi]``."""
    rows = [tuple(map(float, n)) for n in notes]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def _check_notes(notes: Iterable, name: str = "notes") -> list[Note]:
    out = []
    for i, n in enumerate(notes):
        onset, offset, pitch = (float(v) for v in n)
        if not all(math.isfinite(v) for v in (onset, offset, pitch)) or onset < 0 or offset <= onset:
            raise ValueError(f"{name}[{i}]: needs 0 <= onset < offset, got {tuple(n)!r}")
        if not 0 < pitch <= 127:
            raise ValueError(f"{name}[{i}]: MIDI pitch {pitch} outside (0, 127]")
        out.append(Note(onset, offset, pitch))
    return out


def _hz_to_midi(f0_hz: np.ndarray) -> np.ndarray:
    f = np.asarray(f0_hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, 69.0 + 12.0 * np.log2(f / 440.0), np.nan)


# ---------------------------------------------------------------------------------------------- segmentation


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    """Median over ``width`` (odd) frames centred on each frame; edges use the frames there are."""
    if width <= 1 or len(x) < 2:
        return x.copy()
    half = width // 2
    padded = np.pad(x, half, mode="constant", constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows (bridged gaps) stay NaN: filled later
        return np.nanmedian(windows, axis=-1)


def _split_run(s: np.ndarray, split: float, min_frames: int) -> list[tuple[int, int]]:
    """Segments ``[start, end)`` of a voiced run's smoothed pitch ``s`` (step 3 of the docstring).

    A note's reference pitch is the median of its frames so far, never of fewer than its first
    ``min_frames`` (so that the frames of a glide into the note do not set it)."""
    n = len(s)
    segments, start, i = [], 0, 1
    ref = float(np.median(s[:min_frames]))
    while i < n:
        if abs(s[i] - ref) > split:
            k = i
            while k < n and k - i < min_frames and abs(s[k] - ref) > split:
                k += 1
            if k - i < min_frames:  # a short excursion (scoop, ornament, tracking error): stays in the note
                i = k
                continue
            segments.append((start, i))  # a new stable pitch
            start = i
        ref = float(np.median(s[start:max(i + 1, start + min_frames)]))
        i += 1
    segments.append((start, n))
    return segments


def segment_notes(
    times_s,
    f0_hz,
    voiced=None,
    *,
    min_note_s: float = DEFAULT_MIN_NOTE_S,
    split_semitones: float = DEFAULT_SPLIT_SEMITONES,
    vibrato_s: float = DEFAULT_VIBRATO_S,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> list[Note]:
    """Notes of an f0 track on a regular grid (module docstring).

    Args:
        times_s: frame centres (s), evenly spaced.
        f0_hz: f0 per frame (Hz); ``<= 0`` is unvoiced.
        voiced: optional bool per frame; a frame is voiced where it is True and ``f0_hz > 0``.
        min_note_s, split_semitones, vibrato_s, max_gap_s: the four parameters of the docstring.
    """
    t = np.asarray(times_s, dtype=np.float64)
    f = np.asarray(f0_hz, dtype=np.float64)
    if t.ndim != 1 or f.shape != t.shape:
        raise ValueError(f"times_s and f0_hz must be 1-D of one length, got {t.shape} and {f.shape}")
    for name, value in (("min_note_s", min_note_s), ("vibrato_s", vibrato_s), ("max_gap_s", max_gap_s)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be >= 0 seconds, got {value!r}")
    if not (math.isfinite(split_semitones) and split_semitones > 0):
        raise ValueError(f"split_semitones must be > 0, got {split_semitones!r}")
    if len(t) == 0:
        return []
    hop = float(np.median(np.diff(t))) if len(t) > 1 else 0.02
    if len(t) > 2 and np.max(np.abs(np.diff(t) - hop)) > 0.01 * hop:
        raise ValueError("times_s must be evenly spaced (resample the f0 track onto a regular grid first)")
    on = np.isfinite(f) & (f > 0)
    if voiced is not None:
        v = np.asarray(voiced, dtype=bool)
        if v.shape != t.shape:
            raise ValueError(f"voiced has shape {v.shape}, expected {t.shape}")
        on &= v
    midi = _hz_to_midi(np.where(on, f, 0.0))
    min_frames = max(1, int(round(min_note_s / hop)))
    width = max(1, int(round(vibrato_s / hop)) | 1)
    max_gap = int(math.floor(max_gap_s / hop + 1e-9))
    # voiced runs, bridging gaps of up to max_gap frames
    idx = np.flatnonzero(on)
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    run_starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    run_ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
    notes: list[Note] = []
    for a, b in zip(run_starts, run_ends):
        m = midi[a:b]
        s = _running_median(m, width)
        s = _fill_nan(s)
        for sa, sb in _split_run(s, split_semitones, min_frames):
            if sb - sa < min_frames:
                continue
            frames = m[sa:sb]
            frames = frames[np.isfinite(frames)]
            if len(frames) == 0:
                continue
            pitch = int(round(float(np.median(frames))))
            onset = max(0.0, t[a + sa] - hop / 2)
            offset = t[a + sb - 1] + hop / 2
            if notes and notes[-1].pitch == pitch and abs(notes[-1].offset_s - onset) < 1e-9:
                notes[-1] = Note(notes[-1].onset_s, offset, pitch)  # same pitch, no gap: one note
            else:
                notes.append(Note(float(onset), float(offset), pitch))
    return notes


def _fill_nan(x: np.ndarray) -> np.ndarray:
    """Bridged unvoiced frames (NaN) take the nearest value (linear interpolation)."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    good = np.flatnonzero(~bad)
    if len(good) == 0:
        return np.zeros_like(x)
    x = x.copy()
    x[bad] = np.interp(np.flatnonzero(bad), good, x[good])
    return x


def notes_from_result(result: Mapping, **options) -> list[Note]:
    """:func:`segment_notes` on a ``majl-vocal`` result (its ``times_s``, ``f0_hz``, ``voiced``)."""
    return segment_notes(result["times_s"], result["f0_hz"], result.get("voiced"), **options)


# ---------------------------------------------------------------------------------------------- files


def notes_csv(notes: Iterable) -> str:
    """CSV text: ``onset_s,offset_s,pitch_midi,note`` (``\\n`` line ends)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["onset_s", "offset_s", "pitch_midi", "note"])
    for n in _check_notes(notes):
        pitch = int(n.pitch) if float(n.pitch).is_integer() else round(n.pitch, 3)
        w.writerow([f"{n.onset_s:.4f}", f"{n.offset_s:.4f}", pitch, n.name])
    return buf.getvalue()


def read_notes_csv(path) -> list[Note]:
    """Read a file written by :func:`write_notes_csv`."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [Note(float(r["onset_s"]), float(r["offset_s"]), float(r["pitch_midi"])) for r in rows]


def write_notes_csv(notes: Iterable, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notes_csv(notes), encoding="utf-8", newline="")
    return path


def write_midi(
    notes: Iterable,
    path,
    *,
    f0: tuple | None = None,
    bend_range_semitones: float = DEFAULT_BEND_RANGE,
    program: int = MIDI_PROGRAM,
    velocity: int = MIDI_VELOCITY,
) -> Path:
    """Write notes as a one-track MIDI file (pretty_midi; 120 bpm, 0.5 ms ticks).

    With ``f0=(times_s, f0_hz)`` the sung pitch inside each note is added as pitch bends (relative
    to the note's pitch, clipped to ±``bend_range_semitones``, one event per frame where it
    changes, reset to 0 at each offset); without it the file holds the notes alone."""
    pretty_midi = require("pretty_midi", "app")
    notes = _check_notes(notes)
    pm = pretty_midi.PrettyMIDI(resolution=MIDI_RESOLUTION, initial_tempo=MIDI_TEMPO)
    inst = pretty_midi.Instrument(program=program, name="vocals")
    for n in notes:
        inst.notes.append(pretty_midi.Note(velocity=int(velocity), pitch=int(round(n.pitch)), start=n.onset_s,
                                           end=n.offset_s))
    if f0 is not None:
        times, hz = (np.asarray(x, dtype=np.float64) for x in f0)
        midi = _hz_to_midi(hz)
        for n in notes:
            inside = (times >= n.onset_s) & (times < n.offset_s) & np.isfinite(midi)
            last = None
            for t, m in zip(times[inside], midi[inside]):
                dev = float(np.clip(m - round(n.pitch), -bend_range_semitones, bend_range_semitones))
                value = int(np.clip(round(8192 * dev / bend_range_semitones), -8192, 8191))
                if value != last:
                    inst.pitch_bends.append(pretty_midi.PitchBend(value, float(t)))
                    last = value
            if last not in (None, 0):
                inst.pitch_bends.append(pretty_midi.PitchBend(0, n.offset_s))
    pm.instruments.append(inst)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


def read_midi(path) -> list[Note]:
    """The notes of a MIDI file (all instruments), sorted by onset."""
    pretty_midi = require("pretty_midi", "app")
    pm = pretty_midi.PrettyMIDI(str(path))
    return sorted(Note(float(n.start), float(n.end), float(n.pitch)) for inst in pm.instruments for n in inst.notes)


# ---------------------------------------------------------------------------------------------- metrics


def _intervals_pitches(notes: Sequence[Note]):
    arr = notes_to_array(notes)
    return arr[:, :2], 440.0 * 2.0 ** ((arr[:, 2] - 69.0) / 12.0)


def note_metrics(
    reference: Iterable,
    estimate: Iterable,
    *,
    onset_tolerance: float = ONSET_TOLERANCE_S,
    pitch_tolerance: float = PITCH_TOLERANCE_CENTS,
    offset_ratio: float = OFFSET_RATIO,
    offset_min_tolerance: float = OFFSET_MIN_TOLERANCE_S,
) -> dict:
    """Note precision / recall / F-measure (``mir_eval.transcription``) of ``estimate`` against
    ``reference``: keys ``{conpoff,conp,con}_{precision,recall,f}`` (fractions), ``n_ref``,
    ``n_est``. With no reference note every value is ``None`` (undefined); with no estimated note
    precision is ``None`` and recall and F are 0."""
    transcription = require("mir_eval.transcription", "eval")
    ref = _check_notes(reference, "reference")
    est = _check_notes(estimate, "estimate")
    out: dict = {"n_ref": len(ref), "n_est": len(est)}
    if not ref or not est:
        for metric in NOTE_METRICS:
            out[f"{metric}_precision"] = None
            out[f"{metric}_recall"] = None if not ref else 0.0
            out[f"{metric}_f"] = None if not ref else 0.0
        return out
    ri, rp = _intervals_pitches(ref)
    ei, ep = _intervals_pitches(est)
    p, r, f, _ = transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=onset_tolerance, pitch_tolerance=pitch_tolerance,
        offset_ratio=offset_ratio, offset_min_tolerance=offset_min_tolerance)
    out.update(conpoff_precision=p, conpoff_recall=r, conpoff_f=f)
    p, r, f, _ = transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=onset_tolerance, pitch_tolerance=pitch_tolerance, offset_ratio=None)
    out.update(conp_precision=p, conp_recall=r, conp_f=f)
    p, r, f = transcription.onset_precision_recall_f1(ri, ei, onset_tolerance=onset_tolerance)
    out.update(con_precision=p, con_recall=r, con_f=f)
    return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in out.items()}


def aggregate_note_metrics(per_track: Sequence[Mapping]) -> dict:
    """The mean over tracks of each per-track value (MIR-ST500's convention: songs weigh alike);
    tracks where a value is undefined are left out of that mean. Adds the note counts."""
    out: dict = {}
    for metric in NOTE_METRICS:
        for part in ("precision", "recall", "f"):
            key = f"{metric}_{part}"
            vals = [float(m[key]) for m in per_track if m.get(key) is not None]
            out[key] = float(np.mean(vals)) if vals else None
    out["n_ref"] = int(sum(int(m.get("n_ref", 0)) for m in per_track))
    out["n_est"] = int(sum(int(m.get("n_est", 0)) for m in per_track))
    out["n_tracks"] = len(per_track)
    return out


__all__ = [
    "DEFAULT_MAX_GAP_S", "DEFAULT_MIN_NOTE_S", "DEFAULT_SPLIT_SEMITONES", "DEFAULT_VIBRATO_S", "NOTE_METRICS",
    "NOTE_METRIC_DESCRIPTIONS", "Note", "aggregate_note_metrics", "note_metrics", "notes_csv", "notes_from_array",
    "notes_from_result", "notes_to_array", "read_midi", "read_notes_csv", "segment_notes", "write_midi",
    "write_notes_csv",
]
