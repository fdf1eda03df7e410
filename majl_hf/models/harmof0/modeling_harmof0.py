"""HarmoF0 pitch estimator (Wei et al., ICME 2022): multi-rate dilated convolutions on a
log-frequency spectrogram."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..common import PitchEstimatorPreTrainedModel, frame_signal
from .configuration_harmof0 import HarmoF0Config


def log_frequency_filterbank(config: HarmoF0Config) -> np.ndarray:
    """(n_fft // 2 + 1, n_bins) triangular filters, one per log-frequency bin, each spanning its
    neighbours' centres (at least two FFT bins wide so low bins are never empty)."""
    n_fft_bins = config.n_fft // 2 + 1
    fft_hz = np.arange(n_fft_bins) * config.sampling_rate / config.n_fft
    k = np.arange(-1, config.n_bins + 1)
    centres = config.fmin_hz * 2.0 ** (k / config.bins_per_octave)
    df = config.sampling_rate / config.n_fft
    fb = np.zeros((n_fft_bins, config.n_bins))
    for i in range(config.n_bins):
        lo, mid, hi = centres[i], centres[i + 1], centres[i + 2]
        lo, hi = min(lo, mid - df), max(hi, mid + df)
        up = (fft_hz - lo) / (mid - lo)
        down = (hi - fft_hz) / (hi - mid)
        fb[:, i] = np.clip(np.minimum(up, down), 0, None)
        fb[:, i] /= max(fb[:, i].sum(), 1e-12)
    return fb.astype(np.float32)


class MultiRateDilatedBlock(nn.Module):
    """Harmonic (multi-rate) dilation along frequency, an octave-dilated conv and a time conv."""

    def __init__(self, in_ch: int, out_ch: int, config: HarmoF0Config):
        super().__init__()
        self.shifts = [round(config.bins_per_octave * math.log2(h)) for h in range(1, config.n_harmonics + 1)]
        self.harmonic_convs = nn.ModuleList(nn.Conv2d(in_ch, out_ch, 1) for _ in self.shifts)
        self.bn1 = nn.BatchNorm2d(out_ch, momentum=config.batch_norm_momentum)
        self.octave_conv = nn.Conv2d(
            out_ch, out_ch, (1, 3), dilation=(1, config.bins_per_octave), padding=(0, config.bins_per_octave)
        )
        self.bn2 = nn.BatchNorm2d(out_ch, momentum=config.batch_norm_momentum)
        k = config.time_kernel
        self.time_conv = nn.Conv2d(out_ch, out_ch, (k, 1), padding=(k // 2, 0))
        self.bn3 = nn.BatchNorm2d(out_ch, momentum=config.batch_norm_momentum)

    def forward(self, x):  # (B, C, T, F)
        n_bins = x.shape[-1]
        y = 0
        for shift, conv in zip(self.shifts, self.harmonic_convs):
            # bin f gathers the response at its h-th harmonic, f + shift
            shifted = F.pad(x[..., shift:], (0, min(shift, n_bins))) if shift else x
            y = y + conv(shifted[..., :n_bins])
        y = self.bn1(F.relu(y))
        y = self.bn2(F.relu(self.octave_conv(y)))
        return self.bn3(F.relu(self.time_conv(y)))


class HarmoF0Model(PitchEstimatorPreTrainedModel):
    config_class = HarmoF0Config
    base_model_prefix = "harmof0"

    def __init__(self, config: HarmoF0Config):
        super().__init__(config)
        ch = config.channels
        self.input_conv = nn.Conv2d(1, ch[0], 3, padding=1)
        self.input_bn = nn.BatchNorm2d(ch[0], momentum=config.batch_norm_momentum)
        self.blocks = nn.ModuleList(MultiRateDilatedBlock(i, o, config) for i, o in zip(ch[:-1], ch[1:]))
        self.head = nn.Sequential(
            nn.Conv2d(ch[-1], max(ch[-1] // 2, 1), 1),
            nn.ReLU(),
            nn.BatchNorm2d(max(ch[-1] // 2, 1), momentum=config.batch_norm_momentum),
            nn.Conv2d(max(ch[-1] // 2, 1), 1, 1),
        )
        self._filterbanks: dict = {}  # (device, dtype) → filterbank; derived from config, never saved
        self.post_init()

    frame_local = False

    @property
    def context_frames(self) -> int:
        """Frames of context each side for exact chunked inference: the analysis window plus the
        time receptive field of the 3×3 input conv and each block's time conv."""
        cfg = self.config
        return -(-cfg.n_fft // 2 // cfg.hop_length) + 1 + len(self.blocks) * (cfg.time_kernel // 2)

    def filterbank(self, device, dtype) -> torch.Tensor:
        key = (str(device), dtype)
        if key not in self._filterbanks:
            self._filterbanks[key] = torch.from_numpy(log_frequency_filterbank(self.config)).to(device, dtype)
        return self._filterbanks[key]

    def log_spectrogram(self, input_values: torch.Tensor) -> torch.Tensor:
        """(batch, samples) → (batch, frames, n_bins) log-compressed log-frequency magnitudes."""
        cfg = self.config
        frames = frame_signal(input_values, cfg.n_fft, cfg.hop_length)
        window = torch.hann_window(cfg.n_fft, periodic=True, dtype=frames.dtype, device=frames.device)
        mag = torch.fft.rfft(frames * window, dim=-1).abs()
        return torch.log1p(cfg.log_compression * (mag @ self.filterbank(mag.device, mag.dtype)))

    def forward(
        self,
        input_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        target_f0_hz: torch.Tensor | None = None,
        label_sigma_cents: float = 25.0,
        return_dict: bool | None = True,
        **kwargs,
    ):
        """input_values: (batch, samples) mono at ``config.sampling_rate`` → (batch, frames, n_bins) logits."""
        x = self._check_input(input_values)
        spec = self.log_spectrogram(x.float())[:, None].to(self.dtype)  # (B, 1, T, F)
        y = self.input_bn(F.relu(self.input_conv(spec)))
        for block in self.blocks:
            y = block(y)
        logits = self.head(y)[:, 0].float()
        return self._output(logits, labels, target_f0_hz, label_sigma_cents, return_dict)


__all__ = ["HarmoF0Model"]
