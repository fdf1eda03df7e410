"""Configuration of the HarmoF0 pitch estimator (Wei, Li, Yu, Li, ICME 2022), as published."""

import numpy as np
from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...pitch.convert import PitchBins, hz_to_cents
from ...utils import check_range

#: the small network the unit and cascade tests use (same layout and front-end, a few channels):
#: ``HarmoF0Config.tiny()`` or ``MajlConfig(pitch_config=dict(TINY_HARMOF0))``
TINY_HARMOF0 = {"model_type": "harmof0", "channels": [4, 8, 8], "n_harmonics": 4}


@strict
class HarmoF0Config(PreTrainedConfig):
    r"""HarmoF0 (github.com/WX-Wei/HarmoF0, MIT). Defaults are the published network, which the
    original checkpoints ``mir-1k.pth`` / ``mdb-stem-synth.pth`` load into.

    Front-end: frames of ``n_fft`` samples every ``native_hop_length`` samples, centred (frame m is
    centred at m·native_hop_length), × periodic Hann, power spectrum |X|², sampled at ``n_bins``
    log-spaced frequencies fmin·2^(k/bins_per_octave) by the original's two-point rule, then
    10·log10(max(·, amin)) clipped from below at (max of the input's map − ``top_db``).

    Network: block 1 = 3×3 conv (1 → channels[0]), ReLU, multi-rate dilated conv (one 1×1 conv per
    harmonic h = 1…``n_harmonics``, output shifted down by round(bins_per_octave·log2 h) bins and
    summed), ReLU, BN; blocks 2… = 3×3 conv, ReLU, (1, 3) conv dilated ``fixed_dilation`` bins along
    frequency, ReLU, BN; then a 1×1 conv to channels[-1] // 2, ReLU, a 1×1 conv to one map of logits
    (sigmoid: the activations).

    The network runs on its native 10 ms grid; ``hop_length`` is the output grid (320 = the
    cascade's 20 ms, 160 = native): output frame t is centred at t·hop_length samples and takes the
    native logits at that instant (picked when hop_length is a multiple of the native hop, linearly
    interpolated otherwise).

    Args:
        sampling_rate: Hz of the input (the checkpoints are 16 kHz).
        n_fft: samples per analysed frame (1024).
        native_hop_length: samples between the network's own frames (160 = 10 ms).
        hop_length: samples between output frames.
        fmin_hz, bins_per_octave, n_bins: the log-frequency axis = the output bin layout.
        n_harmonics: harmonics of the multi-rate dilated conv in block 1.
        channels: output channels of each block (the first is the multi-rate block).
        fixed_dilation: frequency dilation (bins) of the (1, 3) conv in blocks 2… (48 = one octave).
        top_db: dynamic range of the dB map below its maximum (``None``: no clipping).
        amin: power floor before the logarithm.
        batch_norm_eps, batch_norm_momentum: BatchNorm2d settings (PyTorch defaults, as the original).
        segment_length_s: seconds per segment in segment-wise (long-audio) inference. The dB floor is
            relative to the loudest bin of what the network is given, so segments change it; the
            original tracker runs 1000-frame (10 s) chunks, hence the default.
    """

    model_type = "harmof0"

    sampling_rate: int = 16000
    n_fft: int = 1024
    native_hop_length: int = 160
    hop_length: int = 320
    fmin_hz: float | int = 27.5
    bins_per_octave: int = 48
    n_bins: int = 352
    n_harmonics: int = 12
    channels: list[int] | tuple[int, ...] = (32, 64, 128, 128)
    fixed_dilation: int = 48
    top_db: float | int | None = 80.0
    amin: float = 1e-10
    batch_norm_eps: float = 1e-5
    batch_norm_momentum: float | int = 0.1
    segment_length_s: float | int = 10.0

    def __post_init__(self, **kwargs):
        self.channels = list(self.channels)
        check_range("sampling_rate", self.sampling_rate, 1000, 192000)
        check_range("n_fft", self.n_fft, 16, 65536)
        check_range("native_hop_length", self.native_hop_length, 1, self.n_fft)
        check_range("hop_length", self.hop_length, 1, 16 * self.n_fft)
        check_range("fmin_hz", self.fmin_hz, 0.0, self.sampling_rate / 2, low_open=True)
        check_range("bins_per_octave", self.bins_per_octave, 1, 240)
        check_range("n_bins", self.n_bins, 2, 4096)
        # the two-point rule reads FFT bins floor(i) and ceil(i) of i = f_k / (sr / n_fft)
        top = self.fmin_hz * 2 ** ((self.n_bins - 1) / self.bins_per_octave) * self.n_fft / self.sampling_rate
        if top >= self.n_fft // 2:
            raise ValueError(
                f"n_bins={self.n_bins} from fmin_hz={self.fmin_hz} at {self.bins_per_octave} bins/octave reaches "
                f"FFT bin {top:.1f}, beyond the last ({self.n_fft // 2}): lower n_bins or fmin_hz"
            )
        check_range("n_harmonics", self.n_harmonics, 1, 64)
        check_range("len(channels)", len(self.channels), 1, 16)
        for c in self.channels:
            check_range("channels[i]", c, 2, 4096)
        check_range("fixed_dilation", self.fixed_dilation, 1, self.n_bins)
        if self.top_db is not None:
            check_range("top_db", self.top_db, 0.0, None, low_open=True)
        check_range("amin", self.amin, 0.0, 1.0, low_open=True)
        check_range("batch_norm_eps", self.batch_norm_eps, 0.0, 1.0, low_open=True)
        check_range("batch_norm_momentum", self.batch_norm_momentum, 0.0, 1.0)
        check_range("segment_length_s", self.segment_length_s, 0.0, None, low_open=True)
        super().__post_init__(**kwargs)

    @classmethod
    def tiny(cls, **kwargs) -> "HarmoF0Config":
        """The test-sized network (:data:`TINY_HARMOF0`): same front-end and bin layout, 3 blocks of 4–8 channels."""
        preset = {k: v for k, v in TINY_HARMOF0.items() if k != "model_type"}
        return cls(**{**preset, **kwargs})

    @property
    def harmonic_shifts(self) -> list[int]:
        """Bins between harmonic h = 1…n_harmonics and the fundamental (round(bpo·log2 h)):
        [0, 48, 76, 96, 111, 124, 135, 144, 152, 159, 166, 172] for the published network."""
        # as the original: log(h) / log(2^(1/bpo)) in float64, rounded half to even
        shifts = np.log(np.arange(1, self.n_harmonics + 1)) / np.log(2 ** (1.0 / self.bins_per_octave))
        return [int(v) for v in np.round(shifts)]

    @property
    def pitch_bins(self) -> PitchBins:
        return PitchBins(float(hz_to_cents(float(self.fmin_hz))), 1200.0 / self.bins_per_octave, self.n_bins)

    @property
    def frame_length(self) -> int:
        return self.n_fft

    @property
    def frame_rate(self) -> float:
        return self.sampling_rate / self.hop_length


__all__ = ["TINY_HARMOF0", "HarmoF0Config"]
