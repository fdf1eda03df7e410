"""HarmoF0 pitch estimator (Wei, Li, Yu, Li, "HarmoF0: Logarithmic Scale Dilated Convolution for Pitch
Estimation", ICME 2022) as a ``PreTrainedModel``, re-implemented from the published network
(github.com/WX-Wei/HarmoF0, MIT, ``harmof0/network.py`` and ``layers.py``).

Module names are the original's (``block_1.0``, ``block_1.2.conv_list.i``, …, ``conv_5``, ``conv_6``),
so the original state dicts load by key; :mod:`.convert_harmof0` drops their one unused buffer.

Signal path (:meth:`HarmoF0Model.forward`): centred frames of ``n_fft`` samples on the native grid
(frame m centred at m·native_hop_length, zeros beyond the signal — the training code's framing;
the original ``PitchTracker`` instead labels each frame by its first sample, see the tests), the
log-frequency dB map, the network, then the native logits taken on the output grid of
``hop_length`` samples. Beyond each end of the signal the network sees ``n_blocks`` native frames (its time
receptive field) of the zero padding, i.e. silence, rather than the original's zero-valued feature
rows (0 dB is not silence); they are dropped from the output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..common import PitchEstimatorPreTrainedModel, native_to_output_grid
from .configuration_harmof0 import HarmoF0Config


class MRDConv(nn.Module):
    """Multi-rate dilated convolution: one 1×1 conv per harmonic; the output of conv i is shifted
    down by ``shifts[i]`` bins (bin f receives conv_i at bin f + shift, zero beyond the top) and the
    shifted outputs are summed in order — each conv's bias only where its shifted map exists, as
    the original."""

    def __init__(self, in_channels: int, out_channels: int, shifts: list[int]):
        super().__init__()
        self.shifts = list(shifts)
        self.conv_list = nn.ModuleList(nn.Conv2d(in_channels, out_channels, 1) for _ in self.shifts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, F) → (B, C_out, T, F)
        n_bins = x.shape[-1]
        # the 1×1 convs in one call (same per-channel dot products), then the shifted sum
        weight = torch.cat([c.weight for c in self.conv_list])
        bias = torch.cat([c.bias for c in self.conv_list])
        parts = F.conv2d(x, weight, bias).chunk(len(self.shifts), dim=1)
        y = parts[0]
        for shift, part in zip(self.shifts[1:], parts[1:]):
            if shift < n_bins:
                y = y + F.pad(part[..., shift:], (0, shift))
        return y


def _conv_block(in_ch: int, out_ch: int, middle: nn.Module, config: HarmoF0Config) -> nn.Sequential:
    """3×3 conv, ReLU, ``middle``, ReLU, BN: the original ``dila_conv_block`` (indices 0, 2, 4)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1),
        nn.ReLU(),
        middle,
        nn.ReLU(),
        nn.BatchNorm2d(out_ch, eps=config.batch_norm_eps, momentum=config.batch_norm_momentum),
    )


