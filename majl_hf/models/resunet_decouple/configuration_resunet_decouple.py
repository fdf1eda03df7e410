"""Configuration of the ResUNetDecouple+ separator (Kong et al., ISMIR 2021: ResUNet143 Decouple+)."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...utils import check_choice, check_range

#: Named settings for :meth:`ResUNetDecoupleConfig.from_preset`. Every other field keeps its default
#: (the published depth and width: 6 encoder stages of 4 residual blocks, 32 … 384 channels).
PRESETS = {
    # the authors' code (bytesep resunet_ismir2021.py): 44.1 kHz stereo, Hann window 2048, hop 441 (10 ms)
    "ismir2021": {"sampling_rate": 44100, "audio_channels": 2, "n_fft": 2048, "hop_length": 441},
    # the MAJL paper's front-end: 16 kHz mono, STFT 2048 / hop 320 (20 ms)
    "majl": {"sampling_rate": 16000, "audio_channels": 1, "n_fft": 2048, "hop_length": 320},
    # same layer structure at toy size, for tests (9,208 parameters mono, receptive field 44 frames)
    "tiny": {
        "sampling_rate": 16000, "audio_channels": 1, "n_fft": 512, "hop_length": 160,
        "encoder_channels": [4, 8, 8], "time_downsample_levels": 2, "blocks_per_stage": 1, "bottleneck_stages": 1,
    },
}


@strict
class ResUNetDecoupleConfig(PreTrainedConfig):
    r"""ResUNet143 Decouple+ (Kong et al., "Decoupling magnitude and phase estimation with deep
    ResUNet for music source separation", ISMIR 2021), laid out as the authors' code
    (bytesep ``ResUNet143_DecouplePlusInplaceABN_ISMIR2021``) with one target source.

    The mixture magnitude |X| (Nyquist bin dropped, per-bin BatchNorm) goes through a residual
    U-Net; per channel and time-frequency bin it predicts four maps: a bounded magnitude mask
    m = sigmoid(·), a phase rotation r = (tanh a + j tanh b) / |tanh a + j tanh b| and a direct
    magnitude q, so that |Ŝ| = relu(m·|X| + q) and ∠Ŝ = ∠X + ∠r (complex output).

    Each residual block is BN → LeakyReLU → conv3×3 → BN → LeakyReLU → conv3×3 plus a shortcut
    (1×1 conv with bias where the channel count changes). The original's InPlaceABNSync (the
    second BN + activation) is a plain BatchNorm2d followed by LeakyReLU of slope
    ``leaky_relu_slope`` = 0.01 (InPlaceABN's default slope, also the original's first activation).
    Encoder stage i: ``blocks_per_stage`` blocks at ``encoder_channels[i]``, then 2×2 average pooling
    (time and frequency) for the first ``time_downsample_levels`` stages and 1×2 (frequency only)
    for the rest; then ``bottleneck_stages`` stages of ``blocks_per_stage`` blocks; the decoder
    mirrors the encoder (BN → ReLU → transposed conv, concatenated skip, ``blocks_per_stage``
    blocks); one last stage at ``encoder_channels[0]`` and a 1×1 conv to 4 maps per channel.

    Named settings: ``ResUNetDecoupleConfig.from_preset(name, **overrides)`` with ``name`` one of
    ``"ismir2021"`` (44.1 kHz stereo, 2048 / 441: the original, 102,571,278 parameters),
    ``"majl"`` (16 kHz mono, 2048 / 320: the MAJL paper, 102,570,824 parameters; also the defaults)
    and ``"tiny"`` (same structure at toy size, for tests). See :data:`PRESETS`.

    Args:
        sampling_rate, audio_channels, n_fft, hop_length: front-end (Hz, count, samples, samples);
            the STFT is :func:`majl_hf.models.common.stft` (periodic Hann window of ``n_fft``).
        encoder_channels: output channels of each encoder stage (the original: 32, 64, 128, 256, 384, 384).
        time_downsample_levels: how many leading encoder stages also halve time (the original: 5).
        blocks_per_stage: residual blocks per stage (the original: 4, "Res4B").
        bottleneck_stages: stages between encoder and decoder, at ``encoder_channels[-1]`` (the original: 4).
        leaky_relu_slope: negative slope of every LeakyReLU (the original: 0.01).
        batch_norm_momentum: momentum of every BatchNorm (the original: 0.01).
        batch_norm_eps: epsilon of every BatchNorm (PyTorch's and InPlaceABN's 1e-5).
        magnitude_eps: floor of |X|² before the square root, as the original's 1e-10.
    """

    model_type = "resunet_decouple"

    sampling_rate: int = 16000
    audio_channels: int = 1
    n_fft: int = 2048
    hop_length: int = 320
    encoder_channels: list[int] | tuple[int, ...] = (32, 64, 128, 256, 384, 384)
    time_downsample_levels: int = 5
    blocks_per_stage: int = 4
    bottleneck_stages: int = 4
    leaky_relu_slope: float | int = 0.01
    batch_norm_momentum: float | int = 0.01
    batch_norm_eps: float | int = 1e-5
    magnitude_eps: float | int = 1e-10

    def __post_init__(self, **kwargs):
        self.encoder_channels = list(self.encoder_channels)
        check_range("sampling_rate", self.sampling_rate, 1000, 384000)
        check_range("audio_channels", self.audio_channels, 1, 8)
        check_range("n_fft", self.n_fft, 16, 65536)
        if self.n_fft % 2:
            raise ValueError(f"n_fft must be even, got {self.n_fft}")
        check_range("hop_length", self.hop_length, 1, self.n_fft)
        check_range("len(encoder_channels)", len(self.encoder_channels), 1, 10)
        for c in self.encoder_channels:
            check_range("encoder_channels[i]", c, 1, 4096)
        check_range("time_downsample_levels", self.time_downsample_levels, 0, len(self.encoder_channels))
        check_range("blocks_per_stage", self.blocks_per_stage, 1, 16)
        check_range("bottleneck_stages", self.bottleneck_stages, 0, 16)
        check_range("leaky_relu_slope", self.leaky_relu_slope, 0.0, 1.0)
        check_range("batch_norm_momentum", self.batch_norm_momentum, 0.0, 1.0)
        check_range("batch_norm_eps", self.batch_norm_eps, 0.0, 1.0, low_open=True)
        check_range("magnitude_eps", self.magnitude_eps, 0.0, 1.0, low_open=True)
        super().__post_init__(**kwargs)

    @classmethod
    def from_preset(cls, name: str, **kwargs) -> "ResUNetDecoupleConfig":
        """A config from :data:`PRESETS` (``"ismir2021"``, ``"majl"``, ``"tiny"``), any field overridden by keyword."""
        check_choice("preset", name, tuple(PRESETS))
        return cls(**{**PRESETS[name], **kwargs})

    @property
    def frame_rate(self) -> float:
        return self.sampling_rate / self.hop_length

    @property
    def frequency_downsampling(self) -> int:
        """Factor by which the encoder shrinks the frequency axis (2 per stage)."""
        return 2 ** len(self.encoder_channels)

    @property
    def time_downsampling(self) -> int:
        """Factor by which the encoder shrinks the time axis; frames are zero-padded to a multiple of it."""
        return 2**self.time_downsample_levels


__all__ = ["PRESETS", "ResUNetDecoupleConfig"]
