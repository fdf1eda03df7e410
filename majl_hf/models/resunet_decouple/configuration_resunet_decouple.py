"""Configuration of the ResUNetDecouple+ separator (Kong et al., ISMIR 2021)."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...utils import check_range


@strict
class ResUNetDecoupleConfig(PreTrainedConfig):
    r"""Residual U-Net on the mixture magnitude that predicts, per time-frequency bin and channel,
    a bounded magnitude mask (sigmoid), a phase rotation (a unit complex number, from two
    unconstrained outputs normalised to length 1) and — the "+" — a non-negative linear magnitude
    term: |Ŝ| = relu(|X|·sigmoid(m) + l), ∠Ŝ = ∠X + ∠r. Decoupled magnitude and phase, complex output.

    Defaults are the MAJL paper's front-end (16 kHz mono, STFT 2048/320).

    Args:
        sampling_rate, audio_channels, n_fft, hop_length: front-end (Hz, count, samples, samples).
        channels: channels per encoder level (downsampling ×2 in time and frequency between levels).
        blocks_per_level: residual blocks per level in encoder and decoder.
        leaky_relu_slope, batch_norm_momentum: block settings.
        magnitude_bias_init: initial bias of the magnitude-mask output (0 → mask 0.5 at start).
    """

    model_type = "resunet_decouple"

    sampling_rate: int = 16000
    audio_channels: int = 1
    n_fft: int = 2048
    hop_length: int = 320
    channels: list[int] | tuple[int, ...] = (32, 64, 128, 256, 384)
    blocks_per_level: int = 2
    leaky_relu_slope: float | int = 0.01
    batch_norm_momentum: float | int = 0.01
    magnitude_bias_init: float | int = 0.0

    def __post_init__(self, **kwargs):
        self.channels = list(self.channels)
        check_range("sampling_rate", self.sampling_rate, 1000, 384000)
        check_range("audio_channels", self.audio_channels, 1, 8)
        check_range("n_fft", self.n_fft, 64, 65536)
        if self.n_fft % (2 ** len(self.channels)):
            raise ValueError(f"n_fft must be a multiple of 2**len(channels) = {2 ** len(self.channels)}, got {self.n_fft}")
        check_range("hop_length", self.hop_length, 1, self.n_fft)
        check_range("len(channels)", len(self.channels), 2, 8)
        for c in self.channels:
            check_range("channels[i]", c, 1, 4096)
        check_range("blocks_per_level", self.blocks_per_level, 1, 16)
        check_range("leaky_relu_slope", self.leaky_relu_slope, 0.0, 1.0)
        check_range("batch_norm_momentum", self.batch_norm_momentum, 0.0, 1.0)
        check_range("magnitude_bias_init", self.magnitude_bias_init, -20.0, 20.0)
        super().__post_init__(**kwargs)

    @property
    def frame_rate(self) -> float:
        return self.sampling_rate / self.hop_length


__all__ = ["ResUNetDecoupleConfig"]
