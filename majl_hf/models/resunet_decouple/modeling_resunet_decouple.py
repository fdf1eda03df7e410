"""ResUNetDecouple+ separator (Kong et al., ISMIR 2021: ResUNet143 Decouple+): a residual U-Net on the
mixture magnitude that predicts a bounded magnitude mask, a phase rotation and a direct magnitude."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import initialization as init

from ..common import SeparatorPreTrainedModel, istft, mean_abs_error_per_sample
from ..outputs import SeparatorOutput
from .configuration_resunet_decouple import ResUNetDecoupleConfig

MAPS_PER_CHANNEL = 4  # magnitude mask, rotation (real, imaginary) before tanh, direct magnitude


def _batch_norm(channels: int, config: ResUNetDecoupleConfig) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=config.batch_norm_eps, momentum=config.batch_norm_momentum)


class ResidualBlock(nn.Module):
    """BN → LeakyReLU → conv3×3 → BN → LeakyReLU → conv3×3, plus the input (through a 1×1 conv with
    bias where the channel count changes). The original's second BN + activation is InPlaceABNSync:
    here BatchNorm2d followed by LeakyReLU of ``config.leaky_relu_slope``."""

    def __init__(self, in_channels: int, out_channels: int, config: ResUNetDecoupleConfig):
        super().__init__()
        self.slope = config.leaky_relu_slope
        self.norm1 = _batch_norm(in_channels, config)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = _batch_norm(out_channels, config)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(F.leaky_relu(self.norm1(x), self.slope))
        y = self.conv2(F.leaky_relu(self.norm2(y), self.slope))
        return (x if self.shortcut is None else self.shortcut(x)) + y


class ResidualStage(nn.Module):
    """``blocks_per_stage`` residual blocks, the first one changing the channel count."""

    def __init__(self, in_channels: int, out_channels: int, config: ResUNetDecoupleConfig):
        super().__init__()
        self.blocks = nn.ModuleList(
            ResidualBlock(in_channels if i == 0 else out_channels, out_channels, config)
            for i in range(config.blocks_per_stage)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class DecoderStage(nn.Module):
    """BN → ReLU → transposed conv (kernel = stride, no bias) up to the skip's size, the skip
    concatenated after the upsampled maps, then a residual stage."""

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int], config: ResUNetDecoupleConfig):
        super().__init__()
        self.norm = _batch_norm(in_channels, config)
        self.upsample = nn.ConvTranspose2d(in_channels, out_channels, stride, stride=stride, bias=False)
        self.stage = ResidualStage(2 * out_channels, out_channels, config)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.upsample(F.relu(self.norm(x)))
        return self.stage(torch.cat([x, skip], dim=1))


class ResUNetDecoupleModel(SeparatorPreTrainedModel):
    """ResUNet143 Decouple+ for one target (the vocals), see :class:`ResUNetDecoupleConfig`.

    Chunked inference: the network pads frames to a multiple of ``frame_alignment`` (its time
    downsampling) and average-pools on that grid, so a chunk reproduces the whole-signal result
    only when its first frame (context included) lies on the same grid: chunk starts and context
    must be multiples of ``frame_alignment``. ``context_frames`` (the receptive field, rounded up to
    that grid) then makes a chunk's kept frames equal the unchunked ones within float rounding.
    """

    config_class = ResUNetDecoupleConfig
    base_model_prefix = "resunet_decouple"

    def __init__(self, config: ResUNetDecoupleConfig):
        super().__init__(config)
        ch = config.encoder_channels
        self.input_norm = _batch_norm(config.n_fft // 2 + 1, config)  # per frequency bin (the original's bn0)
        self.encoder = nn.ModuleList(
            ResidualStage(c_in, c_out, config) for c_in, c_out in zip([config.audio_channels] + ch[:-1], ch)
        )
        self.bottleneck = nn.ModuleList(ResidualStage(ch[-1], ch[-1], config) for _ in range(config.bottleneck_stages))
        self.decoder = nn.ModuleList(  # mirrors the encoder, deepest stage first
            DecoderStage(ch[min(i + 1, len(ch) - 1)], ch[i], self._pool_size(i), config)
            for i in reversed(range(len(ch)))
        )
        self.output_stage = ResidualStage(ch[0], ch[0], config)
        self.output_conv = nn.Conv2d(ch[0], config.audio_channels * MAPS_PER_CHANNEL, 1)
        self.post_init()

    def _init_weights(self, module):
        """As the original: Xavier-uniform convolutions with zero bias, BatchNorm at identity."""
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        else:
            super()._init_weights(module)

    def _pool_size(self, stage: int) -> tuple[int, int]:
        """(time, frequency) downsampling after encoder stage ``stage``."""
        return (2, 2) if stage < self.config.time_downsample_levels else (1, 2)

    # ------------------------------------------------------------------ chunking contract
    independent_frames = None  # every output frame sees its neighbours: chunks need context

    @property
    def frame_alignment(self) -> int:
        """Chunks (with their context) must start on multiples of this many STFT frames to be exact."""
        return self.config.time_downsampling

    @property
    def receptive_field(self) -> int:
        """STFT frames each side that can influence an output frame: each 3×3 conv adds its time
        scale (frames per feature row), each 2× pooling and each 2× transposed conv adds the finer scale."""
        cfg = self.config
        convs, scale, frames = 2 * cfg.blocks_per_stage, 1, 0
        levels = range(len(cfg.encoder_channels))
        for i in levels:
            frames += convs * scale
            if i < cfg.time_downsample_levels:
                frames += scale
                scale *= 2
        frames += cfg.bottleneck_stages * convs * scale
        for i in reversed(levels):
            if i < cfg.time_downsample_levels:
                scale //= 2
                frames += scale
            frames += convs * scale
        return frames + convs  # the output stage, at scale 1

    @property
    def context_frames(self) -> int:
        """The receptive field rounded up to ``frame_alignment``."""
        align = self.frame_alignment
        return -(-self.receptive_field // align) * align

    # ------------------------------------------------------------------ network
    def feature_maps(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Mixture magnitude (B, C, T, n_fft // 2 + 1) → raw maps (B, C, 4, T, n_fft // 2 + 1), float32.

        As the original: per-bin BatchNorm, frames zero-padded to a multiple of the time downsampling,
        the Nyquist bin dropped on the way in (1025 → 1024) and its maps zero on the way out. Where
        the remaining bins do not divide by the frequency downsampling (2 per encoder stage; never
        for the presets), they are zero-padded up to a multiple and cropped back."""
        cfg = self.config
        b, c, t, n_bins = magnitude.shape
        x = self.input_norm(magnitude.to(self.dtype).transpose(1, 3)).transpose(1, 3)
        x = F.pad(x, (0, 0, 0, -t % cfg.time_downsampling))
        f = n_bins - 1
        x = F.pad(x[..., :f], (0, -f % cfg.frequency_downsampling))
        skips = []
        for i, stage in enumerate(self.encoder):
            x = stage(x)
            skips.append(x)
            x = F.avg_pool2d(x, self._pool_size(i))
        for stage in self.bottleneck:
            x = stage(x)
        for stage, skip in zip(self.decoder, reversed(skips)):
            x = stage(x, skip)
        x = self.output_conv(self.output_stage(x))
        x = F.pad(x[:, :, :t, :f], (0, 1))
        return x.float().reshape(b, c, MAPS_PER_CHANNEL, t, n_bins)

    def separate_spectrogram(self, spec: torch.Tensor):
        """Complex mixture STFT (B, C, T, n_fft // 2 + 1) → (vocals STFT, None); the accompaniment is
        mixture − vocals. |Ŝ| = relu(sigmoid(m)·|X| + q), ∠Ŝ = ∠X + ∠(tanh a + j tanh b)."""
        cfg = self.config
        magnitude = (spec.real**2 + spec.imag**2).clamp_min(cfg.magnitude_eps).sqrt()
        maps = self.feature_maps(magnitude)
        mask = torch.sigmoid(maps[:, :, 0])
        real, imag = torch.tanh(maps[:, :, 1]), torch.tanh(maps[:, :, 2])
        norm = (real**2 + imag**2).clamp_min(1e-20).sqrt()  # = max(|r|, 1e-10), with a finite gradient at 0
        rotation = torch.complex(real / norm, imag / norm)
        vocal_magnitude = F.relu(magnitude * mask + maps[:, :, 3])
        return vocal_magnitude * (spec / magnitude) * rotation, None

    def forward(
        self,
        input_values: torch.Tensor,
        target_vocals: torch.Tensor | None = None,
        return_dict: bool | None = True,
        **kwargs,
    ):
        """
        Args:
            input_values: (batch, audio_channels, samples) mixture at ``config.sampling_rate``.
            target_vocals: optional (batch, audio_channels, samples) true vocals; gives ``loss`` (mean |error|).
        Returns: :class:`SeparatorOutput` with vocals and accompaniment in the input's dtype and the
            complex vocal STFT (batch, audio_channels, frames, n_fft // 2 + 1).
        """
        x = self._check_input(input_values)
        n = x.shape[-1]
        voc_spec, _ = self.separate_spectrogram(self.spectrogram(x))
        vocals = istft(voc_spec, self.config.n_fft, self.config.hop_length, n).to(x.dtype)
        loss = None
        if target_vocals is not None:
            loss = mean_abs_error_per_sample(vocals, self._check_input(target_vocals).to(vocals.dtype)).mean()
        out = SeparatorOutput(loss=loss, vocals=vocals, accompaniment=x - vocals, vocals_spectrogram=voc_spec)
        return out if return_dict is not False else out.to_tuple()


__all__ = ["ResUNetDecoupleModel"]
