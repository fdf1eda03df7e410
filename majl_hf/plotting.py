"""The f0 track drawn over the vocals' log-spectrogram (matplotlib, headless)."""

from __future__ import annotations

import numpy as np


def plot_f0_over_spectrogram(vocals: np.ndarray, sampling_rate: int, times_s: np.ndarray, f0_hz: np.ndarray,
                             voiced: np.ndarray, path, title: str = "", fmax_hz: float = 2000.0) -> None:
    """Write a PNG: log-magnitude STFT of the (mono-mixed) vocals, f0 on voiced frames in red."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    mono = vocals.mean(0) if vocals.ndim == 2 else vocals
    n_fft = 4096 if sampling_rate > 32000 else 2048
    hop = n_fft // 4
    if mono.shape[-1] < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.shape[-1]))
    n_frames = 1 + (mono.shape[-1] - n_fft) // hop
    # bounded memory for long songs: at most ~4000 columns
    step = max(1, n_frames // 4000)
    idx = np.arange(0, n_frames, step)
    window = np.hanning(n_fft).astype(np.float32)
    frames = np.stack([mono[i * hop : i * hop + n_fft] * window for i in idx])
    spec = np.abs(np.fft.rfft(frames, axis=-1)).T
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sampling_rate)
    keep = (freqs > 0) & (freqs <= fmax_hz)
    db = 20 * np.log10(spec[keep] + 1e-6)
    t_spec = (idx * hop + n_fft / 2) / sampling_rate
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=100)
    vmax = db.max() if db.size else 0
    ax.pcolormesh(t_spec, freqs[keep], db, shading="auto", cmap="magma", vmin=vmax - 80, vmax=vmax)
    f = np.where(voiced & (f0_hz > 0), f0_hz, np.nan)
    ax.plot(times_s, f, color="cyan", linewidth=1.2, label="f0 (voiced)")
    ax.set_yscale("log")
    ax.set_ylim(40, fmax_hz)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title(title or "vocal f0 over the separated vocals")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
