"""Synthetic corpora in each corpus's native layout, for the Table 5 runner's tests and its scale
measurement: sung notes (a harmonic tone following a note sequence, with vibrato) over an
accompaniment (a chord of sawtooth-ish tones and noise), and the labels the real corpora ship.

- MIR-1K: ``Wavfile/<singer>_<song>_<clip>.wav`` (16 kHz stereo PCM16, left = accompaniment,
  right = vocals) and ``PitchLabel/<clip>.pv`` (one MIDI semitone per 20 ms frame centred at
  0.02·i + 0.02 s, 0 = unvoiced).
- MUSDB18-HQ: ``train|test/<Artist - Title>/{mixture,vocals,drums,bass,other}.wav`` (44.1 kHz stereo).
- MIR-ST500: ``<audio>/train|test/<id>/Mixture.wav`` and a note file
  ``{"<id>": [[onset_s, offset_s, midi], ...]}`` (ids 1–400 train, 401–500 test).

Nothing is downloaded; everything is seeded. A command line makes a MIR-1K-sized corpus for the
scale measurement (README, Training)::

    python -m tests.training.synthetic_corpora mir1k /tmp/mir1k-synth --clips 1000 --seconds 8
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SINGERS = ("abjones", "amy", "bobon", "geniusturtle", "heycat", "jmzen", "khair", "leon", "stool", "titon")


def _notes(rng: np.random.Generator, seconds: float, low: int = 50, high: int = 72) -> np.ndarray:
    """Notes [onset_s, offset_s, midi] with gaps, inside [0.1, seconds - 0.1]."""
    notes, t = [], float(rng.uniform(0.05, 0.3))
    while True:
        dur = float(rng.uniform(0.2, 0.7))
        if t + dur > seconds - 0.1:
            break
        notes.append((t, t + dur, int(rng.integers(low, high + 1))))
        t += dur + float(rng.uniform(0.04, 0.3))
    return np.asarray(notes, dtype=np.float64).reshape(-1, 3)


def _midi_at(notes: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    midi = np.zeros(len(times_s))
    for onset, offset, pitch in notes:
        midi[(times_s >= onset) & (times_s < offset)] = pitch
    return midi


def sing(rng: np.random.Generator, notes: np.ndarray, n_samples: int, sr: int) -> np.ndarray:
    """A voice singing ``notes``: 4 harmonics, 5 Hz vibrato, short fades at note edges, (n,) float32."""
    t = np.arange(n_samples) / sr
    midi = _midi_at(notes, t)
    voiced = midi > 0
    f0 = np.where(voiced, 440.0 * 2.0 ** ((midi - 69.0) / 12.0), 0.0)
    f0 = f0 * (1 + 0.006 * np.sin(2 * np.pi * 5.0 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    env = np.zeros(n_samples)
    fade = max(1, int(0.01 * sr))
    for onset, offset, _ in notes:
        a, b = int(onset * sr), min(int(offset * sr), n_samples)
        if b > a:
            e = np.ones(b - a)
            k = min(fade, (b - a) // 2)
            if k:
                e[:k] = np.linspace(0, 1, k)
                e[-k:] = np.linspace(1, 0, k)
            env[a:b] = e
    amps = rng.uniform(0.5, 1.0, size=4) / np.arange(1, 5)
    voice = sum(a * np.sin((h + 1) * phase) for h, a in enumerate(amps))
    return (0.25 * env * voice / amps.sum()).astype(np.float32)


def accompany(rng: np.random.Generator, n_samples: int, sr: int) -> np.ndarray:
    """A chord that changes every second plus a little noise, (n,) float32."""
    t = np.arange(n_samples) / sr
    out = 0.01 * rng.standard_normal(n_samples)
    for start in range(0, n_samples, sr):
        sl = slice(start, min(start + sr, n_samples))
        root = 40 + int(rng.integers(0, 12))
        for interval in (0, 4, 7):
            f = 440.0 * 2.0 ** ((root + interval - 69) / 12.0)
            out[sl] += 0.05 * (np.sin(2 * np.pi * f * t[sl]) + 0.3 * np.sin(4 * np.pi * f * t[sl]))
    return out.astype(np.float32)


def _write(path: Path, audio: np.ndarray, sr: int) -> None:
    """(channels, samples) → PCM16 WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(audio.T, -1.0, 1.0), sr, subtype="PCM_16")


