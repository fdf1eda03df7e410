"""U-Net separator (Jansson et al. 2017), laid out so that Spleeter 2stems loads into it exactly.

Signal path (FACTS.md): STFT → |X| of the lowest ``n_bins`` bins → zero-padded 512-frame patches →
one U-Net per stem (TF "same" padding, asymmetric for stride 2) → ratio (or direct) masks →
masks extended above ``n_bins`` → mask · X → inverse STFT.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..common import SeparatorPreTrainedModel, istft, mean_abs_error_per_sample, stft
from ..outputs import SeparatorOutput
from .configuration_unet import UNetSeparatorConfig


def _same_pad(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow "same" padding (before, after) of one axis: the extra element goes after."""
    eff = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


class TFSameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "same" padding (asymmetric when the total is odd)."""

    def forward(self, x):
        pt, pb = _same_pad(x.shape[-2], self.kernel_size[0], self.stride[0], self.dilation[0])
        pl, pr = _same_pad(x.shape[-1], self.kernel_size[1], self.stride[1], self.dilation[1])
        return super().forward(F.pad(x, (pl, pr, pt, pb)))


class TFSameConvTranspose2d(nn.ConvTranspose2d):
    """Transposed conv with TensorFlow's "same" output size (stride · input): the full output is
    cropped starting at ``total_crop // 2``."""

    def forward(self, x):
        h, w = x.shape[-2:]
        y = super().forward(x)
        sh, sw = self.stride
        ch = y.shape[-2] - h * sh
        cw = y.shape[-1] - w * sw
        return y[..., ch // 2 : ch // 2 + h * sh, cw // 2 : cw // 2 + w * sw]


class UNetEncoderLayer(nn.Module):
    def __init__(self, in_channels, out_channels, config: UNetSeparatorConfig):
        super().__init__()
        self.conv = TFSameConv2d(in_channels, out_channels, config.kernel_size, stride=2)
        self.bn = nn.BatchNorm2d(out_channels, eps=config.batch_norm_eps, momentum=config.batch_norm_momentum)
        self.slope = config.leaky_relu_slope

    def forward(self, x):
        raw = self.conv(x)
        return raw, F.leaky_relu(self.bn(raw), self.slope)


class UNetDecoderLayer(nn.Module):
    def __init__(self, in_channels, out_channels, dropout: float, config: UNetSeparatorConfig):
        super().__init__()
        self.deconv = TFSameConvTranspose2d(in_channels, out_channels, config.kernel_size, stride=2)
        self.bn = nn.BatchNorm2d(out_channels, eps=config.batch_norm_eps, momentum=config.batch_norm_momentum)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        return self.dropout(self.bn(F.relu(self.deconv(x))))


class UNet(nn.Module):
    """One stem's U-Net: (batch, channels, frames, bins) magnitude → (its mask, mask · input)."""

    def __init__(self, config: UNetSeparatorConfig):
        super().__init__()
        filters = config.conv_filters
        ins = [config.audio_channels] + filters[:-1]
        self.encoder = nn.ModuleList(UNetEncoderLayer(i, o, config) for i, o in zip(ins, filters))
        outs = filters[-2::-1] + [1]
        dec_ins = [filters[-1]] + [2 * f for f in filters[-2::-1]]
        self.decoder = nn.ModuleList(
            UNetDecoderLayer(i, o, config.dropout if k < config.decoder_dropout_layers else 0.0, config)
            for k, (i, o) in enumerate(zip(dec_ins, outs))
        )
        self.mask_conv = TFSameConv2d(1, config.audio_channels, 4, dilation=2)

    def forward(self, magnitude: torch.Tensor):
        skips = []
        x = magnitude
        for layer in self.encoder:
            raw, x = layer(x)
            skips.append(raw)
        # Spleeter: the first transposed conv takes the last conv's raw (pre-BN) output and each
        # skip is the raw conv output of the matching level, concatenated as [skip, up].
        y = skips[-1]
        for k, layer in enumerate(self.decoder):
            if k > 0:
                y = torch.cat([skips[-1 - k], y], dim=1)
            y = layer(y)
        mask = torch.sigmoid(self.mask_conv(y))
        return mask, mask * magnitude


class UNetSeparatorModel(SeparatorPreTrainedModel):
    config_class = UNetSeparatorConfig
    base_model_prefix = "unet"

    def __init__(self, config: UNetSeparatorConfig):
        super().__init__(config)
        self.unets = nn.ModuleDict({stem: UNet(config) for stem in config.stems})
        self.post_init()

    # -- the steps, public so that conversions and tests can check each one
    def spectrogram(self, input_values: torch.Tensor) -> torch.Tensor:
        """(batch, channels, samples) → complex (batch, channels, frames, n_fft // 2 + 1)."""
        return stft(input_values, self.config.n_fft, self.config.hop_length)

    def to_patches(self, magnitude: torch.Tensor) -> torch.Tensor:
        """(B, C, T, bins) → (B · P, C, patch_frames, n_bins), zero-padding T to a multiple of a patch."""
        b, c, t, _ = magnitude.shape
        p = self.config.patch_frames
        n_patches = max(1, math.ceil(t / p))
        mag = F.pad(magnitude[..., : self.config.n_bins], (0, 0, 0, n_patches * p - t))
        return mag.reshape(b, c, n_patches, p, -1).transpose(1, 2).reshape(b * n_patches, c, p, -1)

    def from_patches(self, patches: torch.Tensor, batch: int, frames: int) -> torch.Tensor:
        bp, c, p, f = patches.shape
        n = bp // batch
        return patches.reshape(batch, n, c, p, f).transpose(1, 2).reshape(batch, c, n * p, f)[:, :, :frames]

    def stem_outputs(self, patches: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Each stem's (sigmoid mask, U-Net output = mask · magnitude) on magnitude patches."""
        return {stem: unet(patches) for stem, unet in self.unets.items()}

    def masks(self, outputs: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
        cfg = self.config
        if cfg.mask_mode == "direct":
            return {stem: mask for stem, (mask, _) in outputs.items()}
        p = cfg.separation_exponent
        powered = {stem: y**p for stem, (_, y) in outputs.items()}
        total = sum(powered.values()) + cfg.mask_eps
        return {stem: (v + cfg.mask_eps / len(powered)) / total for stem, v in powered.items()}

    def extend_mask(self, mask: torch.Tensor) -> torch.Tensor:
        full = self.config.n_fft // 2 + 1
        fill = 0.0 if self.config.mask_extension == "zeros" else 1.0
        return F.pad(mask, (0, full - mask.shape[-1]), value=fill)

    context_frames = 0  # patches are processed independently: chunks need no context

    @property
    def independent_frames(self) -> int | None:
        """Frames over which the separator is exactly independent (its patches): chunked inference
        aligned on this many frames reproduces the unchunked result."""
        return self.config.patch_frames

    def separate_spectrogram(self, spec: torch.Tensor):
        """Complex mixture STFT (B, C, T, n_fft // 2 + 1) → (vocals STFT, accompaniment STFT or None)."""
        b, _, frames, _ = spec.shape
        # the network runs in the model's dtype (e.g. bfloat16); masks and spectra stay float32
        outputs = self.stem_outputs(self.to_patches(spec.abs()).to(self.dtype))
        masks = {s: self.extend_mask(self.from_patches(m.float(), b, frames)) for s, m in self.masks(outputs).items()}
        voc_spec = masks[self.config.vocals_stem] * spec
        others = [s for s in self.config.stems if s != self.config.vocals_stem]
        acc_spec = sum(masks[s] for s in others) * spec if others else None
        return voc_spec, acc_spec

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
            target_vocals: optional (batch, audio_channels, samples) true vocals; gives ``loss``.
        """
        x = self._check_input(input_values)
        n = x.shape[-1]
        voc_spec, acc_spec = self.separate_spectrogram(self.spectrogram(x))
        vocals = istft(voc_spec, self.config.n_fft, self.config.hop_length, n)
        if acc_spec is not None:
            accompaniment = istft(acc_spec, self.config.n_fft, self.config.hop_length, n)
        else:
            accompaniment = x - vocals
        loss = None
        if target_vocals is not None:
            loss = mean_abs_error_per_sample(vocals, self._check_input(target_vocals)).mean()
        out = SeparatorOutput(loss=loss, vocals=vocals, accompaniment=accompaniment, vocals_spectrogram=voc_spec)
        return out if return_dict is not False else out.to_tuple()


__all__ = ["UNetSeparatorModel"]
