"""Configuration of the HarmoF0 pitch estimator (Wei et al., ICME 2022)."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...pitch.convert import PitchBins, hz_to_cents
from ...utils import check_range


@strict
class HarmoF0Config(PreTrainedConfig):
    r"""HarmoF0: a log-frequency spectrogram (STFT magnitudes mapped onto ``n_bins`` bins of
    ``1200 / bins_per_octave`` cents from ``fmin_hz``, log-compressed), then multi-rate dilated
    convolutions: in each block, one 1×1 conv per harmonic h = 1…``n_harmonics`` applied to the
    feature map shifted down by round(bins_per_octave · log2 h) bins and summed (harmonic
    dilation), followed by an octave-dilated conv along frequency and a conv along time. The output
    is one sigmoid activation per bin and frame (352 = 88 semitones × 4 by default).

    Args:
        sampling_rate, n_fft, hop_length: front-end (Hz, samples, samples). Frames are centred.
        fmin_hz: frequency of bin 0; bins_per_octave; n_bins.
        n_harmonics: harmonics summed by the multi-rate dilated conv.
        channels: channels of the first conv block and of each multi-rate block.
        time_kernel: kernel of the conv along time in each block.
        log_compression: γ in log(1 + γ·|X|).
    """

    model_type = "harmof0"

    sampling_rate: int = 16000
    n_fft: int = 2048
    hop_length: int = 320
    fmin_hz: float | int = 27.5
    bins_per_octave: int = 48
    n_bins: int = 352
    n_harmonics: int = 12
    channels: list[int] | tuple[int, ...] = (32, 64, 128, 128)
    time_kernel: int = 3
    log_compression: float | int = 10.0
    batch_norm_momentum: float | int = 0.1

    def __post_init__(self, **kwargs):
        self.channels = list(self.channels)
        check_range("sampling_rate", self.sampling_rate, 1000, 192000)
        check_range("n_fft", self.n_fft, 64, 65536)
        check_range("hop_length", self.hop_length, 1, self.n_fft)
        check_range("fmin_hz", self.fmin_hz, 0.0, self.sampling_rate / 2, low_open=True)
        check_range("bins_per_octave", self.bins_per_octave, 1, 240)
        check_range("n_bins", self.n_bins, 2, 4096)
        fmax = self.fmin_hz * 2 ** ((self.n_bins - 1) / self.bins_per_octave)
        if fmax >= self.sampling_rate / 2:
            raise ValueError(
                f"n_bins={self.n_bins} from fmin_hz={self.fmin_hz} reaches {fmax:.0f} Hz, above Nyquist "
                f"({self.sampling_rate / 2:.0f} Hz): lower n_bins or fmin_hz"
            )
        check_range("n_harmonics", self.n_harmonics, 1, 32)
        check_range("len(channels)", len(self.channels), 2, 8)
        for c in self.channels:
            check_range("channels[i]", c, 1, 2048)
        check_range("time_kernel", self.time_kernel, 1, 31)
        if self.time_kernel % 2 == 0:
            raise ValueError(f"time_kernel must be odd, got {self.time_kernel}")
        check_range("log_compression", self.log_compression, 0.0, None, low_open=True)
        check_range("batch_norm_momentum", self.batch_norm_momentum, 0.0, 1.0)
        super().__post_init__(**kwargs)

    @property
    def pitch_bins(self) -> PitchBins:
        return PitchBins(float(hz_to_cents(float(self.fmin_hz))), 1200.0 / self.bins_per_octave, self.n_bins)

    @property
    def frame_rate(self) -> float:
        return self.sampling_rate / self.hop_length


__all__ = ["HarmoF0Config"]