def make_mir1k(root, n_clips: int = 10, seconds: float = 2.0, seed: int = 0, singers=SINGERS) -> list[str]:
    """A MIR-1K folder of ``n_clips`` clips of ``seconds`` (names ``<singer>_<song>_<clip>``); the clip ids."""
    root = Path(root)
    sr = 16000
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    n_grid = 1 + n // int(0.02 * sr)
    ids = []
    for i in range(n_clips):
        clip = f"{singers[i % len(singers)]}_{1 + i // (5 * len(singers))}_{1 + (i // len(singers)) % 5:02d}"
        notes = _notes(rng, seconds)
        vocals, acc = sing(rng, notes, n, sr), accompany(rng, n, sr)
        _write(root / "Wavfile" / f"{clip}.wav", np.stack([acc, vocals]), sr)
        centres = 0.02 * np.arange(n_grid - 1) + 0.02  # .pv line i is centred at 0.02 i + 0.02 s
        midi = _midi_at(notes, centres)
        pv = root / "PitchLabel" / f"{clip}.pv"
        pv.parent.mkdir(parents=True, exist_ok=True)
        pv.write_text("".join(f"{m:.4f}\n" if m else "0\n" for m in midi), encoding="ascii")
        ids.append(clip)
    return ids


def make_musdb18(root, n_train: int = 2, n_test: int = 1, seconds: float = 3.0, seed: int = 1) -> list[str]:
    """A MUSDB18-HQ folder (44.1 kHz stereo WAV stems); the track names."""
    root = Path(root)
    sr = 44100
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    names = []
    for i in range(n_train + n_test):
        folder = "train" if i < n_train else "test"
        name = f"Synthetic Artist {i} - Song {i}"
        vocals = sing(rng, _notes(rng, seconds), n, sr)
        vocals = np.stack([vocals, 0.9 * vocals])
        drums = (0.02 * rng.standard_normal((2, n))).astype(np.float32)
        bass = np.zeros((2, n), np.float32)
        other = np.stack([accompany(rng, n, sr)] * 2)
        d = root / folder / name
        for stem, audio in (("vocals", vocals), ("drums", drums), ("bass", bass), ("other", other)):
            _write(d / f"{stem}.wav", audio, sr)
        _write(d / "mixture.wav", vocals + drums + bass + other, sr)
        names.append(name)
    return names


def make_mirst500(audio_root, notes_path, train_ids=(1, 2), test_ids=(401,), seconds: float = 3.0, seed: int = 2,
                  sr: int = 44100) -> list[str]:
    """MIR-ST500 audio (``<audio_root>/train|test/<id>/Mixture.wav``, stereo) and its note file; the song ids."""
    audio_root, notes_path = Path(audio_root), Path(notes_path)
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    notes_all = {}
    for sid in (*train_ids, *test_ids):
        notes = _notes(rng, seconds)
        mix = sing(rng, notes, n, sr) + accompany(rng, n, sr)
        folder = "train" if sid <= 400 else "test"
        _write(audio_root / folder / str(sid) / "Mixture.wav", np.stack([mix, mix]), sr)
        notes_all[str(sid)] = [[round(a, 4), round(b, 4), int(m)] for a, b, m in notes]
    notes_path.parent.mkdir(parents=True, exist_ok=True)
    notes_path.write_text(json.dumps(notes_all), encoding="utf-8")
    return [str(s) for s in (*train_ids, *test_ids)]


def make_all(root, *, mir1k_clips: int = 10, mir1k_seconds: float = 2.0, song_seconds: float = 3.0) -> dict:
    """Every corpus the Table 5 runner reads, under ``root``: the runner's corpus arguments."""
    root = Path(root)
    make_mir1k(root / "MIR-1K", n_clips=mir1k_clips, seconds=mir1k_seconds)
    make_musdb18(root / "MUSDB18-HQ", seconds=song_seconds)
    notes = root / "MIR-ST500" / "MIR-ST500_20210206" / "MIR-ST500_corrected.json"
    make_mirst500(root / "MIR-ST500" / "audio", notes, seconds=song_seconds)
    return {
        "mir1k": str(root / "MIR-1K"),
        "musdb18": str(root / "MUSDB18-HQ"),
        "mirst500_audio": str(root / "MIR-ST500" / "audio"),
        "mirst500_notes": str(notes),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="write a synthetic corpus in its native layout")
    p.add_argument("corpus", choices=("mir1k", "all"))
    p.add_argument("root")
    p.add_argument("--clips", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=8.0)
    ns = p.parse_args(argv)
    if ns.corpus == "mir1k":
        ids = make_mir1k(ns.root, n_clips=ns.clips, seconds=ns.seconds)
        print(f"{len(ids)} MIR-1K clips of {ns.seconds} s in {ns.root}")
    else:
        print(json.dumps(make_all(ns.root, mir1k_clips=ns.clips, mir1k_seconds=ns.seconds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
