"""Pieces every backbone shares: the two base classes, STFT/iSTFT, frame helpers and losses."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init

from ..pitch.convert import PitchBins, f0_to_targets


# ----------------------------------------------------------------------------- STFT
def stft(x: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """Complex STFT of (..., samples) → (..., frames, n_fft // 2 + 1), periodic Hann, unnormalised.

    Framing (Spleeter's, FACTS.md §2): ``n_fft`` zeros are prepended, the end is zero-padded so that
    ``frames = ceil((samples + n_fft) / hop_length)``, frame t covers padded samples
    [t·hop, t·hop + n_fft). Every kept output sample is then covered by full window overlap.
    """
    n = x.shape[-1]
    n_frames = math.ceil((n + n_fft) / hop_length)
    total = n_fft + hop_length * (n_frames - 1)
    lead = x.shape[:-1]
    padded = F.pad(x.reshape(-1, n), (n_fft, total - n - n_fft))
    window = torch.hann_window(n_fft, periodic=True, dtype=x.dtype, device=x.device)
    spec = torch.stft(padded, n_fft, hop_length, window=window, center=False, return_complex=True)
    return spec.transpose(-1, -2).reshape(*lead, n_frames, n_fft // 2 + 1)


def istft(spec: torch.Tensor, n_fft: int, hop_length: int, length: int) -> torch.Tensor:
    """Inverse of :func:`stft`: (..., frames, bins) complex → (..., length) real.

    Windowed overlap-add divided by the summed squared window (the least-squares inverse). Where
    n_fft / hop = 4 this equals Spleeter's fixed ×2/3 compensation on every kept sample.
    """
    lead = spec.shape[:-2]
    n_frames = spec.shape[-2]
    frames = torch.fft.irfft(spec.reshape(-1, n_frames, spec.shape[-1]), n=n_fft, dim=-1)
    window = torch.hann_window(n_fft, periodic=True, dtype=frames.dtype, device=frames.device)
    frames = frames * window
    total = n_fft + hop_length * (n_frames - 1)
    out = F.fold(frames.transpose(1, 2), output_size=(1, total), kernel_size=(1, n_fft), stride=(1, hop_length))
    env = F.fold(
        (window**2).expand(1, n_frames, n_fft).transpose(1, 2),
        output_size=(1, total),
        kernel_size=(1, n_fft),
        stride=(1, hop_length),
    )
    out = out.reshape(-1, total) / env.reshape(1, total).clamp_min(1e-8)
    return out[:, n_fft : n_fft + length].reshape(*lead, length)


def frame_signal(x: torch.Tensor, frame_length: int, hop_length: int) -> torch.Tensor:
    """Centred frames of (batch, samples) → (batch, 1 + samples // hop, frame_length), zero padding."""
    half = frame_length // 2
    padded = F.pad(x, (half, half))
    n_frames = 1 + x.shape[-1] // hop_length
    return padded.unfold(-1, frame_length, hop_length)[:, :n_frames]


def mean_abs_error_per_sample(estimate: torch.Tensor, target: torch.Tensor, weight=None) -> torch.Tensor:
    """L_mss per sample (MAJL_SPEC §2): mean |s − ŝ| over all but the batch axis, optionally weighted."""
    if estimate.shape != target.shape:
        raise ValueError(f"target vocals {tuple(target.shape)} do not match the estimate {tuple(estimate.shape)}")
    err = (estimate - target).abs()
    if weight is None:
        return err.flatten(1).mean(1)
    return (err * weight).flatten(1).sum(1) / weight.expand_as(err).flatten(1).sum(1).clamp_min(1.0)


def bce_per_sample(logits: torch.Tensor, targets: torch.Tensor, frame_weight=None) -> torch.Tensor:
    """L_pe per sample (MAJL_SPEC §2): mean BCE over frames × bins, optionally weighting frames."""
    if logits.shape != targets.shape:
        raise ValueError(f"pitch labels {tuple(targets.shape)} do not match the activations {tuple(logits.shape)}")
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if frame_weight is None:
        return bce.flatten(1).mean(1)
    w = frame_weight[..., None].expand_as(bce)
    return (bce * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1.0)


# ----------------------------------------------------------------------------- base classes
class MajlBackbonePreTrainedModel(PreTrainedModel):
    """Common initialisation of every backbone: PyTorch's own defaults for conv/linear layers
    (Kaiming-uniform), BN at identity. Buffers are never built in ``__init__`` (windows and
    filterbanks are computed on the fly), so ``from_pretrained`` has nothing to recompute."""

    main_input_name = "input_values"
    supports_gradient_checkpointing = False

    def _init_weights(self, module):
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                fan_in = module.weight[0].numel() if not isinstance(module, nn.ConvTranspose2d) else module.weight.shape[0] * module.weight[0, 0].numel()
                bound = 1.0 / math.sqrt(max(fan_in, 1))
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)


class SeparatorPreTrainedModel(MajlBackbonePreTrainedModel):
    """Base of separators: (batch, channels, samples) at ``config.sampling_rate`` in, vocals out."""

    @property
    def sampling_rate(self) -> int:
        return self.config.sampling_rate

    @property
    def audio_channels(self) -> int:
        return self.config.audio_channels

    def _check_input(self, input_values: torch.Tensor) -> torch.Tensor:
        if input_values.ndim == 2 and self.config.audio_channels == 1:
            input_values = input_values[:, None]
        if input_values.ndim != 3 or input_values.shape[1] != self.config.audio_channels:
            raise ValueError(
                f"{type(self).__name__} expects input_values of shape (batch, {self.config.audio_channels}, samples) "
                f"at {self.config.sampling_rate} Hz, got {tuple(input_values.shape)}; use MajlFeatureExtractor "
                "to resample and convert channels"
            )
        return input_values


class PitchEstimatorPreTrainedModel(MajlBackbonePreTrainedModel):
    """Base of pitch estimators: (batch, samples) mono at ``config.sampling_rate`` in, activations over
    ``config.pitch_bins`` on a grid of ``hop_length`` samples out. Frame t is centred at t·hop."""

    @property
    def sampling_rate(self) -> int:
        return self.config.sampling_rate

    @property
    def pitch_bins(self) -> PitchBins:
        return self.config.pitch_bins

    def num_frames(self, num_samples: int) -> int:
        return 1 + int(num_samples) // self.config.hop_length

    def frame_times(self, num_frames: int, device=None) -> torch.Tensor:
        return torch.arange(num_frames, device=device, dtype=torch.float64) * (
            self.config.hop_length / self.config.sampling_rate
        )

    def _check_input(self, input_values: torch.Tensor) -> torch.Tensor:
        if input_values.ndim == 3 and input_values.shape[1] == 1:
            input_values = input_values[:, 0]
        if input_values.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects mono input_values of shape (batch, samples) at "
                f"{self.config.sampling_rate} Hz, got {tuple(input_values.shape)}"
            )
        return input_values

    def _output(self, logits, labels=None, target_f0_hz=None, label_sigma_cents=25.0, return_dict=True):
        from .outputs import PitchEstimatorOutput

        loss = None
        if labels is None and target_f0_hz is not None:
            labels = f0_to_targets(target_f0_hz, self.pitch_bins, label_sigma_cents).to(logits)
        if labels is not None:
            loss = bce_per_sample(logits, labels.to(logits)).mean()
        out = PitchEstimatorOutput(
            loss=loss,
            logits=logits,
            probabilities=torch.sigmoid(logits),
            times_s=self.frame_times(logits.shape[1], device=logits.device),
        )
        return out if return_dict else out.to_tuple()
