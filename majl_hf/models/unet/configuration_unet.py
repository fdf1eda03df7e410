"""Configuration of the U-Net separator (Jansson et al. 2017; the architecture of Spleeter)."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...utils import check_choice, check_range


@strict
class UNetSeparatorConfig(PreTrainedConfig):
    r"""U-Net spectrogram-mask separator. Defaults are Spleeter 2stems exactly
    (`../shared/reference/spleeter/FACTS.md`): 44.1 kHz stereo, STFT 4096/1024, 1024 bins into the
    network, 512-frame patches, one U-Net per stem, ratio masks with exponent 2, masks extended with
    zeros above the kept bins. The MAJL paper's setting is
    ``UNetSeparatorConfig(sampling_rate=16000, audio_channels=1, n_fft=2048, hop_length=320,
    stems=["vocals"], mask_mode="direct")``.

    Args:
        sampling_rate: Hz of the input and output waveforms.
        audio_channels: channels of the waveform (the conv input channels).
        n_fft: STFT frame length and FFT size in samples (periodic Hann window).
        hop_length: STFT hop in samples.
        n_bins: lowest STFT bins fed to the network (≤ n_fft // 2 + 1, a multiple of 2**depth).
        patch_frames: STFT frames per patch; the spectrogram is zero-padded to a multiple of it and
            each patch goes through the network independently (a multiple of 2**depth).
        stems: one U-Net per stem, in this order.
        vocals_stem: which stem is the vocals.
        conv_filters: encoder filters per level (the decoder mirrors them).
        kernel_size: conv / transposed-conv kernel size (stride 2, TF "same" padding).
        leaky_relu_slope: encoder LeakyReLU slope.
        batch_norm_eps, batch_norm_momentum: BatchNorm settings (Keras defaults: 1e-3, 0.01).
        dropout: dropout after the first ``decoder_dropout_layers`` decoder levels.
        mask_mode: ``"ratio"``: mask_i = (y_i^p + eps/S) / (Σ_j y_j^p + eps) over the stems' U-Net
            outputs (Spleeter); ``"direct"``: the sigmoid output is the mask (Jansson; one stem is
            enough, the accompaniment is mixture − vocals).
        separation_exponent: p of the ratio mask.
        mask_eps: eps of the ratio mask.
        mask_extension: value of the mask above ``n_bins`` (``"zeros"``: Spleeter, removes those
            frequencies; ``"ones"``: keeps them in every stem).
    """

    model_type = "unet"

    sampling_rate: int = 44100
    audio_channels: int = 2
    n_fft: int = 4096
    hop_length: int = 1024
    n_bins: int = 1024
    patch_frames: int = 512
    stems: list[str] | tuple[str, ...] = ("vocals", "accompaniment")
    vocals_stem: str = "vocals"
    conv_filters: list[int] | tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    kernel_size: int = 5
    leaky_relu_slope: float | int = 0.2
    batch_norm_eps: float | int = 1e-3
    batch_norm_momentum: float | int = 0.01
    dropout: float | int = 0.5
    decoder_dropout_layers: int = 3
    mask_mode: str = "ratio"
    separation_exponent: float | int = 2.0
    mask_eps: float | int = 1e-10
    mask_extension: str = "zeros"

    def __post_init__(self, **kwargs):
        self.stems = list(self.stems)
        self.conv_filters = list(self.conv_filters)
        check_range("sampling_rate", self.sampling_rate, 1000, 384000)
        check_range("audio_channels", self.audio_channels, 1, 8)
        check_range("n_fft", self.n_fft, 16, 65536)
        check_range("hop_length", self.hop_length, 1, self.n_fft)
        depth = 2 ** len(self.conv_filters)
        check_range("n_bins", self.n_bins, depth, self.n_fft // 2 + 1)
        if self.n_bins % depth:
            raise ValueError(f"n_bins must be a multiple of 2**len(conv_filters) = {depth}, got {self.n_bins}")
        check_range("patch_frames", self.patch_frames, depth, None)
        if self.patch_frames % depth:
            raise ValueError(
                f"patch_frames must be a multiple of 2**len(conv_filters) = {depth}, got {self.patch_frames}"
            )
        if not self.stems or len(set(self.stems)) != len(self.stems):
            raise ValueError(f"stems must be a non-empty list of distinct names, got {self.stems}")
        if self.vocals_stem not in self.stems:
            raise ValueError(f"vocals_stem must be one of stems {self.stems}, got {self.vocals_stem!r}")
        check_range("len(conv_filters)", len(self.conv_filters), 2, 8)
        for f in self.conv_filters:
            check_range("conv_filters[i]", f, 1, 4096)
        check_range("kernel_size", self.kernel_size, 2, 15)
        check_range("leaky_relu_slope", self.leaky_relu_slope, 0.0, 1.0)
        check_range("batch_norm_eps", self.batch_norm_eps, 0.0, 1.0, low_open=True)
        check_range("batch_norm_momentum", self.batch_norm_momentum, 0.0, 1.0)
        check_range("dropout", self.dropout, 0.0, 1.0, high_open=True)
        check_range("decoder_dropout_layers", self.decoder_dropout_layers, 0, len(self.conv_filters))
        check_choice("mask_mode", self.mask_mode, ("ratio", "direct"))
        if self.mask_mode == "ratio" and len(self.stems) < 2:
            raise ValueError("mask_mode='ratio' needs at least two stems; use mask_mode='direct' for one stem")
        check_range("separation_exponent", self.separation_exponent, 0.0, 10.0, low_open=True)
        check_range("mask_eps", self.mask_eps, 0.0, 1.0)
        check_choice("mask_extension", self.mask_extension, ("zeros", "ones"))
        super().__post_init__(**kwargs)

    @property
    def depth(self) -> int:
        return len(self.conv_filters)

    @property
    def frame_rate(self) -> float:
        return self.sampling_rate / self.hop_length


__all__ = ["UNetSeparatorConfig"]
