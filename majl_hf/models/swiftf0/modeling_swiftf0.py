"""SwiftF0 pitch estimator (swift-f0 0.3.0, github.com/lars76/swift-f0, MIT) as a ``PreTrainedModel``:
a torch re-implementation of the signal path inside its ``model.onnx`` (read from the graph; the
weights come from the graph's initializers, :mod:`.convert_swiftf0`). No onnxruntime.

Signal path (:meth:`SwiftF0Model.native_forward`): frames centred at j·256 samples, three periodic-
Hann magnitude spectra (1024 / 2048 / 512 samples), triangular log-frequency filterbanks onto 128
bands, ``log(· + 1e-8)``; a small CNN over (band, time) gives 95 pitch scores and one voicing logit
per 16 ms frame. :meth:`SwiftF0Model.forward` takes the bin probabilities p = softmax(scores) and the
confidence c = sigmoid(voicing) of the two native frames around each output instant (t·hop_length
samples), interpolates them linearly, and forms the activations

    a_k = c · p_k / max_j p_j        (on the native grid: sigmoid(voicing) · exp(score_k − max score)),

so that ``max_k a_k`` is SwiftF0's confidence (voiced iff ≥ 0.5, its documented rule) and the
weighted average of ``decode_f0(..., window=1)`` over the argmax bin and its two neighbours is the
original's decoding (a softmax of the three scores averaging log-frequencies). The logits are
``log a`` (≤ 0); the loss is SwiftF0's own (softmax cross-entropy + voicing BCE), see ``pitch_loss``.

Front-end numerics (what is emulated and why). The graph's features of near-empty bands are float32 DFT
rounding noise, so their logs depend on the exact arithmetic: an exact (float64) FFT is *further* from the
graph (up to 5e-3 in log, 7e-4 on the scores) than a float32 one done the graph's way. onnxruntime 1.32 (CPU)
computes the DFT constants at run time (integer k·n mod M → float32 → × float32(2π/M) → Cos / Sin) with
Eigen's vectorised float32 sin / cos, which differ from torch's / libm's in the last bit for up to a third of
the angles; a constant off by one ulp repeats in every frame, so its leakage is coherent and was the whole of
the old end-to-end error (scores 7.7e-4 on a clip). We compute those constants with Eigen's algorithm step by
step (:func:`_eigen_sincos`) and the square root correctly rounded (:func:`_rounded_sqrt`, as the graph's
Sqrt). The DFT's matrix products are plain float32 ``torch.matmul``: MLAS accumulates each output element
sequentially over k with FMA, which is also what torch's MKL sgemm does on x86-64 (checked with AVX-512) for
these short (K = 16 … 64) products (checked by ``test_dft_matmul_is_sequential_fma``); with it the magnitudes equal the
graph's bit for bit (checked against onnxruntime's own intermediates on the reference clips). Another
summation order (another BLAS, a GPU) moves quiet bands' log-magnitudes by up to ~4e-3 and the scores by up
to ~1e-3. Not emulated, as their effect stays below the network's own ~1e-5 mismatch: the filterbank product
(MLAS blocks K by 256; ≤ 7e-7 relative apart) and the graph's Log (Eigen's ``plog``; 1 ulp apart at times).
The emulation is the only path: the constants are constants, the rounded square root is differentiable, so
the front-end stays differentiable w.r.t. the audio (training in the cascade uses the same code).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from ...pitch.decode import decode_cents
from ..common import PitchEstimatorPreTrainedModel
from .configuration_swiftf0 import SwiftF0Config


@dataclass
class SwiftF0NativeOutput(ModelOutput):
    """The network on its own 16 ms grid (frame j centred at j·native_hop_length).

    Args:
        features: (batch, windows, bands, frames) log filterbank magnitudes (the ONNX tensor ``v352``).
        pitch_scores: (batch, frames, n_bins) per-bin scores (``v429``).
        voicing_logits: (batch, frames) voicing logit before the sigmoid (``v437``).
        pitch_hz: (batch, frames) float64, the graph's decoding: softmax of the scores of the argmax
            bin and its neighbours, averaging ln f (full fmin..fmax band).
        confidence: (batch, frames) sigmoid of the voicing logit (the graph's ``confidence``).
    """

    features: torch.Tensor | None = None
    pitch_scores: torch.Tensor | None = None
    voicing_logits: torch.Tensor | None = None
    pitch_hz: torch.Tensor | None = None
    confidence: torch.Tensor | None = None


def _dft_split(length: int) -> tuple[int, int]:
    """The graph's factorisation L = A·B of a window, B = min(32, L / 32): 1024 = 32·32, 2048 = 64·32,
    512 = 32·16 (a one-stage DFT, A = L, for lengths that are not multiples of 64)."""
    b = min(32, length // 32)
    if length % 64 or length % b:
        return length, 1
    return length // b, b


# Eigen's ``psincos_float`` (Eigen/src/Core/arch/Default/GenericPacketMathFunctions.h) as onnxruntime's CPU
# Cos / Sin kernels run it: the build without EIGEN_HAS_SINGLE_INSTRUCTION_MADD, so every ``pmadd`` is a float32
# product and a float32 sum, each rounded, and the range reduction is the four-term Cody-Waite split below.
_EIGEN_TWO_OVER_PI = 0.636619746685028076171875
_EIGEN_ROUND_MAGIC = 12582912.0  # 1.5 · 2^23: adding it rounds |x| · 2/π to an integer held in the low mantissa bits
_EIGEN_PIO2_SPLIT = (-1.5703125, -0.000483989715576171875, 1.62865035235881805419921875e-07,
                     5.5644315544167710640977020375430583953857421875e-11)
_EIGEN_COS_POLY = (2.4372266125283204019069671630859375e-05, -0.00138865201734006404876708984375,
                   0.041666619479656219482421875, -0.5, 1.0)
_EIGEN_SIN_POLY = (-0.0001959234114083702898469196984621021329076029360294342041015625,
                   0.0083326873655616851693794799871284340042620897293090820312500000,
                   -0.1666666203982298255503735617821803316473960876464843750000000000)
_EIGEN_SINCOS_LIMIT = 18838.0  # past it Eigen switches to another reduction (never reached: angles are < 2π)


def _eigen_sincos(x: np.ndarray, sine: bool) -> np.ndarray:
    """sin (``sine``) or cos of float32 ``x`` as Eigen's vectorised ``psincos_float`` computes them without FMA,
    step by step in numpy float32 (each operation rounded once): y = round(|x|·2/π) by the 1.5·2^23 trick, the
    reduced r = |x| − y·π/2 by four multiply-adds with a four-part π/2, then the cos polynomial
    1 + r²·p(r²) or the sin polynomial r + r·r²·q(r²) by the parity of y, and the sign from bit 1 of y
    (sin: y, xor the sign of x; cos: y + 1). Within 2 ulp of the true values; torch's and libm's float32
    cos / sin (within 1 ulp) differ from it in the last bit for up to a third of the graph's DFT angles."""
    f32, u32 = np.float32, np.uint32
    x = np.asarray(x, dtype=f32)
    r = np.abs(x)
    if r.size and r.max() >= _EIGEN_SINCOS_LIMIT:
        raise ValueError(f"|x| < {_EIGEN_SINCOS_LIMIT} only (Eigen reduces larger arguments differently)")
    y_round = r * f32(_EIGEN_TWO_OVER_PI) + f32(_EIGEN_ROUND_MAGIC)  # two roundings, as Eigen's pmul, padd
    y_int = y_round.view(u32)
    y = y_round - f32(_EIGEN_ROUND_MAGIC)
    for c in _EIGEN_PIO2_SPLIT:
        r = y * f32(c) + r
    r2 = r * r
    p = np.full_like(r, f32(_EIGEN_COS_POLY[0]))
    for c in _EIGEN_COS_POLY[1:]:
        p = p * r2 + f32(c)
    q = np.full_like(r, f32(_EIGEN_SIN_POLY[0]))
    for c in _EIGEN_SIN_POLY[1:]:
        q = q * r2 + f32(c)
    q = (q * r2) * r + r
    even = (y_int & u32(1)) == 0
    if sine:
        out, sign = np.where(even, q, p), x.view(u32) ^ (y_int << u32(30))
    else:
        out, sign = np.where(even, p, q), (y_int + u32(1)) << u32(30)
    return (out.view(u32) ^ (sign & u32(0x80000000))).view(f32)


def _dft_factor(rows: int, cols: int, modulus: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and −sin of float32(r·c mod modulus) · float32(2π / modulus), (rows, cols) float32, bit for bit the
    graph's: its Cast → Mul → Cos / Sin nodes, evaluated by onnxruntime with Eigen's float32 sin / cos
    (:func:`_eigen_sincos`)."""
    rc = (np.arange(rows)[:, None] * np.arange(cols)[None, :]) % modulus
    angle = rc.astype(np.float32) * np.float32(2 * math.pi / modulus)
    return torch.from_numpy(_eigen_sincos(angle, False)), torch.from_numpy(-_eigen_sincos(angle, True))


def _rounded_sqrt(x: torch.Tensor) -> torch.Tensor:
    """The correctly rounded float32 square root (the graph's Sqrt, SSE ``sqrtps``): the float64 root rounded to
    float32, which is exact for float32 inputs. torch's float32 CPU sqrt is off by one ulp for ~15 % of inputs.
    (Plain ``torch.sqrt`` on devices without float64.)"""
    if x.dtype != torch.float32 or x.device.type == "mps":
        return torch.sqrt(x)
    return torch.sqrt(x.double()).float()


class SwiftF0Block(nn.Module):
    """Residual pair: conv, ReLU, conv, + input, ReLU; kernels (band, time), dilated along bands."""

    def __init__(self, channels: int, dilation: int, band_kernel: int, time_kernel: int):
        super().__init__()
        pad = (dilation * (band_kernel // 2), time_kernel // 2)
        shape = dict(kernel_size=(band_kernel, time_kernel), padding=pad, dilation=(dilation, 1))
        self.conv1 = nn.Conv2d(channels, channels, **shape)
        self.conv2 = nn.Conv2d(channels, channels, **shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


class SwiftF0Model(PitchEstimatorPreTrainedModel):
    config_class = SwiftF0Config
    base_model_prefix = "swiftf0"

    #: output frames depend on their neighbours (3-frame kernels along time)
    frame_local = False
    #: bins each side of the argmax in the original's decoding: ``decode_f0(..., window=decode_window)``
    decode_window = 1

    def __init__(self, config: SwiftF0Config):
        super().__init__(config)
        ch, pc = config.channels, config.proj_channels
        self.stem = nn.Conv2d(len(config.window_lengths), ch, 3, padding=1)
        self.blocks = nn.ModuleList(SwiftF0Block(ch, *b) for b in config.blocks)
        self.proj = nn.Conv2d(ch, pc, 3)  # padded by hand: bands (1, 0) of the lowest n_bins + 1, time (1, 1)
        self.pitch_head = nn.Conv2d(pc, 1, 1)
        k = config.voicing_band_kernel
        self.voicing_proj = nn.Conv2d(pc, pc, (k, 1), padding=(k // 2, 0))
        self.voicing_conv = nn.Conv1d(pc + 1, config.voicing_channels, 3, padding=1)
        self.voicing_out = nn.Conv1d(config.voicing_channels, 1, 1)
        self.post_init()

    # ------------------------------------------------------------------------- contract
    @property
    def native_hop_length(self) -> int:
        return self.config.native_hop_length

    @property
    def segment_alignment(self) -> int:
        """Output frames between segment starts that keep the native grid aligned: a segment
        starting at output frame s has the same native frames as the whole signal iff s·hop_length is
        a multiple of native_hop_length, i.e. s a multiple of this (4 at hop 320, 1 at hop 256)."""
        cfg = self.config
        return cfg.native_hop_length // math.gcd(cfg.hop_length, cfg.native_hop_length)

    @property
    def context_frames(self) -> int:
        """Output frames of context each side that make a segment's kept frames equal the whole-signal
        forward: the receptive field in samples — half the longest window plus 7 native frames, plus
        one native frame for the interpolation's upper neighbour off the native grid (2815 samples
        at hop 256, 3071 at hop 320) — rounded up to whole output frames and to a multiple of
        :attr:`segment_alignment` (11 at hop 256, 12 at hop 320). Exact (float rounding) with
        ``pad_edges``; without it the whole signal's two ends differ."""
        cfg = self.config
        nh = cfg.native_hop_length
        interp = 0 if cfg.hop_length % nh == 0 else 1
        margin = nh * (cfg.receptive_frames + interp) + cfg.frame_length // 2 - 1
        ctx = -(-margin // cfg.hop_length)
        p = self.segment_alignment
        return -(-ctx // p) * p

    def probabilities_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits are log-activations (≤ 0): a_k = exp(z_k) = sigmoid(voicing) · exp(score_k − max score)."""
        return torch.exp(logits)

    def pitch_loss(self, logits: torch.Tensor, labels: torch.Tensor, frame_weight=None) -> torch.Tensor:
        """SwiftF0's training loss per sample, (batch,): on voiced frames the softmax cross-entropy of
        the scores against the labels normalised to a distribution, plus ``voicing_loss_weight`` × the
        BCE of the voicing logit against "voiced and right" (the decoded pitch within
        ``correct_cents`` of the labels' own, SwiftF0's target; voiced alone if ``correct_cents`` is
        None), averaged over frames (weighted by ``frame_weight``). A frame is voiced when any label is
        positive (``f0_to_targets`` leaves unvoiced frames all zero).

        Both parts are read back from the log-activations z: max_k z_k = log sigmoid(voicing), and
        z − max z are the scores up to a per-frame constant (which the softmax ignores)."""
        if logits.shape != labels.shape:
            raise ValueError(f"pitch labels {tuple(labels.shape)} do not match the activations {tuple(logits.shape)}")
        z = logits.float()
        labels = labels.to(z)
        log_conf = z.amax(-1)  # log sigmoid(v)
        log_not_conf = torch.log(-torch.expm1(log_conf.clamp_max(-1e-30)))  # log(1 − sigmoid(v))
        mass = labels.sum(-1)
        voiced = mass > 0
        target = labels / mass.clamp_min(1e-12)[..., None]
        ce = -(target * F.log_softmax(z, dim=-1)).sum(-1) * voiced
        y = voiced.to(z)
        if self.config.correct_cents is not None:
            with torch.no_grad():
                bins = self.pitch_bins
                err = (decode_cents(z.detach().exp(), bins, window=1) - decode_cents(labels, bins, window=1)).abs()
                y = y * (err <= self.config.correct_cents).to(z)
        bce = -(y * log_conf + (1 - y) * log_not_conf)
        per_frame = ce + self.config.voicing_loss_weight * bce
        if frame_weight is None:
            return per_frame.mean(-1)
        w = frame_weight.to(z)
        return (per_frame * w).sum(-1) / w.sum(-1).clamp_min(1.0)

    # ------------------------------------------------------------------------- front-end
    def _constants(self, device) -> dict:
        """Per window length: the periodic Hann window, the filterbank and the DFT factors, float32,
        cached per device and never saved.

        Windows and filterbanks are computed in float64 and rounded, as the original
        (``build_logfreq_filters`` of swift-f0-training: triangles between neighbouring band centres,
        each normalised to unit sum; a band narrower than the FFT resolution takes its nearest FFT
        bin) — equal, bit for bit, to the graph's initializers.

        The DFT is the graph's: L = A·B points, n = B·a + b, k = k1 + A·k2; a size-A DFT over a, the
        twiddles exp(−2πi·k1·b / L), a size-B DFT over b, each factor cos / −sin of
        float32(k·n mod M) · float32(2π / M), bit for bit the graph's run-time constants: the angle is
        rounded to float32 as the graph's Cast → Mul, and its cos / sin are Eigen's float32 algorithm as
        onnxruntime's Cos / Sin kernels run it (:func:`_eigen_sincos`), not torch's, which differ in the
        last bit for up to a third of them. (A float64 FFT is more accurate, but the graph's own rounding moves
        quiet bands' log-magnitudes by up to ~5e-3; these factors, with a sequential-FMA matmul, reproduce
        it; see the module doc.)"""
        cache = self.__dict__.setdefault("_constant_cache", {})
        key = str(device)
        if key not in cache:
            cfg = self.config
            centres = cfg.fmin_hz * 2.0 ** (torch.arange(cfg.n_bands, dtype=torch.float64) / cfg.bins_per_octave)
            lo = torch.cat([centres[:1] ** 2 / centres[1:2], centres[:-1]])
            hi = torch.cat([centres[1:], centres[-1:] ** 2 / centres[-2:-1]])
            consts = {}
            for n_fft in cfg.window_lengths:
                lin = torch.linspace(0.0, cfg.sampling_rate / 2, n_fft // 2 + 1, dtype=torch.float64)[:, None]
                rise = (lin - lo) / (centres - lo + 1e-9)
                fall = (hi - lin) / (hi - centres + 1e-9)
                tri = torch.minimum(rise, fall).clamp_min(0.0)
                total = tri.sum(0)
                nearest = torch.zeros_like(tri)
                nearest[(lin - centres).abs().argmin(0), torch.arange(cfg.n_bands)] = 1.0
                fb = torch.where(total < 1e-6, nearest, tri / total.clamp_min(1e-300))
                window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
                a, b = _dft_split(n_fft)
                factors = (_dft_factor(a, a, a), _dft_factor(a, b, n_fft), _dft_factor(b, b, b))
                consts[n_fft] = dict(
                    window=window.float().to(device),
                    filterbank=fb.float().to(device),
                    split=(a, b),
                    factors=[(c.to(device), s.to(device)) for c, s in factors],
                )
            cache[key] = consts
        return cache[key]

    def magnitudes(self, frames: torch.Tensor) -> torch.Tensor:
        """(…, L) windowed frames → (…, L // 2 + 1) DFT magnitudes, float32, by the graph's two-stage DFT."""
        length = frames.shape[-1]
        consts = self._constants(frames.device)[length]
        a, b = consts["split"]
        (c1, s1), (tc, ts), (c2, s2) = consts["factors"]
        y = frames.reshape(*frames.shape[:-1], a, b)  # y[..., a_, b_] = x[b·a_ + b_]
        re, im = torch.matmul(c1, y), torch.matmul(s1, y)  # size-A DFT over a_: (..., k1, b_)
        re, im = re * tc - im * ts, re * ts + im * tc  # twiddles exp(−2πi k1 b_ / L)
        re, im = torch.matmul(re, c2) - torch.matmul(im, s2), torch.matmul(re, s2) + torch.matmul(im, c2)
        power = (re * re + im * im).transpose(-1, -2).reshape(frames.shape)[..., : length // 2 + 1]
        positive = power > 0  # sqrt with a finite gradient at digital silence
        return torch.where(positive, _rounded_sqrt(torch.where(positive, power, torch.ones_like(power))), 0.0)

    def features(self, input_values: torch.Tensor, first_frame: int, num_frames: int) -> torch.Tensor:
        """(batch, samples) → (batch, windows, bands, num_frames) float32 log filterbank magnitudes of
        native frames j = first_frame … first_frame + num_frames − 1, frame j centred at
        j·native_hop_length (zeros beyond the signal)."""
        cfg = self.config
        x = input_values.float()
        n, nh = x.shape[-1], cfg.native_hop_length
        consts = self._constants(x.device)
        maps = []
        for w in cfg.window_lengths:
            start = first_frame * nh - w // 2
            stop = (first_frame + num_frames - 1) * nh + w // 2
            left, right = max(-start, 0), max(stop - n, 0)
            seg = F.pad(x, (left, right))[:, start + left : stop + left]
            mag = self.magnitudes(seg.unfold(-1, w, nh) * consts[w]["window"])
            maps.append(torch.log(torch.matmul(mag, consts[w]["filterbank"]) + cfg.log_floor).transpose(1, 2))
        return torch.stack(maps, dim=1)

    # ------------------------------------------------------------------------- network
    def network(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, windows, bands, T) features → pitch scores (batch, T, n_bins) and voicing logits
        (batch, T), both float32; runs in the model's dtype."""
        x = features.to(self.dtype)
        h = F.relu(self.stem(x))
        for block in self.blocks:
            h = block(h)
        h = F.relu(self.proj(F.pad(h[:, :, : self.config.n_bins + 1], (1, 1, 1, 0))))
        scores = self.pitch_head(h)[:, 0].transpose(1, 2)
        v = torch.cat([self.voicing_proj(h).amax(2), x.mean(dim=(1, 2))[:, None]], dim=1)
        voicing = self.voicing_out(F.relu(self.voicing_conv(v)))[:, 0]
        return scores.float(), voicing.float()

    def _native_range(self, num_samples: int, num_out: int) -> tuple[int, int, int]:
        """(first native frame computed, frames computed, frames kept from index margin)."""
        cfg = self.config
        if not cfg.pad_edges:
            return 0, max(num_samples // cfg.native_hop_length, 1), 0
        kept = -(-(num_out - 1) * cfg.hop_length // cfg.native_hop_length) + 1
        margin = cfg.receptive_frames
        return -margin, kept + 2 * margin, kept

    def native_forward(self, input_values: torch.Tensor) -> SwiftF0NativeOutput:
        """The network on its own grid. With ``pad_edges=False`` this is the ONNX graph: max(samples // 256, 1)
        frames, its features, scores, voicing logits, pitch (Hz) and confidence."""
        x = self._check_input(input_values)
        first, count, kept = self._native_range(x.shape[-1], self.num_frames(x.shape[-1]))
        feats = self.features(x, first, count)
        scores, voicing = self.network(feats)
        if first < 0:
            sl = slice(-first, -first + kept)
            feats, scores, voicing = feats[..., sl], scores[:, sl], voicing[:, sl]
        return SwiftF0NativeOutput(
            features=feats,
            pitch_scores=scores,
            voicing_logits=voicing,
            pitch_hz=self.decode_scores(scores),
            confidence=torch.sigmoid(voicing),
        )

    def decode_scores(self, scores: torch.Tensor) -> torch.Tensor:
        """The graph's pitch decoding (float64 Hz): softmax over the argmax bin and its neighbours
        (missing neighbours weigh 0) of the scores, averaging the bins' log-frequencies."""
        bins = self.pitch_bins
        centre = scores.argmax(-1, keepdim=True)
        idx = centre + torch.arange(-1, 2, device=scores.device)
        valid = (idx >= 0) & (idx < bins.n_bins)
        s = torch.gather(scores, -1, idx.clamp(0, bins.n_bins - 1)).double().masked_fill(~valid, float("-inf"))
        log_f = torch.log(bins.bin_to_hz(idx.clamp(0, bins.n_bins - 1).double()).float().double())
        return torch.exp((torch.softmax(s, -1) * log_f).sum(-1))

    def _log_interpolate(self, log_p: torch.Tensor, num_out: int) -> torch.Tensor:
        """Native log-probabilities (batch, frames, C) → (batch, num_out, C) at t·hop_length samples:
        the log of the linear interpolation of the probabilities between the two native frames
        around each instant, log((1 − w)·p_lo + w·p_hi), computed stably (exact copies where the grids
        coincide, w = 0); instants past the last native frame take it."""
        cfg = self.config
        n_native = log_p.shape[1]
        step = cfg.hop_length / cfg.native_hop_length
        pos = torch.arange(num_out, device=log_p.device, dtype=torch.float64) * step
        lo = pos.floor().long()
        w = torch.where(lo >= n_native - 1, torch.zeros_like(pos), pos - lo).to(log_p.dtype)[None, :, None]
        lo = lo.clamp_max(n_native - 1)
        hi = (lo + 1).clamp_max(n_native - 1)
        return torch.logaddexp(torch.log1p(-w) + log_p[:, lo], torch.log(w) + log_p[:, hi])

    def forward(
        self,
        input_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        target_f0_hz: torch.Tensor | None = None,
        label_sigma_cents: float = 25.0,
        return_dict: bool | None = True,
        **kwargs,
    ):
        """
        Args:
            input_values: (batch, samples) mono audio at ``config.sampling_rate``.
            labels: optional (batch, frames, n_bins) targets in [0, 1].
            target_f0_hz: optional (batch, frames) f0 in Hz (0 = unvoiced), encoded as Gaussian targets.
        Returns:
            ``PitchEstimatorOutput`` with (batch, 1 + samples // hop_length, n_bins) logits = log-activations
            (see the module doc); ``probabilities`` peak at SwiftF0's confidence.
        """
        x = self._check_input(input_values)
        num_out = self.num_frames(x.shape[-1])
        first, count, kept = self._native_range(x.shape[-1], num_out)
        scores, voicing = self.network(self.features(x, first, count))
        if first < 0:
            scores, voicing = scores[:, -first : -first + kept], voicing[:, -first : -first + kept]
        # SwiftF0's two distributions (over bins: the scores' softmax; voiced: the voicing sigmoid)
        # interpolated onto the output grid as probabilities (an arithmetic mixture: the scores of
        # neighbouring frames carry arbitrary offsets and sharpness, their probabilities do not)
        log_p = torch.cat([F.log_softmax(scores, -1), F.logsigmoid(voicing)[..., None]], dim=-1)
        log_p = self._log_interpolate(log_p, num_out)
        log_bins, log_conf = log_p[..., :-1], log_p[..., -1:]
        logits = log_conf + log_bins - log_bins.amax(-1, keepdim=True)
        return self._output(logits, labels, target_f0_hz, label_sigma_cents, return_dict)


__all__ = ["SwiftF0Model", "SwiftF0NativeOutput"]