class HarmoF0Model(PitchEstimatorPreTrainedModel):
    config_class = HarmoF0Config
    base_model_prefix = "harmof0"

    def __init__(self, config: HarmoF0Config):
        super().__init__(config)
        ch = config.channels
        self.n_blocks = len(ch)
        self.block_1 = _conv_block(1, ch[0], MRDConv(ch[0], ch[0], config.harmonic_shifts), config)
        d = config.fixed_dilation
        for i in range(1, len(ch)):
            dilated = nn.Conv2d(ch[i], ch[i], (1, 3), padding=(0, d), dilation=(1, d))
            setattr(self, f"block_{i + 1}", _conv_block(ch[i - 1], ch[i], dilated, config))
        self.conv_5 = nn.Conv2d(ch[-1], ch[-1] // 2, 1)
        self.conv_6 = nn.Conv2d(ch[-1] // 2, 1, 1)
        self.post_init()

    #: output frames depend on their neighbours (3×3 convs along time)
    frame_local = False

    @property
    def native_hop_length(self) -> int:
        return self.config.native_hop_length

    @property
    def context_frames(self) -> int:
        """Output frames of context each side that make a segment's kept frames equal the whole-signal
        forward: the time receptive field (one native frame per block's 3×3 conv), half an analysis
        frame, and one native frame for the interpolation when hop_length is not a multiple of the
        native hop. (Exact up to float rounding when hop_length is a multiple of the native hop and
        the dB floor, relative to the loudest bin of the input, is the same for the segment: see
        ``segment_frames``.)"""
        cfg = self.config
        nh = cfg.native_hop_length
        margin = self.n_blocks * nh + cfg.n_fft // 2 + (nh if cfg.hop_length % nh else 0)
        return -(-margin // cfg.hop_length)

    @property
    def segment_frames(self) -> int:
        """Output frames per segment in segment-wise inference: ``config.segment_length_s`` (the dB
        floor follows each segment's loudest bin, so the fewer seams the closer to one forward)."""
        cfg = self.config
        return max(1, math.ceil(cfg.segment_length_s * cfg.sampling_rate / cfg.hop_length))

    # ------------------------------------------------------------------------- front-end
    def _log_frequency_taps(self, device):
        """FFT-bin indices and weights of the original's two-point rule, in float32 as the original:
        i_k = fmin·2^(k/bpo) / (sr/n_fft); value_k = P[⌊i_k⌋]·(i_k − ⌊i_k⌋) + P[⌈i_k⌉]·(⌈i_k⌉ − i_k)
        (weights reversed with respect to linear interpolation, as written in ``layers.py``)."""
        cfg = self.config
        k = torch.arange(cfg.n_bins, device=device)
        idx = cfg.fmin_hz * (2 ** (k / cfg.bins_per_octave)) / (cfg.sampling_rate / cfg.n_fft)
        lo, hi = torch.floor(idx).long(), torch.ceil(idx).long()
        return lo, idx - lo, hi, hi - idx

    def log_spectrogram_from_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(batch, T, n_fft) raw frames → (batch, T, n_bins) dB map (float32): the original
        ``WaveformToLogSpecgram`` + ``AmplitudeToDB(top_db)``, the floor taken per batch item over all
        its T frames."""
        cfg = self.config
        frames = frames.float()
        window = torch.hann_window(cfg.n_fft, periodic=True, dtype=frames.dtype, device=frames.device)
        power = torch.view_as_real(torch.fft.rfft(frames * window, dim=-1)).pow(2).sum(-1)
        lo, w_lo, hi, w_hi = self._log_frequency_taps(frames.device)
        spec = power[..., lo] * w_lo + power[..., hi] * w_hi
        spec_db = 10.0 * torch.log10(spec.clamp_min(cfg.amin))
        if cfg.top_db is not None:
            floor = spec_db.amax(dim=(-2, -1), keepdim=True) - cfg.top_db
            spec_db = torch.maximum(spec_db, floor)
        return spec_db

    def native_frames(self, input_values: torch.Tensor, num_native: int, extra: int = 0) -> torch.Tensor:
        """(batch, samples) → (batch, extra + num_native + extra, n_fft): frames centred at
        m·native_hop_length for m = −extra … num_native − 1 + extra, zeros outside the signal."""
        cfg = self.config
        half, nh = cfg.n_fft // 2, cfg.native_hop_length
        left = half + extra * nh
        right = max((num_native + extra - 1) * nh + cfg.n_fft - half - input_values.shape[-1], 0)
        padded = F.pad(input_values, (left, right))
        return padded.unfold(-1, cfg.n_fft, nh)[:, : num_native + 2 * extra]

    # ------------------------------------------------------------------------- network
    def logits_from_spectrogram(self, spec_db: torch.Tensor) -> torch.Tensor:
        """(batch, T, n_bins) dB map → (batch, T, n_bins) logits on the same frames (the original
        ``HarmoF0.forward`` after its front-end, before the sigmoid). Runs in the model's dtype."""
        x = spec_db.to(self.dtype)[:, None]
        for i in range(1, self.n_blocks + 1):
            x = getattr(self, f"block_{i}")(x)
        x = self.conv_6(torch.relu(self.conv_5(x)))
        return x[:, 0].float()

    def _to_output_grid(self, logits: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Native logits (batch, M, bins) → (batch, num_frames, bins) at t·hop_length samples."""
        return native_to_output_grid(logits, num_frames, self.config.native_hop_length, self.config.hop_length)

    def forward(
        self,
        input_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        target_f0_hz: torch.Tensor | None = None,
        label_sigma_cents: float = 25.0,
        return_dict: bool | None = True,
        **kwargs,
    ):
        """
        Args:
            input_values: (batch, samples) mono audio at ``config.sampling_rate``.
            labels: optional (batch, frames, n_bins) targets in [0, 1].
            target_f0_hz: optional (batch, frames) f0 in Hz (0 = unvoiced), encoded as Gaussian targets.
        Returns:
            ``PitchEstimatorOutput`` with (batch, 1 + samples // hop_length, n_bins) logits; the
            probabilities (sigmoid) are the original's activations.
        """
        cfg = self.config
        x = self._check_input(input_values).float()
        num_frames = self.num_frames(x.shape[-1])
        num_native = math.ceil((num_frames - 1) * cfg.hop_length / cfg.native_hop_length) + 1
        # ``n_blocks`` native frames beyond each end (frames of the zero padding: silence) feed the
        # 3×3 convs there; then they are dropped
        extra = self.n_blocks
        spec_db = self.log_spectrogram_from_frames(self.native_frames(x, num_native, extra))
        logits = self.logits_from_spectrogram(spec_db)[:, extra : extra + num_native]
        logits = self._to_output_grid(logits, num_frames)
        return self._output(logits, labels, target_f0_hz, label_sigma_cents, return_dict)


__all__ = ["HarmoF0Model"]
