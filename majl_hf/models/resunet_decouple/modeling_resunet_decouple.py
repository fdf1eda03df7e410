"""ResUNetDecouple+ separator (Kong et al., ISMIR 2021): residual U-Net with decoupled magnitude
mask, phase rotation and linear magnitude term."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..common import SeparatorPreTrainedModel, istft, mean_abs_error_per_sample, stft
from ..outputs import SeparatorOutput
from .configuration_resunet_decouple import ResUNetDecoupleConfig

OUTPUTS_PER_CHANNEL = 4  # magnitude mask, rotation real, rotation imaginary, linear magnitude


class ResidualBlock(nn.Module):
    """BN → LeakyReLU → conv3×3 → BN → LeakyReLU → conv3×3, plus a (1×1 when needed) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, config: ResUNetDecoupleConfig):
        super().__init__()
        m = config.batch_norm_momentum
        self.bn1 = nn.BatchNorm2d(in_ch, momentum=m)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch, momentum=m)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()
        self.slope = config.leaky_relu_slope

    def forward(self, x):
        y = self.conv1(F.leaky_relu(self.bn1(x), self.slope))
        y = self.conv2(F.leaky_relu(self.bn2(y), self.slope))
        return self.shortcut(x) + y


def _stack(in_ch, out_ch, config):
    return nn.Sequential(*[ResidualBlock(in_ch if i == 0 else out_ch, out_ch, config) for i in range(config.blocks_per_level)])


class ResUNetDecoupleModel(SeparatorPreTrainedModel):
    config_class = ResUNetDecoupleConfig
    base_model_prefix = "resunet_decouple"

    def __init__(self, config: ResUNetDecoupleConfig):
        super().__init__(config)
        ch = config.channels
        c_in = config.audio_channels
        self.input_conv = nn.Conv2d(c_in, ch[0], 1)
        self.encoder = nn.ModuleList(_stack(i, o, config) for i, o in zip([ch[0]] + ch[:-2], ch[:-1]))
        self.bottleneck = _stack(ch[-2], ch[-1], config)
        self.upsample = nn.ModuleList(
            nn.ConvTranspose2d(i, o, 2, stride=2) for i, o in zip(ch[:0:-1], ch[-2::-1])
        )
        self.decoder = nn.ModuleList(_stack(2 * o, o, config) for o in ch[-2::-1])
        self.output_conv = nn.Conv2d(ch[0], c_in * OUTPUTS_PER_CHANNEL, 1)
        self.post_init()

    def _init_weights(self, module):
        super()._init_weights(module)
        if module is getattr(self, "output_conv", None):
            from transformers import initialization as init

            init.zeros_(module.weight)
            bias = torch.zeros(module.bias.shape)
            c = self.config.audio_channels
            bias.view(c, OUTPUTS_PER_CHANNEL)[:, 0] = float(self.config.magnitude_bias_init)
            bias.view(c, OUTPUTS_PER_CHANNEL)[:, 1] = 1.0  # rotation starts at 1 (mixture phase)
            init.copy_(module.bias, bias)

    independent_frames = None  # every output frame sees its neighbours: chunking needs context

    @property
    def context_frames(self) -> int:
        """Frames of context each side that make chunked inference match the unchunked result
        closely (the receptive field in time grows ×2 per level; 3×3 convs per block)."""
        return 2 * 2 ** (len(self.config.channels) - 1) * (2 * self.config.blocks_per_level)

    def separate_spectrogram(self, spec: torch.Tensor):
        """Complex mixture STFT (B, C, T, F) → (vocals STFT, None): the accompaniment is mixture − vocals."""
        cfg = self.config
        b, c, t, f_full = spec.shape
        mag = spec.abs()
        mult = 2 ** (len(cfg.channels) - 1)
        h = F.pad(mag[..., : f_full - 1], (0, 0, 0, -t % mult))  # drop the Nyquist bin: F = n_fft / 2
        h = self.input_conv(h.to(self.dtype))
        skips = []
        for stage in self.encoder:
            h = stage(h)
            skips.append(h)
            h = F.avg_pool2d(h, 2)
        h = self.bottleneck(h)
        for up, stage, skip in zip(self.upsample, self.decoder, reversed(skips)):
            h = stage(torch.cat([skip, up(h)], dim=1))
        out = self.output_conv(h)[:, :, :t].float()  # (B, 4C, T, F-1)
        out = F.pad(out, (0, 1)).reshape(b, c, OUTPUTS_PER_CHANNEL, t, f_full)
        mask = torch.sigmoid(out[:, :, 0])
        rot = torch.complex(out[:, :, 1], out[:, :, 2])
        rot = rot / rot.abs().clamp_min(1e-8)
        out_mag = F.relu(mag * mask + out[:, :, 3])
        phase = torch.where(mag > 1e-8, spec / mag.clamp_min(1e-8), torch.ones_like(spec))
        return out_mag * phase * rot, None

    def forward(self, input_values: torch.Tensor, target_vocals: torch.Tensor | None = None, return_dict=True, **kwargs):
        """input_values: (batch, audio_channels, samples) → vocals (batch, audio_channels, samples)."""
        cfg = self.config
        x = self._check_input(input_values)
        n = x.shape[-1]
        voc_spec, _ = self.separate_spectrogram(stft(x, cfg.n_fft, cfg.hop_length))
        vocals = istft(voc_spec, cfg.n_fft, cfg.hop_length, n)
        loss = None
        if target_vocals is not None:
            loss = mean_abs_error_per_sample(vocals, self._check_input(target_vocals)).mean()
        res = SeparatorOutput(loss=loss, vocals=vocals, accompaniment=x - vocals, vocals_spectrogram=voc_spec)
        return res if return_dict is not False else res.to_tuple()


__all__ = ["ResUNetDecoupleModel"]
