"""Configuration of the FCPE pitch estimator (torchfcpe's ``CFNaiveMelPE``, CNChTu, MIT)."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...pitch.convert import PitchBins, hz_to_cents
from ...utils import check_range


@strict
class FcpeConfig(PreTrainedConfig):
    r"""FCPE (Fast Context-based Pitch Estimation): a natural-log mel spectrogram (Slaney mel, hop
    ``native_hop_length``), two time convolutions with a group norm between them, ``num_layers``
    conformer convolution modules (each ``x + conv_module(x)``: layer norm, pointwise conv to
    2·``conv_expansion``·hidden channels, GLU, depthwise conv of ``conv_kernel_size`` frames, SiLU,
    pointwise conv back), a layer norm and a weight-normalised linear layer to ``n_bins`` sigmoid
    activations whose bins are linear in cents from ``f0_min_hz`` to ``f0_max_hz`` (both included).
    This is the bundled ``fcpe_c_v001`` model (``conv_only``: no attention).

    The network runs on its own 10 ms grid; ``hop_length`` is the output grid (frame t centred at
    t·hop_length samples), reached inside ``forward`` by subsampling (a multiple of the native hop)
    or linear interpolation (any other hop).

    Args:
        sampling_rate: Hz of the input (FCPE is defined at 16 kHz).
        hop_length: samples between output frames (320 = the MAJL cascade's 20 ms; 160 = FCPE's own).
        native_hop_length: samples between the network's frames (FCPE: 160).
        n_fft: STFT size and Hann window length of the mel front-end.
        num_mels, mel_fmin_hz, mel_fmax_hz: the Slaney-normalised mel filterbank (librosa's default).
        mel_clip: floor of the mel magnitudes before the log.
        magnitude_eps: added to re² + im² before the square root of the STFT magnitude.
        hidden_size, num_layers, conv_expansion, conv_kernel_size: network size.
        group_norm_groups: groups of the group norm in the input stack (its statistics span the
            whole input in time: the network is not frame-local).
        layer_norm_eps, group_norm_eps: norm epsilons (PyTorch's defaults, as FCPE).
        n_bins, f0_min_hz, f0_max_hz: the output bin layout.
    """

    model_type = "fcpe"

    sampling_rate: int = 16000
    hop_length: int = 320
    native_hop_length: int = 160
    n_fft: int = 1024
    num_mels: int = 128
    mel_fmin_hz: float | int = 0.0
    mel_fmax_hz: float | int = 8000.0
    mel_clip: float | int = 1e-5
    magnitude_eps: float | int = 1e-9
    hidden_size: int = 512
    num_layers: int = 6
    conv_expansion: int = 2
    conv_kernel_size: int = 31
    group_norm_groups: int = 4
    layer_norm_eps: float | int = 1e-5
    group_norm_eps: float | int = 1e-5
    n_bins: int = 360
    f0_min_hz: float | int = 32.7
    f0_max_hz: float | int = 1975.5

    def __post_init__(self, **kwargs):
        check_range("sampling_rate", self.sampling_rate, 1000, 192000)
        check_range("n_fft", self.n_fft, 16, 65536)
        check_range("native_hop_length", self.native_hop_length, 1, self.n_fft)
        check_range("hop_length", self.hop_length, 1, 16 * self.n_fft)
        check_range("num_mels", self.num_mels, 1, 1024)
        check_range("mel_fmin_hz", self.mel_fmin_hz, 0.0, self.sampling_rate / 2, high_open=True)
        check_range("mel_fmax_hz", self.mel_fmax_hz, self.mel_fmin_hz, self.sampling_rate / 2, low_open=True)
        check_range("mel_clip", self.mel_clip, 0.0, 1.0, low_open=True)
        check_range("magnitude_eps", self.magnitude_eps, 0.0, 1.0)
        check_range("hidden_size", self.hidden_size, 1, 8192)
        check_range("num_layers", self.num_layers, 0, 64)
        check_range("conv_expansion", self.conv_expansion, 1, 16)
        check_range("conv_kernel_size", self.conv_kernel_size, 1, 255)
        if self.conv_kernel_size % 2 == 0:
            raise ValueError(f"conv_kernel_size must be odd, got {self.conv_kernel_size}")
        check_range("group_norm_groups", self.group_norm_groups, 1, self.hidden_size)
        if self.hidden_size % self.group_norm_groups:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by group_norm_groups ({self.group_norm_groups})"
            )
        check_range("layer_norm_eps", self.layer_norm_eps, 0.0, 1.0, low_open=True)
        check_range("group_norm_eps", self.group_norm_eps, 0.0, 1.0, low_open=True)
        check_range("n_bins", self.n_bins, 2, 4096)
        check_range("f0_min_hz", self.f0_min_hz, 0.0, self.sampling_rate / 2, low_open=True)
        check_range("f0_max_hz", self.f0_max_hz, self.f0_min_hz, self.sampling_rate / 2, low_open=True)
        super().__post_init__(**kwargs)

    @property
    def pitch_bins(self) -> PitchBins:
        """Bins linear in cents from ``f0_min_hz`` to ``f0_max_hz`` (FCPE's ``cent_table``)."""
        lo = float(hz_to_cents(float(self.f0_min_hz)))
        hi = float(hz_to_cents(float(self.f0_max_hz)))
        return PitchBins(lo, (hi - lo) / (self.n_bins - 1), self.n_bins)

    @property
    def frame_length(self) -> int:
        return self.n_fft

    @property
    def frame_rate(self) -> float:
        return self.sampling_rate / self.hop_length


__all__ = ["FcpeConfig"]
