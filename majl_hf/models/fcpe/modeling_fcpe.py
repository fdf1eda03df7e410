"""FCPE pitch estimator (torchfcpe 0.0.4 ``CFNaiveMelPE`` with its mel front-end) as a ``PreTrainedModel``.

Signal path of the original (``mel_extractor.MelModule`` → ``CFNaiveMelPE.forward``): reflect-padded
STFT (Hann 1024, hop 160, ``center=False``), magnitude ``sqrt(re² + im² + 1e-9)``, Slaney mel
(128 bands, 0–8 kHz), ``log(max(·, 1e-5))``; conv(3) → group norm → leaky ReLU → conv(3); six
conformer convolution modules with residuals; layer norm; weight-normalised linear → 360 logits.

Framing. FCPE pads ``(1024 − 160) // 2 = 432`` samples on the left, so its frame i is centred at
``160 i + 80`` samples (half a hop late), and it repeats the last mel frame to reach N // 160 + 1
frames. Our ``forward`` pads ``n_fft // 2`` on each side instead, so native frame i is centred at
``160 i`` exactly (N // 160 + 1 frames, no repeat); the network is a stack of time convolutions, so
this only resamples its input grid by half a hop. ``fcpe_framing=True`` reproduces the original's
framing bit for bit (equivalence tests). Native frames are then brought onto the output grid of
``config.hop_length`` by subsampling (or linear interpolation), inside the graph.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm
from transformers import initialization as init

from ..common import PitchEstimatorPreTrainedModel, native_to_output_grid
from .configuration_fcpe import FcpeConfig


# ----------------------------------------------------------------------------- mel filterbank
def _hz_to_slaney_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per ln 6.4)."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_mel = 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, min_log_mel + np.log(np.maximum(hz, 1e-300) / 1000.0) / logstep, hz / f_sp)


def _slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_mel = 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, 1000.0 * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def slaney_mel_filterbank(sampling_rate: int, n_fft: int, num_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(num_mels, n_fft // 2 + 1) float32 triangular filters on the Slaney mel scale, each scaled to unit
    area in Hz (``2 / bandwidth``): the filterbank of ``librosa.filters.mel`` with its defaults (and the
    same rounding: the triangles are stored in float32 before the area scaling)."""
    fft_hz = np.arange(n_fft // 2 + 1, dtype=np.float64) * (sampling_rate / n_fft)
    mels = np.linspace(_hz_to_slaney_mel(fmin), _hz_to_slaney_mel(fmax), num_mels + 2)
    edges = _slaney_mel_to_hz(mels)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    area = 2.0 / (edges[2:] - edges[:-2])
    return (weights * area[:, None]).astype(np.float32)


# ----------------------------------------------------------------------------- network
class FcpeConvModule(nn.Module):
    """One conformer convolution module, used as ``x + module(x)`` on (batch, frames, hidden)."""

    def __init__(self, config: FcpeConfig):
        super().__init__()
        d = config.hidden_size
        inner = d * config.conv_expansion
        k = config.conv_kernel_size
        self.norm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.pointwise_in = nn.Conv1d(d, 2 * inner, 1)
        self.depthwise = nn.Conv1d(inner, inner, k, padding=k // 2, groups=inner)
        self.pointwise_out = nn.Conv1d(inner, d, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x).transpose(1, 2)
        y = F.glu(self.pointwise_in(y), dim=1)
        y = F.silu(self.depthwise(y))
        return x + self.pointwise_out(y).transpose(1, 2)


class FcpeModel(PitchEstimatorPreTrainedModel):
    config_class = FcpeConfig
    base_model_prefix = "fcpe"

    def __init__(self, config: FcpeConfig):
        super().__init__(config)
        d = config.hidden_size
        self.input_conv1 = nn.Conv1d(config.num_mels, d, 3, padding=1)
        self.input_norm = nn.GroupNorm(config.group_norm_groups, d, eps=config.group_norm_eps)
        self.input_conv2 = nn.Conv1d(d, d, 3, padding=1)
        self.layers = nn.ModuleList(FcpeConvModule(config) for _ in range(config.num_layers))
        self.final_norm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.output_proj = weight_norm(nn.Linear(d, config.n_bins))  # weight = g · v / ‖v‖ per output bin
        self._filterbanks: dict = {}  # (device, dtype) → mel filterbank; derived from config, never saved
        self.post_init()

    frame_local = False

    def _init_weights(self, module):
        if isinstance(module, nn.Linear) and parametrize.is_parametrized(module, "weight"):
            g = module.parametrizations.weight.original0
            v = module.parametrizations.weight.original1
            init.kaiming_uniform_(v, a=math.sqrt(5))
            init.copy_(g, v.detach().norm(dim=1, keepdim=True))
            if module.bias is not None:
                bound = 1.0 / math.sqrt(v.shape[1])
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        else:
            super()._init_weights(module)

    # ------------------------------------------------------------------ grids
    @property
    def native_hop_length(self) -> int:
        return self.config.native_hop_length

    @property
    def receptive_field_frames(self) -> int:
        """Native frames each side that reach an output frame through the convolutions and the STFT
        window (the group norm's statistics aside, which span the whole input)."""
        cfg = self.config
        window = -(-(cfg.n_fft // 2) // cfg.native_hop_length)
        return window + 2 + cfg.num_layers * (cfg.conv_kernel_size // 2)

    @property
    def context_frames(self) -> int:
        """Output frames of context each side for segment-wise inference: the receptive field (96
        native frames = 0.96 s for the bundled model; 48 frames at hop 320). Segments are then exact
        but for the input group norm, whose statistics span the whole input: more context does not
        bring them closer to a whole song's (measured: no gain from 1 s to 4 s) and adds zero padding
        at the signal's ends, so none is added. Tolerance measured in the tests."""
        return -(-self.receptive_field_frames * self.config.native_hop_length // self.config.hop_length)

    @property
    def segment_frames(self) -> int:
        """Segments of 60 s: the input group norm's statistics span a segment, so the fewer seams the
        closer segment-wise inference is to one forward (exact for inputs up to 60 s). Memory stays
        small (the network is convolutional: ~6 MB of activations per 30 s per layer)."""
        return -(-60 * self.config.sampling_rate // self.config.hop_length)

    def num_native_frames(self, num_samples: int) -> int:
        return 1 + int(num_samples) // self.config.native_hop_length

    # ------------------------------------------------------------------ front-end
    def mel_filterbank(self, device, dtype) -> torch.Tensor:
        key = (str(device), dtype)
        if key not in self._filterbanks:
            cfg = self.config
            fb = slaney_mel_filterbank(cfg.sampling_rate, cfg.n_fft, cfg.num_mels, cfg.mel_fmin_hz, cfg.mel_fmax_hz)
            self._filterbanks[key] = torch.from_numpy(fb).to(device, dtype)
        return self._filterbanks[key]

    def mel_spectrogram(self, input_values: torch.Tensor, fcpe_framing: bool = False) -> torch.Tensor:
        """(batch, samples) → (batch, num_mels, frames) natural-log mel magnitudes, float32.

        ``frames = 1 + samples // native_hop_length``; frame i centred at ``i · native_hop_length``
        (``fcpe_framing=False``) or, as the original, at ``i · native_hop_length + 80`` samples with the
        last frame repeated (``fcpe_framing=True``)."""
        cfg = self.config
        x = input_values.float()
        n = x.shape[-1]
        hop, n_fft = cfg.native_hop_length, cfg.n_fft
        if fcpe_framing:
            left = (n_fft - hop) // 2
            right = max((n_fft - hop + 1) // 2, n_fft - n - left)
        else:
            left = right = n_fft // 2
        mode = "reflect" if right < n else "constant"  # reflection needs a pad shorter than the signal
        padded = F.pad(x[:, None], (left, right), mode=mode)[:, 0]
        window = torch.hann_window(n_fft, periodic=True, dtype=x.dtype, device=x.device)
        spec = torch.stft(padded, n_fft, hop, window=window, center=False, return_complex=True)
        mag = torch.sqrt(spec.real.square() + spec.imag.square() + cfg.magnitude_eps)
        mel = torch.log(torch.matmul(self.mel_filterbank(mag.device, mag.dtype), mag).clamp_min(cfg.mel_clip))
        n_frames = self.num_native_frames(n)
        if mel.shape[-1] < n_frames:  # the original repeats its last frame
            mel = torch.cat([mel, mel[..., -1:].expand(*mel.shape[:-1], n_frames - mel.shape[-1])], -1)
        return mel[..., :n_frames]

    # ------------------------------------------------------------------ network
    def encode(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, num_mels, frames) → (batch, frames, hidden) before the final norm."""
        y = self.input_conv2(F.leaky_relu(self.input_norm(self.input_conv1(mel)), 0.01))
        y = y.transpose(1, 2)
        for layer in self.layers:
            y = layer(y)
        return y

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        """(batch, frames, hidden) → (batch, frames, n_bins) logits (FCPE's latent is their sigmoid)."""
        return self.output_proj(self.final_norm(hidden))

    def native_logits(self, input_values: torch.Tensor, fcpe_framing: bool = False) -> torch.Tensor:
        """(batch, samples) → (batch, 1 + samples // native_hop_length, n_bins) logits on the network's
        own grid (float32); ``fcpe_framing=True`` reproduces torchfcpe's ``model.model(wav2mel(x))``."""
        x = self._check_input(input_values)
        mel = self.mel_spectrogram(x, fcpe_framing).to(self.dtype)
        return self.head(self.encode(mel)).float()

    def _to_output_grid(self, hidden: torch.Tensor, num_samples: int) -> torch.Tensor:
        """Native (batch, frames, hidden) → logits on the output grid: frame t at t·hop_length samples
        is native frame t·hop/native_hop (subsampling when that is an integer step, else linear
        interpolation of the logits between the two nearest native frames)."""
        cfg = self.config
        n_out = self.num_frames(num_samples)
        hop, nh = cfg.hop_length, cfg.native_hop_length
        if hop % nh == 0:  # subsample before the head: only the kept frames are projected
            return self.head(native_to_output_grid(hidden, n_out, nh, hop))
        return native_to_output_grid(self.head(hidden), n_out, nh, hop)

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
            ``PitchEstimatorOutput`` with (batch, 1 + samples // hop_length, n_bins) logits; frame t is
            centred at t·hop_length samples.
        """
        x = self._check_input(input_values)
        mel = self.mel_spectrogram(x).to(self.dtype)
        logits = self._to_output_grid(self.encode(mel), x.shape[-1]).float()
        return self._output(logits, labels, target_f0_hz, label_sigma_cents, return_dict)


__all__ = ["FcpeModel", "slaney_mel_filterbank"]
