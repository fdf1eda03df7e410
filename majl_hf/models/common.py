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
def num_stft_frames(num_samples: int, n_fft: int, hop_length: int) -> int:
    """Frames :func:`stft` gives for ``num_samples`` samples: ceil((samples + n_fft) / hop)."""
    return math.ceil((int(num_samples) + n_fft) / hop_length)


def stft(x: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """Complex STFT of (..., samples) → (..., frames, n_fft // 2 + 1), periodic Hann, unnormalised.

    Framing (Spleeter's, FACTS.md §2): ``n_fft`` zeros are prepended, the end is zero-padded so that
    ``frames = ceil((samples + n_fft) / hop_length)``, frame t covers padded samples
    [t·hop, t·hop + n_fft). Every kept output sample is then covered by full window overlap.
    """
    n = x.shape[-1]
    n_frames = num_stft_frames(n, n_fft, hop_length)
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


def frame_times(num_frames: int, hop_length: int, sampling_rate: int, device=None) -> torch.Tensor:
    """Centre times (s) of frames 0…num_frames−1 on a grid of ``hop_length`` samples (float64)."""
    return torch.arange(num_frames, device=device, dtype=torch.float64) * hop_length / sampling_rate


def native_to_output_grid(values: torch.Tensor, num_frames: int, native_hop: int, hop: int) -> torch.Tensor:
    """(batch, M, …) values on a network's native grid (frame m centred at m·native_hop) → (batch,
    num_frames, …) on the output grid (frame t at t·hop): subsampling when ``hop`` is a multiple of
    ``native_hop``, else linear interpolation between the two nearest native frames (differentiable)."""
    if hop % native_hop == 0:
        return values[:, :: hop // native_hop][:, :num_frames]
    pos = torch.arange(num_frames, device=values.device, dtype=torch.float64) * (hop / native_hop)
    lo = pos.floor().long().clamp_max(values.shape[1] - 1)
    hi = (lo + 1).clamp_max(values.shape[1] - 1)
    w = (pos - lo).to(values.dtype).reshape(1, -1, *([1] * (values.ndim - 2)))
    return values[:, lo] * (1 - w) + values[:, hi] * w


def frame_signal(x: torch.Tensor, frame_length: int, hop_length: int) -> torch.Tensor:
    """Centred frames of (batch, samples) → (batch, 1 + samples // hop, frame_length), zero padding."""
    half = frame_length // 2
    padded = F.pad(x, (half, half))
    n_frames = 1 + x.shape[-1] // hop_length
    return padded.unfold(-1, frame_length, hop_length)[:, :n_frames]


def mean_abs_error_per_sample(
    estimate: torch.Tensor, target: torch.Tensor, weight=None, renormalize: bool = False
) -> torch.Tensor:
    """L_mss per sample (MAJL_SPEC §2): mean |s − ŝ| over all but the batch axis.

    ``weight`` (broadcastable to the error, e.g. (batch, 1, samples) 0/1 confidence masks) weighs
    each element as MAJL Eq. 8/15 do (Σ confi·|s − ŝ|): the weighted sum is divided by the number
    of *all* elements, so a crop with a tenth of its samples kept weighs a tenth of a fully kept
    one. ``renormalize=True`` divides by the kept weight instead (a per-sample weighted mean)."""
    if estimate.shape != target.shape:
        raise ValueError(f"target vocals {tuple(target.shape)} do not match the estimate {tuple(estimate.shape)}")
    err = (estimate - target).abs()
    if weight is None:
        return err.flatten(1).mean(1)
    weight = weight.to(err).expand_as(err).flatten(1)
    total = (err.flatten(1) * weight).sum(1)
    if renormalize:
        return total / weight.sum(1).clamp_min(1.0)
    return total / weight.shape[1]


def bce_per_sample(
    logits: torch.Tensor, targets: torch.Tensor, frame_weight=None, renormalize: bool = False
) -> torch.Tensor:
    """L_pe per sample (MAJL_SPEC §2): mean BCE over frames × bins.

    ``frame_weight`` (batch, frames) weighs frames as MAJL Eq. 8/15 do (Σ confi·L): the weighted sum
    is divided by *all* frames × bins, so a masked frame contributes 0 and is still counted.
    ``renormalize=True`` divides by the kept frames instead (a per-sample weighted mean)."""
    if logits.shape != targets.shape:
        raise ValueError(f"pitch labels {tuple(targets.shape)} do not match the activations {tuple(logits.shape)}")
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if frame_weight is None:
        return bce.flatten(1).mean(1)
    w = frame_weight.to(bce)[..., None].expand_as(bce).flatten(1)
    total = (bce.flatten(1) * w).sum(1)
    if renormalize:
        return total / w.sum(1).clamp_min(1.0)
    return total / w.shape[1]


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
                fan_in = (
                    module.weight[0].numel()
                    if not isinstance(module, nn.ConvTranspose2d)
                    else module.weight.shape[0] * module.weight[0, 0].numel()
                )
                bound = 1.0 / math.sqrt(max(fan_in, 1))
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)


class SeparatorPreTrainedModel(MajlBackbonePreTrainedModel):
    """Base of separators: (batch, channels, samples) at ``config.sampling_rate`` in, vocals out.

    The contract with long-audio inference (:mod:`majl_hf.inference.apply`), declared here so that a
    new separator states what it offers instead of being duck-typed:

    - every separator: ``forward(input_values)`` → :class:`SeparatorOutput`. That alone is enough:
      inference then chunks the waveform with overlapping windows and a cross-fade (demucs-style
      overlap-add), at ``context_frames`` of margin.
    - spectral separators (``is_spectral`` is true) also give ``spectrogram(x)`` (the complex STFT in
      the framing of :func:`stft`, ``config.n_fft`` / ``config.hop_length``) and
      ``separate_spectrogram(spec)`` → (vocal spectrogram, accompaniment spectrogram or ``None``);
      inference then streams the STFT frame-exactly.
    - ``independent_frames``: when not ``None``, output frames depend only on their own patch of that
      many STFT frames (Spleeter's U-Net: 512), so patch-aligned chunks are exact with no context.
    - ``context_frames``: STFT frames (or, for waveform separators, hops of ``config.hop_length``
      samples) of context each side that make a chunk's kept part equal the unchunked result within
      float tolerance (the receptive field).
    - ``frame_alignment``: chunk starts (context included) are rounded to multiples of this many
      STFT frames (an encoder that pools over time by 2^k needs 2^k).
    """

    #: output frames depend only on their own patch of this many STFT frames (None: they do not)
    independent_frames: int | None = None
    #: chunk starts, context included, must be multiples of this many STFT frames for chunked
    #: inference to be exact (encoders that pool over time: 2^levels)
    frame_alignment: int = 1

    @property
    def sampling_rate(self) -> int:
        return self.config.sampling_rate

    @property
    def audio_channels(self) -> int:
        return self.config.audio_channels

    @property
    def context_frames(self) -> int:
        """Frames of context each side for chunked inference (default 0: frame-local)."""
        return 0

    @property
    def is_spectral(self) -> bool:
        """True when the separator masks/predicts an STFT in :func:`stft`'s framing (see the class doc)."""
        return type(self).separate_spectrogram is not SeparatorPreTrainedModel.separate_spectrogram

    def spectrogram(self, input_values: torch.Tensor) -> torch.Tensor:
        """(batch, channels, samples) → complex (batch, channels, frames, bins) in :func:`stft`'s framing."""
        return stft(input_values.float(), self.config.n_fft, self.config.hop_length)

    def separate_spectrogram(self, spec: torch.Tensor):
        """Complex mixture STFT (batch, channels, frames, bins) → (vocals STFT, accompaniment STFT or None).
        Only spectral separators implement it."""
        raise NotImplementedError(f"{type(self).__name__} is a waveform separator (no separate_spectrogram)")

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
    ``config.pitch_bins`` on the *output grid* of ``config.hop_length`` samples out. Frame t is centred
    at t·hop_length samples (``frame_times``), whatever the network's own framing.

    The contract with the cascade and with long-audio inference:

    - ``config.hop_length`` is the output grid (the MAJL cascade uses 320 samples = 20 ms at 16 kHz).
      A network with another native hop (``native_hop_length``: HarmoF0/FCPE 10 ms, SwiftF0 16 ms)
      converts its activations onto the output grid inside ``forward`` (a differentiable subsampling
      or interpolation owned by the backbone), so the cascade, its labels and its losses only ever
      see the output grid: ``num_frames(samples) = 1 + samples // hop_length``.
    - ``frame_local``: True when each output frame depends only on its own ``frame_length`` samples
      centred on it; the model then implements ``logits_from_frames(frames)`` and inference may
      compute any subset of frames (skipping silent ones). Otherwise inference runs segments with
      ``context_frames`` output frames of margin each side, which make a segment's kept frames
      equal the whole-signal result within float tolerance, ``segment_frames`` output frames at a time.
    - ``frame_length``: samples analysed around each frame centre (used for per-frame levels).
    - ``probabilities_from_logits`` / ``pitch_loss``: how activations and the training loss are
      formed from the logits (default: independent sigmoids with binary cross-entropy, as CREPE,
      HarmoF0 and FCPE; a softmax classifier overrides both).
    """

    #: each output frame depends only on its own ``frame_length`` samples (see the class doc)
    frame_local: bool = False

    @property
    def sampling_rate(self) -> int:
        return self.config.sampling_rate

    @property
    def pitch_bins(self) -> PitchBins:
        return self.config.pitch_bins

    @property
    def native_hop_length(self) -> int:
        """Samples between the network's own frames (default: the output grid itself)."""
        return self.config.hop_length

    @property
    def frame_length(self) -> int:
        """Samples analysed around each frame centre."""
        return getattr(self.config, "frame_length", None) or self.config.n_fft

    @property
    def context_frames(self) -> int:
        """Output frames of context each side for segment-wise inference (default: half a frame)."""
        return -(-self.frame_length // 2 // self.config.hop_length)

    #: half-width (bins) of the local weighted average that decodes this estimator's activations
    #: into f0 (CREPE: 4; SwiftF0's own decoder: 1)
    decode_window: int = 4
    #: segment starts and lengths in segment-wise inference are multiples of this many output frames
    segment_alignment: int = 1

    @property
    def segment_frames(self) -> int:
        """Output frames per segment in segment-wise inference (default: 8 contexts, so that the
        context is a small overhead). An estimator whose statistics span its whole input (FCPE's
        group norm over time) asks for long segments: the fewer seams, the closer to one forward."""
        return 8 * self.context_frames

    def logits_from_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(n, frame_length) raw audio frames → (n, n_bins) logits; frame-local estimators only."""
        raise NotImplementedError(f"{type(self).__name__} is not frame-local")

    def probabilities_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """(…, bins) logits → activations in [0, 1] (default: sigmoid)."""
        return torch.sigmoid(logits)

    def pitch_loss(self, logits: torch.Tensor, labels: torch.Tensor, frame_weight=None) -> torch.Tensor:
        """L_pe per sample, (batch,): default mean binary cross-entropy over frames × bins."""
        return bce_per_sample(logits, labels, frame_weight)

    def num_frames(self, num_samples: int) -> int:
        return 1 + int(num_samples) // self.config.hop_length

    def frame_times(self, num_frames: int, device=None) -> torch.Tensor:
        """Centre time (s) of each output frame: t · hop_length / sampling_rate (float64, the one
        place frame times are computed)."""
        return frame_times(num_frames, self.config.hop_length, self.config.sampling_rate, device)

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
            loss = self.pitch_loss(logits, labels.to(logits)).mean()
        out = PitchEstimatorOutput(
            loss=loss,
            logits=logits,
            probabilities=self.probabilities_from_logits(logits),
            times_s=self.frame_times(logits.shape[1], device=logits.device),
        )
        return out if return_dict else out.to_tuple()
