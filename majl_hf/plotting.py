"""The f0 track drawn over the vocals' log-spectrogram (matplotlib, headless), for a musician to
read the melody: a log-frequency axis in Hz on the left and note names (every C, a tick per
semitone) on the right, the f0 as a line only between neighbouring voiced frames less than
``max_jump_semitones`` apart (unvoiced frames and octave jumps are gaps, not vertical strokes), the
time axis from 0 to the end of the audio, the legend above the spectrogram and a colour bar in dBFS.
"""

from __future__ import annotations

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
HZ_TICKS = (50, 100, 200, 300, 500, 1000, 2000, 3000, 5000)


def note_name(hz: float) -> str:
    """Nearest equal-tempered note (A4 = 440 Hz), e.g. 261.6 → ``"C4"``."""
    midi = int(round(69 + 12 * np.log2(hz / 440.0)))
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def f0_line(times_s: np.ndarray, f0_hz: np.ndarray, voiced: np.ndarray, max_jump_semitones: float = 6.0):
    """(x, y) for ``plot``: voiced f0 with NaN breaks at unvoiced frames and between neighbouring
    frames more than ``max_jump_semitones`` apart (an inserted NaN point between them)."""
    t = np.asarray(times_s, dtype=np.float64)
    f = np.where(np.asarray(voiced, bool) & (np.asarray(f0_hz) > 0), np.asarray(f0_hz, np.float64), np.nan)
    if f.size < 2:
        return t, f
    with np.errstate(invalid="ignore", divide="ignore"):
        jump = np.abs(12 * np.log2(f[1:] / f[:-1])) > max_jump_semitones
    cut = np.flatnonzero(jump) + 1  # insert a NaN point before each of these frames
    x = np.insert(t, cut, (t[cut - 1] + t[cut]) / 2)
    y = np.insert(f, cut, np.nan)
    return x, y


def _spectrogram_db(mono: np.ndarray, sampling_rate: int, fmax_hz: float, max_columns: int = 4000):
    n_fft = 4096 if sampling_rate > 32000 else 2048
    hop = n_fft // 4
    x = np.pad(mono.astype(np.float32), (n_fft // 2, n_fft // 2))  # centred frames: column t at t·hop
    n_frames = max(1, 1 + (x.shape[-1] - n_fft) // hop)
    step = max(1, n_frames // max_columns)  # bounded memory and drawing time on long songs
    idx = np.arange(0, n_frames, step)
    window = np.hanning(n_fft).astype(np.float32)
    x = np.pad(x, (0, max(0, idx[-1] * hop + n_fft - x.shape[-1])))
    frames = np.stack([x[i * hop: i * hop + n_fft] * window for i in idx])
    mag = np.abs(np.fft.rfft(frames, axis=-1)).T * (2.0 / window.sum())  # a full-scale sine reads 0 dBFS
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sampling_rate)
    keep = (freqs > 0) & (freqs <= fmax_hz)
    return idx * hop / sampling_rate, freqs[keep], 20 * np.log10(mag[keep] + 1e-7)


def f0_figure(vocals: np.ndarray, sampling_rate: int, times_s: np.ndarray, f0_hz: np.ndarray, voiced: np.ndarray,
              title: str = "", fmin_hz: float = 50.0, fmax_hz: float = 2000.0, max_jump_semitones: float = 6.0,
              dynamic_range_db: float = 80.0, spectrogram=None, duration_s: float | None = None):
    """The matplotlib Figure (see the module docstring); :func:`plot_f0_over_spectrogram` saves it.

    ``spectrogram=(times_s, freqs_hz, db)`` draws precomputed columns instead of analysing ``vocals``
    (then ``None``; the streamed command line computes them block by block); ``duration_s`` is where the
    time axis ends (default: the vocals' length; required with ``spectrogram``)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullFormatter

    if spectrogram is None:
        if vocals is None:
            raise ValueError("f0_figure needs the vocals or a precomputed spectrogram=(times_s, freqs_hz, db)")
        vocals = np.asarray(vocals)
        mono = vocals.mean(0) if vocals.ndim == 2 else vocals
        duration = mono.shape[-1] / sampling_rate if duration_s is None else float(duration_s)
        t_spec, freqs, db = _spectrogram_db(mono, sampling_rate, fmax_hz)
    else:
        if duration_s is None:
            raise ValueError("f0_figure with spectrogram= needs duration_s (where the time axis ends)")
        t_spec, freqs, db = (np.asarray(a) for a in spectrogram)
        duration = float(duration_s)
    fig = Figure(figsize=(12, 5), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    vmax = max(float(db.max()), -120.0 + dynamic_range_db) if db.size else 0.0
    mesh = ax.pcolormesh(t_spec, freqs, db, shading="nearest", cmap="magma", vmin=vmax - dynamic_range_db,
                         vmax=vmax, rasterized=True)
    x, y = f0_line(times_s, f0_hz, voiced, max_jump_semitones)
    ax.plot(x, y, color="cyan", linewidth=1.4, marker=".", markersize=2.5, label="f0 (voiced frames)")
    ax.set_yscale("log")
    ax.set_ylim(fmin_hz, fmax_hz)
    ax.set_xlim(0.0, duration)
    ticks = [h for h in HZ_TICKS if fmin_hz <= h <= fmax_hz]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.set_yticklabels([f"{h:g}" for h in ticks])
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    # note names on the right: every C labelled (with a light grid line), a small tick per semitone
    notes = ax.twinx()
    notes.set_yscale("log")
    notes.set_ylim(fmin_hz, fmax_hz)
    midi = np.arange(int(np.ceil(69 + 12 * np.log2(fmin_hz / 440))), int(69 + 12 * np.log2(fmax_hz / 440)) + 1)
    hz = 440.0 * 2 ** ((midi - 69) / 12)
    cs = hz[midi % 12 == 0]
    notes.yaxis.set_major_locator(FixedLocator(cs))
    notes.set_yticklabels([note_name(h) for h in cs])
    notes.yaxis.set_minor_locator(FixedLocator(hz))
    notes.yaxis.set_minor_formatter(NullFormatter())
    notes.set_ylabel("note")
    for h in cs:
        ax.axhline(h, color="white", alpha=0.25, linewidth=0.6)
    fig.colorbar(mesh, ax=[ax, notes], label="vocals level (dBFS)", pad=0.01, fraction=0.03)
    ax.set_title(title or "vocal f0 over the separated vocals", loc="left")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside upper right", frameon=False)
    return fig


def plot_f0_over_spectrogram(vocals: np.ndarray, sampling_rate: int, times_s: np.ndarray, f0_hz: np.ndarray,
                             voiced: np.ndarray, path, title: str = "", fmax_hz: float = 2000.0, **kwargs) -> None:
    """Write a PNG of :func:`f0_figure` to ``path``."""
    fig = f0_figure(vocals, sampling_rate, times_s, f0_hz, voiced, title=title, fmax_hz=fmax_hz, **kwargs)
    fig.savefig(path, format="png")


__all__ = ["f0_figure", "f0_line", "note_name", "plot_f0_over_spectrogram"]
