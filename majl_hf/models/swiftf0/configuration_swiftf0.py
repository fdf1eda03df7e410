"""Configuration of the SwiftF0 pitch estimator (Nieradzik, swift-f0 0.3.0, github.com/lars76/swift-f0, MIT)."""

import math

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...pitch.convert import PitchBins, hz_to_cents
from ...utils import check_range

#: the published network's residual blocks: (band dilation, band kernel, time kernel) of both convs of each
#: block; the dilations are round(bins_per_octave · log2 h) for harmonics h = 2, 3, 5, 7 at 17.15 bins/octave
SWIFTF0_BLOCKS = ((1, 7, 3), (17, 7, 1), (27, 5, 1), (40, 3, 1), (48, 3, 1), (2, 7, 3))


@strict
class SwiftF0Config(PreTrainedConfig):
    r"""SwiftF0 as shipped in ``swift-f0==0.3.0`` (its ``model.onnx``). Defaults are that network.

    Front-end: on the native grid of ``native_hop_length`` samples (16 ms), frame j is centred at
    j·native_hop_length; for each of ``window_lengths`` a periodic-Hann magnitude spectrum, mapped by
    triangular filters onto ``n_bands`` log-spaced bands fmin·2^(k / bins_per_octave), ``log(· + log_floor)``:
    a (3 windows, bands, frames) feature map.

    Network: 3×3 conv (3 → ``channels``), ReLU; residual blocks of two convs each (``blocks``: band
    dilation, band kernel, time kernel) with ReLU after the sum; the lowest ``n_bins + 1`` bands; a 3×3
    conv to ``proj_channels``, ReLU → ``n_bins`` bands. Pitch head: 1×1 conv → one score per bin (a
    softmax classifier). Voicing head: (``voicing_band_kernel``×1) conv, max over bands, with the mean
    of the feature map appended, Conv1d k3 (→ ``voicing_channels``), ReLU, Conv1d 1×1 → one logit per
    frame; its sigmoid is SwiftF0's confidence (trained as "voiced and pitch within 50 cents").

    Output grid: ``hop_length`` samples (320 = the cascade's 20 ms; 256 = native). Output frame t is
    centred at t·hop_length; it takes the two native frames around that instant, their bin
    probabilities (softmax of the scores) and confidences (sigmoid of the voicing logit) linearly
    interpolated (exact copies where the grids coincide). The activations are confidence ·
    p_k / max_j p_j: their peak is SwiftF0's confidence and their argmax its pitch bin.

    Args:
        sampling_rate: Hz of the input (SwiftF0 is defined at 16 kHz).
        hop_length: samples between output frames.
        native_hop_length: samples between the network's own frames (256).
        window_lengths: analysis windows of the three feature channels.
        fmin_hz, fmax_hz, n_bins: the pitch bins, log-spaced from fmin to fmax (= the output layout).
        channels, blocks, proj_channels: the trunk (see above).
        voicing_band_kernel, voicing_channels: the voicing head.
        log_floor: added to the band magnitudes before the logarithm.
        pad_edges: compute native frames of zero audio as far beyond both ends of the input as the
            network sees (7 frames), so that its convolutions' zero padding never reaches an output
            frame: a segment's frames then equal the whole-signal ones (chunked inference is exact).
            ``False``: SwiftF0's own graph — the network runs on max(samples // 256, 1) frames and pads
            there (reproduces the ONNX model exactly; output frames beyond them repeat the last one).
        voicing_loss_weight: weight of the voicing BCE against the pitch cross-entropy in ``pitch_loss``.
        correct_cents: the voicing target is "voiced and the decoded pitch within this many cents of
            the label" (SwiftF0's training, 50); ``None``: voiced alone.
    """

    model_type = "swiftf0"

    sampling_rate: int = 16000
    hop_length: int = 320
    native_hop_length: int = 256
    window_lengths: list[int] | tuple[int, ...] = (1024, 2048, 512)
    fmin_hz: float | int = 46.875
    fmax_hz: float | int = 2093.75
    n_bins: int = 95
    channels: int = 12
    blocks: list[list[int]] | tuple[tuple[int, int, int], ...] = SWIFTF0_BLOCKS
    proj_channels: int = 4
    voicing_band_kernel: int = 5
    voicing_channels: int = 16
    log_floor: float = 1e-8
    pad_edges: bool = True
    voicing_loss_weight: float | int = 1.0
    correct_cents: float | int | None = 50.0

    def __post_init__(self, **kwargs):
        self.window_lengths = [int(w) for w in self.window_lengths]
        self.blocks = [[int(v) for v in b] for b in self.blocks]
        check_range("sampling_rate", self.sampling_rate, 1000, 192000)
        check_range("native_hop_length", self.native_hop_length, 1, 65536)
        check_range("hop_length", self.hop_length, 1, 65536)
        check_range("len(window_lengths)", len(self.window_lengths), 1, 8)
        for w in self.window_lengths:
            check_range("window_lengths[i]", w, 16, 65536)
            if w % 2:
                raise ValueError(f"window_lengths must be even (frames are centred), got {w}")
        check_range("n_bins", self.n_bins, 3, 4096)
        check_range("fmin_hz", self.fmin_hz, 0.0, self.sampling_rate / 2, low_open=True)
        check_range("fmax_hz", self.fmax_hz, self.fmin_hz, self.sampling_rate / 2, low_open=True, high_open=True)
        check_range("channels", self.channels, 1, 1024)
        for b in self.blocks:
            if len(b) != 3:
                raise ValueError(f"each of blocks is [band dilation, band kernel, time kernel], got {b}")
            check_range("blocks[i][0] (band dilation)", b[0], 1, 1024)
            for k in b[1:]:
                check_range("blocks[i] kernel", k, 1, 63)
                if k % 2 == 0:
                    raise ValueError(f"block kernels must be odd (same-size convolutions), got {b}")
        check_range("proj_channels", self.proj_channels, 1, 1024)
        check_range("voicing_band_kernel", self.voicing_band_kernel, 1, 63)
        if self.voicing_band_kernel % 2 == 0:
            raise ValueError(f"voicing_band_kernel must be odd, got {self.voicing_band_kernel}")
        check_range("voicing_channels", self.voicing_channels, 1, 1024)
        check_range("log_floor", self.log_floor, 0.0, 1.0, low_open=True)
        check_range("voicing_loss_weight", self.voicing_loss_weight, 0.0, None)
        if self.correct_cents is not None:
            check_range("correct_cents", self.correct_cents, 0.0, 1200.0, low_open=True)
        if self.n_bands <= self.n_bins:
            raise ValueError(f"fmin_hz..Nyquist holds {self.n_bands} bands, fewer than n_bins + 1 = {self.n_bins + 1}")
        super().__post_init__(**kwargs)

    @property
    def bins_per_octave(self) -> float:
        """Bins per octave of the pitch (and band) axis: (n_bins − 1) / log2(fmax / fmin) (17.15)."""
        return (self.n_bins - 1) / math.log2(self.fmax_hz / self.fmin_hz)

    @property
    def n_bands(self) -> int:
        """Log-spaced bands from fmin_hz up to Nyquist (128): the pitch bins and their continuation."""
        return math.ceil(self.bins_per_octave * math.log2(self.sampling_rate / 2 / self.fmin_hz))

    @property
    def pitch_bins(self) -> PitchBins:
        return PitchBins(float(hz_to_cents(float(self.fmin_hz))), 1200.0 / self.bins_per_octave, self.n_bins)

    @property
    def receptive_frames(self) -> int:
        """Native frames each side that an output of the network depends on (7: stem 1, blocks 2 + 2,
        projection 1, voicing Conv1d 1)."""
        return 1 + sum(2 * (b[2] // 2) for b in self.blocks) + 1 + 1

    @property
    def frame_length(self) -> int:
        """Samples analysed around each native frame centre (the longest window)."""
        return max(self.window_lengths)

    @property
    def frame_rate(self) -> float:
        return self.sampling_rate / self.hop_length


__all__ = ["SWIFTF0_BLOCKS", "SwiftF0Config"]
