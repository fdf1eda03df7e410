"""Streamed inference: a song of any length in memory that does not grow with its length.

The same computation as :func:`~majl_hf.inference.apply.apply_majl` followed by the pipeline's
decoding (:class:`~majl_hf.pipelines.majl_vocal.MajlVocalPipeline`), arranged so that nothing
song-sized is ever held: samples flow from the decoder to the output files in blocks, and only
per-frame pitch evidence (a few floats per 20 ms frame) is kept for the whole song.

Design (each stage is a small object that takes blocks in and gives finished blocks out):

1. **Reading** (:class:`FileMixture`): the file is decoded block by block
   (:class:`majl_hf.audio.AudioBlockReader`, MP3 too), resampled to the model's rate with soxr's
   :class:`soxr.ResampleStream` (its output equals the one-shot :func:`soxr.resample` of the
   pipeline bit for bit) and converted to the model's channels with the one channel rule.
2. **First pass** (:func:`scan`): the level normalisation (:func:`~.apply.level_gain`) needs the
   gated RMS of the whole mixture before separation; a first pass over the file measures it on the
   same 400 ms blocks, and also gives the exact length (an MP3 header's count is an estimate), checks
   the samples (NaN/Inf, far above full scale) and finds a partial file — before anything is written.
3. **Separation** (:func:`iter_separate`): the chunked STFT separation of :func:`~.apply.separate_long`
   as a generator: it pulls mixture samples from the source as the next chunk (with its context)
   needs them, overlap-adds the chunk's frames into a tail buffer and yields every sample no later
   frame can touch, divided by the window envelope. ``separate_long`` is this generator collected,
   so the streamed vocals are the unchunked-buffer ones bit for bit. Black-box separators stream
   the same way (:func:`~.apply.separate_waveform_long`'s cross-fades).
4. **Pitch** (:class:`PitchStream`): vocals and mixture go to the pitch estimator's rate through
   :class:`JuliusStream` (the blocks and FIR margins of :func:`~.apply.resample_long`, same values),
   frame levels are taken in :func:`~.apply.frame_rms_db`'s batches, and the estimator runs on the
   same batches of non-silent frames as :func:`~.apply.pitch_long` (segments with context for
   estimators that are not frame-local). Each batch of activations is decoded at once
   (``weighted_average`` / ``argmax`` look at one frame) and only its cents and peak are kept;
   ``decoder="viterbi"`` goes through :class:`~majl_hf.pitch.decode.ViterbiStream`, which settles
   the path as soon as all survivor paths meet (the whole-matrix path bit for bit), so only the
   unsettled frames are held: their back-pointers and the activations of those not gated (a batch or
   two of frames; across a silence, back-pointers only). At most ``VITERBI_MAX_LAG_S`` of frames
   wait: beyond it the oldest are settled on the best path so far (``StreamedPitch.viterbi_forced``).
5. **Outputs** (:class:`OutputStream`): vocals and accompaniment are scaled back by the level gain,
   resampled to the input's rate with a second :class:`soxr.ResampleStream`, converted to the
   input's channels and cut or padded to the input's length exactly, then handed to a sink: an
   array (:class:`ArraySink`, for the Python API: the returned arrays are the only song-sized
   memory) or :class:`majl_hf.audio.ResultWriter` (the command line: files written in blocks).
6. **Voicing** runs at the end on the per-frame evidence (confidence, vocals and mixture levels).

Memory for any length: one separation chunk (``chunk_length_s``, 12 s → one 1024-frame Spleeter
patch pair) with its STFT, 30 s blocks of the julius resampler, 4096 level frames, one pitch batch,
and ~17 bytes per pitch frame (~3 MB per hour); with Viterbi, the unsettled frames (above).

Progress: ``progress(stage, done, total)`` with stage ``"reading"`` (first pass, input samples),
``"separation"`` (STFT frames of the second pass; pitch runs alongside) and a final ``"pitch"``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import julius
import numpy as np
import torch

from ..defaults import DEFAULT_DECODER
from ..models.common import num_stft_frames
from .apply import (
    LEVEL_BLOCK_S,
    MAX_GAIN_DB,
    REFERENCE_LEVEL_DB,
    SILENCE_DB,
    Progress,
    _gate_powers,
    _overlap_add_folded,
    _report,
    _separation_plan,
    _steady_envelope,
    _window,
)

__all__ = [
    "ArraySink",
    "FileMixture",
    "JuliusStream",
    "OutputStream",
    "PitchStream",
    "StreamedPitch",
    "iter_separate",
    "scan",
    "separate_file",
    "separate_stream",
]

Blocks = Callable[[], Iterator[torch.Tensor]]  # a fresh iterator of (channels, k) blocks per call
# Viterbi in the stream: the most frames left unsettled while the survivor paths have not met.
# Where anyone sings they meet within ~1 s; across silence (gated frames: all-zero activations,
# uniform evidence) they wait for the next sound, holding 1 byte per bin and frame (360 B for CREPE:
# 10 min ≈ 11 MB) but no activations. Beyond it (a hidden track after 10 min of silence) the oldest
# half is settled on the best path so far, and separate_file says so.
VITERBI_MAX_LAG_S = 600.0


# ----------------------------------------------------------------------------- buffers
class _Buffer:
    """Samples [start, start + len) of a (channels, samples) signal pulled block by block from an
    iterator; ``ensure(end)`` pulls until ``end`` is buffered (or the source is exhausted)."""

    def __init__(self, blocks: Iterable[torch.Tensor] | None, channels: int | None, device=None,
                 dtype=torch.float32):
        self.it = iter(blocks) if blocks is not None else None
        self.parts: list[torch.Tensor] = []
        shape = (0,) if channels is None else (channels, 0)  # None: a 1-D signal
        self.data = torch.zeros(shape, device=device, dtype=dtype)
        self.start = 0
        self.exhausted = blocks is None

    @property
    def end(self) -> int:
        return self.start + self.data.shape[-1] + sum(p.shape[-1] for p in self.parts)

    def push(self, block: torch.Tensor) -> None:
        if block.shape[-1]:
            self.parts.append(block)

    def ensure(self, end: int) -> None:
        while self.end < end and not self.exhausted:
            try:
                self.push(next(self.it))
            except StopIteration:
                self.exhausted = True

    def _merge(self) -> None:
        if self.parts:
            self.data = torch.cat([self.data, *[p.to(self.data) for p in self.parts]], dim=-1)
            self.parts = []

    def view(self, lo: int, hi: int) -> torch.Tensor:
        self._merge()
        if lo < self.start:
            raise RuntimeError(f"samples from {lo} were dropped (buffer starts at {self.start})")
        return self.data[..., lo - self.start : hi - self.start]

    def drop_before(self, pos: int) -> None:
        self._merge()
        cut = min(max(pos - self.start, 0), self.data.shape[-1])
        if cut:
            self.data = self.data[..., cut:].clone()
            self.start += cut


class _Accumulator:
    """Overlap-add tail: sums for samples [start, start + len), zeros where nothing was added yet."""

    def __init__(self, channels: int, device, dtype=torch.float32):
        self.data = torch.zeros(channels, 0, device=device, dtype=dtype)
        self.start = 0

    def add(self, values: torch.Tensor, at: int) -> None:
        """``self[at : at + k] += values`` (never before ``start``: those samples were emitted)."""
        if at < self.start:
            raise RuntimeError(f"overlap-add at {at}, before the emitted samples ({self.start})")
        end = at + values.shape[-1]
        have = self.start + self.data.shape[-1]
        if end > have:
            pad = torch.zeros(self.data.shape[0], end - have, device=self.data.device, dtype=self.data.dtype)
            self.data = torch.cat([self.data, pad], dim=-1)
        self.data[:, at - self.start : end - self.start] += values

    def take(self, lo: int, hi: int) -> torch.Tensor:
        """Samples [lo, hi) (lo == start) as a new tensor; they are dropped from the tail."""
        have = self.start + self.data.shape[-1]
        if hi > have:  # samples no frame reached yet: zeros
            self.data = torch.cat([self.data, torch.zeros(self.data.shape[0], hi - have, device=self.data.device,
                                                          dtype=self.data.dtype)], dim=-1)
        out = self.data[:, lo - self.start : hi - self.start].clone()
        self.data = self.data[:, hi - self.start :].clone()
        self.start = hi
        return out


# ----------------------------------------------------------------------------- separation
@torch.no_grad()
def iter_separate(separator, blocks: Iterable[torch.Tensor], num_samples: int, chunk_frames: int = 512,
                  context_frames: int | None = None, progress: Progress | None = None):
    """Separate a mixture that arrives in blocks; yields ``(start, vocals, accompaniment, mixture)``
    for consecutive sample ranges covering ``[0, num_samples)``, each a (channels, k) float32 tensor
    (``mixture`` is the input over the same range).

    ``blocks``: (channels, k) blocks of the mixture at the separator's rate, ``num_samples`` in all.
    ``chunk_frames`` / ``context_frames``: as :func:`~.apply.separate_long` (samples for black-box
    separators). The mixture is pulled only as far as the next chunk and its context need, and an
    output sample is yielded as soon as the last frame that covers it has been overlap-added, so
    memory is one chunk with its context whatever ``num_samples`` is.
    """
    if not separator.is_spectral:
        yield from _iter_separate_waveform(separator, blocks, num_samples, chunk_frames, context_frames, progress)
        return
    cfg = separator.config
    n_fft, hop = cfg.n_fft, cfg.hop_length
    n = int(num_samples)
    src = None
    n_frames = num_stft_frames(n, n_fft, hop)
    patch = separator.independent_frames
    ctx = separator.context_frames if context_frames is None else int(context_frames)
    if patch:
        chunk_frames = max(patch, math.ceil(chunk_frames / patch) * patch)
        ctx = 0 if context_frames is None else ctx
    align = max(1, int(separator.frame_alignment))
    chunk_frames = max(align, math.ceil(chunk_frames / align) * align)
    ctx = math.ceil(ctx / align) * align
    dtype = torch.float32
    window = envelope = None
    acc_v = acc_a = None
    emitted = 0
    offset = n_fft % hop
    for a in range(0, n_frames, chunk_frames):
        b = min(a + chunk_frames, n_frames)
        a0, b0 = max(a - ctx, 0), min(b + ctx, n_frames)
        # padded coordinates: the signal starts at n_fft (models.common.stft's framing)
        s0, s1 = a0 * hop, (b0 - 1) * hop + n_fft
        lo, hi = max(s0 - n_fft, 0), min(s1 - n_fft, n)
        if src is None:
            src = _first_buffer(blocks, hi)
            c, device = src.data.shape[0], src.data.device
            window = _window(n_fft, device, dtype)
            envelope = _steady_envelope(window, hop)
            acc_v = _Accumulator(c, device)
        src.ensure(hi)
        seg = torch.zeros(c, s1 - s0, device=device, dtype=dtype)
        if hi > lo:
            got = src.view(lo, hi)
            seg[:, lo + n_fft - s0 : lo + n_fft - s0 + got.shape[-1]] = got
        frames = seg.unfold(-1, n_fft, hop)  # (C, b0 - a0, n_fft)
        spec = torch.fft.rfft(frames * window, dim=-1)[None]
        del seg, frames
        voc_spec, acc_spec = separator.separate_spectrogram(spec)
        del spec
        keep = slice(a - a0, b - a0)
        if acc_spec is not None and acc_a is None:
            acc_a = _Accumulator(c, device)
        for acc, sp in ((acc_v, voc_spec), (acc_a, acc_spec)):
            if sp is not None:
                wav = torch.fft.irfft(sp[0, :, keep].to(torch.complex64), n=n_fft, dim=-1) * window
                _overlap_add_folded(acc, wav, a * hop - n_fft, hop, n)
        del voc_spec, acc_spec
        # frames >= b start at b·hop − n_fft: every sample before that is complete
        finished = n if b == n_frames else min(max(b * hop - n_fft, emitted), n)
        if finished > emitted:
            env = envelope[(torch.arange(emitted, finished, device=device) + offset) % hop]
            vocals = acc_v.take(emitted, finished)
            vocals /= env
            src.ensure(finished)
            mix = src.view(emitted, finished).to(dtype)
            if acc_a is not None:
                accomp = acc_a.take(emitted, finished)
                accomp /= env
            else:
                accomp = mix - vocals
            yield emitted, vocals, accomp, mix
            emitted = finished
        next_lo = max(max(b - ctx, 0) * hop - n_fft, 0)
        src.drop_before(min(next_lo, emitted))
        _report(progress, "separation", b, n_frames)


def _first_buffer(blocks, want: int) -> _Buffer:
    """A :class:`_Buffer` on ``blocks`` whose channels, device and dtype are those of the first block."""
    it = iter(blocks)
    first = next(it)
    buf = _Buffer((blk.to(torch.float32) for blk in it), first.shape[0], first.device, torch.float32)
    buf.push(first.to(torch.float32))
    buf.ensure(want)
    return buf


@torch.no_grad()
def _iter_separate_waveform(separator, blocks, num_samples: int, chunk_samples: int, context_samples: int | None,
                            progress: Progress | None):
    """:func:`~.apply.separate_waveform_long` on a stream (same chunks, cross-fades and sums)."""
    n = int(num_samples)
    if context_samples is None:
        context_samples = separator.context_frames * int(getattr(separator.config, "hop_length", 1) or 1)
    ctx = int(context_samples)
    fade = ctx // 2
    chunk = max(int(chunk_samples), 2 * fade, 1)
    dtype = torch.float32
    src = acc_v = acc_a = None
    emitted = 0
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        s0, s1 = max(a - ctx, 0), min(b + ctx, n)
        if src is None:
            src = _first_buffer(blocks, s1)
            c, device = src.data.shape[0], src.data.device
            acc_v, acc_a = _Accumulator(c, device), _Accumulator(c, device)
        src.ensure(s1)
        out = separator(src.view(s0, s1)[None].to(dtype))
        lo, hi = max(a - fade, 0), min(b + fade, n)
        t = torch.arange(lo, hi, device=device, dtype=torch.float64) + 0.5
        w = torch.ones_like(t)
        if a > 0 and fade:
            w = torch.minimum(w, (t - (a - fade)) / (2 * fade))
        if b < n and fade:
            w = torch.minimum(w, ((b + fade) - t) / (2 * fade))
        w = w.to(dtype)
        acc_v.add(w * out.vocals[0, :, lo - s0 : hi - s0].float(), lo)
        acc_a.add(w * out.accompaniment[0, :, lo - s0 : hi - s0].float(), lo)
        del out
        finished = n if b == n else max(b - fade, emitted)
        if finished > emitted:
            yield (emitted, acc_v.take(emitted, finished), acc_a.take(emitted, finished),
                   src.view(emitted, finished).to(dtype))
            emitted = finished
        src.drop_before(min(max(b - ctx, 0), emitted))
        _report(progress, "separation", b, n)


# ----------------------------------------------------------------------------- resampling to the PE's rate
class JuliusStream:
    """:func:`~.apply.resample_long` on a stream: the channel mean of (channels, k) blocks (or mono
    (k,) blocks) resampled with julius in the same 30 s blocks with the same FIR margins, so the
    output equals ``resample_long`` on the whole signal. ``push`` returns the output samples that are
    final (possibly none), ``finish`` the rest; ``num_samples`` (the input length) must be known."""

    def __init__(self, old_sr: int, new_sr: int, num_samples: int, zeros: int = 24, rolloff: float = 0.945,
                 block_s: float = 30.0):
        self.old_sr, self.new_sr, self.n = int(old_sr), int(new_sr), int(num_samples)
        self.same = self.old_sr == self.new_sr
        g = math.gcd(self.old_sr, self.new_sr)
        self.old_r, self.new_r = self.old_sr // g, self.new_sr // g
        self.out_len = self.n if self.same else self.n * self.new_sr // self.old_sr
        self.zeros, self.rolloff = zeros, rolloff
        self.resampler = None
        if not self.same:
            self.resampler = julius.ResampleFrac(self.old_sr, self.new_sr, zeros=zeros, rolloff=rolloff)
            self.margin = math.ceil((self.resampler._width + 2 * self.old_r) / self.old_r) * self.old_r
            self.block = max(1, int(block_s * self.old_sr) // self.old_r) * self.old_r
            self.single = self.n <= self.block + 2 * self.margin
        self.buf = None
        self.s = 0  # start of the next output block (input samples)
        self.pushed = 0

    def push(self, x: torch.Tensor) -> torch.Tensor:
        mono = x.mean(0) if x.ndim == 2 else x
        self.pushed += mono.shape[-1]
        if self.same:
            return mono
        if self.buf is None:
            self.buf = _Buffer(None, None, mono.device, mono.dtype)
            self.resampler = self.resampler.to(mono)
        self.buf.push(mono)
        return self._blocks(final=False)

    def _blocks(self, final: bool) -> torch.Tensor:
        outs = []
        n = self.n
        if self.single:
            if final:
                outs.append(self.resampler(self.buf.view(0, n), output_length=self.out_len))
                self.s = n
        else:
            while self.s < n:
                s, e = self.s, min(self.s + self.block, n)
                a, b = max(s - self.margin, 0), min(e + self.margin, n)
                if self.buf.end < b and not final:
                    break
                y = self.resampler(self.buf.view(a, b), output_length=(b - a) * self.new_r // self.old_r)
                o0 = (s - a) * self.new_r // self.old_r
                o_start = s * self.new_r // self.old_r
                o_end = min(e * self.new_r // self.old_r, self.out_len) if e < n else self.out_len
                outs.append(y[o0 : o0 + (o_end - o_start)])
                self.s = e
                self.buf.drop_before(max(self.s - self.margin, 0))
        if not outs:
            return torch.zeros(0, dtype=self.buf.data.dtype, device=self.buf.data.device)
        return torch.cat(outs) if len(outs) > 1 else outs[0]

    def finish(self) -> torch.Tensor:
        if self.pushed != self.n:
            raise RuntimeError(f"the stream had {self.pushed} samples, {self.n} were announced")
        if self.same or self.buf is None:
            return torch.zeros(0)
        return self._blocks(final=True)


# ----------------------------------------------------------------------------- pitch
class _FrameLevels:
    """:func:`~.apply.frame_rms_db` on a stream: centred frames of the padded (zeros each side)
    signal, computed in the same batches of 4096 frames as soon as their samples are there."""

    STEP = 4096

    def __init__(self, frame_length: int, hop: int, num_frames: int, out: torch.Tensor):
        self.L, self.hop, self.T = frame_length, hop, num_frames
        self.half = frame_length // 2
        self.out = out
        self.done = 0  # frames computed

    def update(self, padded: _Buffer, final: bool) -> None:
        while self.done < self.T:
            a = self.done
            b = min(a + self.STEP, self.T)
            need = (b - 1) * self.hop + self.L
            if padded.end < need and not final:
                return
            seg = padded.view(a * self.hop, need)
            frames = seg.unfold(0, self.L, self.hop)[: b - a]
            self.out[a:b] = 10 * torch.log10(frames.double().pow(2).mean(-1).clamp_min(1e-20)).float().cpu()
            self.done = b

    @property
    def needed_from(self) -> int:
        return self.done * self.hop


@dataclass
class StreamedPitch:
    """What the streamed pitch stage keeps per frame (T = frames on the estimator's grid):
    ``cents`` (decoded, float32), ``confidence`` (peak activation), ``vocals_db`` / ``mixture_db``
    (frame levels, dBFS), ``gated`` (skipped: silent, or ruled out by ``skip``), ``times_s``,
    ``level_gain``; ``viterbi_forced``: frames whose Viterbi bins were settled by the
    ``VITERBI_MAX_LAG_S`` cap rather than by the survivors meeting (0: the whole-matrix path);
    ``viterbi_max_held``: the most activation rows the Viterbi decoding held at once (gated frames'
    zero rows are not held: only their 1-byte-per-bin back-pointers, while the survivors have not met)."""

    cents: torch.Tensor
    confidence: torch.Tensor
    vocals_db: torch.Tensor
    mixture_db: torch.Tensor
    gated: np.ndarray
    times_s: np.ndarray
    level_gain: float = 1.0
    probabilities: torch.Tensor | None = None  # (T, bins), kept only on request (keep_probabilities)
    viterbi_forced: int = 0
    viterbi_max_held: int = 0


class PitchStream:
    """:func:`~.apply.pitch_long` and :func:`~.apply.mixture_levels` on streams of separated vocals
    and mixture at the separator's rate (``push(vocals, mixture)`` blocks, then ``finish()`` →
    :class:`StreamedPitch`). Same frames, same batches of non-silent frames for frame-local
    estimators, same segments with context for the others; each batch is decoded right away
    (``decoder``) and only per-frame values are kept."""

    def __init__(self, model, num_samples: int, frames_per_batch: int = 64, gate_db: float | None = None,
                 decoder: str = "weighted_average", keep_probabilities: bool = False, skip=None):
        from ..pitch.decode import DECODERS

        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        pe = model.pitch_estimator
        self.model, self.pe, self.cfg = model, pe, pe.config
        self.decoder = decoder
        self.bins = pe.pitch_bins
        zeros, rolloff = model.config.resampler_zeros, model.config.resampler_rolloff
        self.res_v = JuliusStream(model.sampling_rate, self.cfg.sampling_rate, num_samples, zeros, rolloff)
        self.res_m = JuliusStream(model.sampling_rate, self.cfg.sampling_rate, num_samples, zeros, rolloff)
        self.T = pe.num_frames(self.res_v.out_len)
        if self.T != model.num_pitch_frames(num_samples):
            raise RuntimeError("the pitch estimator's frame count disagrees with the cascade's")
        self.hop, self.L = self.cfg.hop_length, pe.frame_length
        self.half = self.L // 2
        self.fpb = int(frames_per_batch)
        self.floor = SILENCE_DB if gate_db is None else max(gate_db, SILENCE_DB)
        self.skip = skip  # skip(vocals_db, mixture_db) -> mask | None, frame-wise (see apply.pitch_long)
        T = self.T
        self.vocals_db = torch.empty(T, dtype=torch.float32)
        self.mixture_db = torch.empty(T, dtype=torch.float32)
        self.cents = torch.empty(T, dtype=torch.float32)
        self.confidence = torch.empty(T, dtype=torch.float32)
        self.probs = torch.zeros(T, self.bins.n_bins, dtype=torch.float32) if keep_probabilities else None
        self.vit = None
        if decoder == "viterbi":
            from ..pitch.decode import ViterbiStream

            period = self.hop / self.cfg.sampling_rate
            self.vit = ViterbiStream(self.bins.n_bins, max_lag=max(2, round(VITERBI_MAX_LAG_S / period)))
            self.vit_queue: list[tuple[np.ndarray, torch.Tensor]] = []  # stored rows not fed yet, in frame order
            self.vit_qpos = 0  # rows of vit_queue[0] already fed
            self.vit_held = torch.zeros(0, self.bins.n_bins)  # non-gated rows fed, bins not settled (in order)
            self.vit_max_held = 0
        self.gated = np.zeros(T, dtype=bool)
        self.lv = _FrameLevels(self.L, self.hop, T, self.vocals_db)
        self.lm = _FrameLevels(self.L, self.hop, T, self.mixture_db)
        self.pv = self.pm = None  # padded PE-rate vocals / mixture (created on the first block)
        self.levels_seen = 0  # vocals level frames whose gating was handled
        self.pending: list[int] = []  # frame-local: non-silent frames waiting for a full batch
        self.seg_next = 0  # other estimators: first frame of the next segment
        self.seg_pending: list[tuple[int, int, torch.Tensor]] = []  # segments waiting for their levels
        self.ctx = pe.context_frames
        align = max(1, int(pe.segment_alignment))
        self.step = math.ceil(max(self.fpb, pe.segment_frames) / align) * align
        self.ctx = math.ceil(self.ctx / align) * align
        self._zero = None

    # buffers in padded coordinates: PE-rate sample i sits at i + half
    def _padded(self, like: torch.Tensor) -> _Buffer:
        buf = _Buffer(None, None, like.device, like.dtype)
        buf.data = torch.zeros(self.half, device=like.device, dtype=like.dtype)
        return buf

    @torch.no_grad()
    def push(self, vocals: torch.Tensor, mixture: torch.Tensor) -> None:
        yv, ym = self.res_v.push(vocals), self.res_m.push(mixture)
        self._feed(yv, ym, final=False)

    @torch.no_grad()
    def finish(self, level_gain: float = 1.0) -> StreamedPitch:
        yv, ym = self.res_v.finish(), self.res_m.finish()
        self._feed(yv, ym, final=True)
        if self.vit is not None:
            if self.vit.frames != self.T:
                raise RuntimeError(f"Viterbi saw {self.vit.frames} of {self.T} frames")
            self._settle_viterbi(self.vit.finish())
        return StreamedPitch(cents=self.cents, confidence=self.confidence, vocals_db=self.vocals_db,
                             mixture_db=self.mixture_db, gated=self.gated,
                             times_s=self.pe.frame_times(self.T).numpy(), level_gain=level_gain,
                             probabilities=self.probs, viterbi_forced=self.vit.forced if self.vit else 0,
                             viterbi_max_held=self.vit_max_held if self.vit else 0)

    def _feed(self, yv: torch.Tensor, ym: torch.Tensor, final: bool) -> None:
        if self.pv is None:
            if yv.numel() == 0 and not final:
                return
            self.pv, self.pm = self._padded(yv), self._padded(ym)
        self.pv.push(yv)
        self.pm.push(ym)
        if final:
            for buf in (self.pv, self.pm):
                buf.push(torch.zeros(self.half, device=buf.data.device, dtype=buf.data.dtype))
        self.lm.update(self.pm, final)
        self.pm.drop_before(self.lm.needed_from)
        self.lv.update(self.pv, final)
        self._gate_new_levels()
        if self.pe.frame_local:
            self._run_frame_batches(final)
            keep_from = min(self.lv.needed_from, self.pending[0] * self.hop) if self.pending else self.lv.needed_from
        else:
            self._run_segments(final)
            keep_from = min(self.lv.needed_from, self.seg_next_start + self.half)
        self.pv.drop_before(keep_from)
        if self.vit is not None:
            self._feed_viterbi()

    def _feed_viterbi(self) -> None:
        """Push to the Viterbi stream every frame whose activations are now known, in order: rows
        stored by the estimator (``vit_queue``) and, for frame-local estimators, the gated frames'
        zero rows (never stored); then write the cents of the frames it settles."""
        t, parts = self.vit.frames, []
        while t < self.T:
            if self.vit_queue and int(self.vit_queue[0][0][self.vit_qpos]) == t:
                idx, probs = self.vit_queue[0]
                rest = idx[self.vit_qpos :] - (t + np.arange(len(idx) - self.vit_qpos))
                k = int(np.argmax(rest != 0)) if (rest != 0).any() else len(rest)
                parts.append(probs[self.vit_qpos : self.vit_qpos + k])
                self.vit_qpos += k
                if self.vit_qpos == len(idx):
                    self.vit_queue.pop(0)
                    self.vit_qpos = 0
            elif self.pe.frame_local and t < self.levels_seen and self.gated[t]:
                run = ~self.gated[t : self.levels_seen]
                k = int(np.argmax(run)) if run.any() else len(run)
                parts.append(torch.zeros(k, self.bins.n_bins))
            else:
                break
            t += parts[-1].shape[0]
        if parts:
            start = self.vit.frames
            rows = torch.cat(parts) if len(parts) > 1 else parts[0]
            keep = torch.from_numpy(~self.gated[start : start + len(rows)])  # gated rows are zeros: not held
            self.vit_held = torch.cat([self.vit_held, rows[keep]])
            self.vit_max_held = max(self.vit_max_held, len(self.vit_held))
            self._settle_viterbi(self.vit.push(rows))

    def _settle_viterbi(self, bins: np.ndarray) -> None:
        from ..pitch.decode import _local_average_cents

        m = len(bins)
        if m:
            start = self.vit.settled - m
            centre = torch.from_numpy(bins)
            # a zero row's local average is its fallback, the centre bin's cents (as _local_average_cents)
            cents = self.bins.cents_offset + self.bins.cents_per_bin * centre.to(torch.float32)
            live = np.flatnonzero(~self.gated[start : start + m])
            k = len(live)
            if k:
                rows = torch.from_numpy(live)
                cents[rows] = _local_average_cents(self.vit_held[:k], centre[rows], self.bins, self.pe.decode_window)
                self.vit_held = self.vit_held[k:]
            self.cents[start : start + m] = cents

    def _gate_new_levels(self) -> None:
        a, b = self.levels_seen, min(self.lv.done, self.lm.done)
        if b <= a:
            return
        gated = (self.vocals_db[a:b] < self.floor).numpy()
        if self.skip is not None:
            ruled_out = self.skip(self.vocals_db[a:b].numpy(), self.mixture_db[a:b].numpy())
            if ruled_out is not None:
                gated = gated | ruled_out
        self.gated[a:b] = gated
        if self.pe.frame_local:
            self._store_zero_rows(a + np.flatnonzero(gated))
            self.pending.extend((a + np.flatnonzero(~gated)).tolist())
        self.levels_seen = b
        self._settle_segments()

    def _store(self, idx: torch.Tensor, probs: torch.Tensor, queue: bool = True) -> None:
        """Decode a batch of activations (rows ``idx``, increasing) and keep the per-frame values
        (``queue=False``: gated zero rows, which the Viterbi feed makes itself)."""
        from ..pitch.decode import decode_cents

        if self.probs is not None:
            self.probs[idx] = probs
        if self.vit is None:
            self.cents[idx] = decode_cents(probs, self.bins, self.decoder, window=self.pe.decode_window)
        elif queue:  # decoded in frame order by _feed_viterbi
            self.vit_queue.append((idx.numpy(), probs))
        self.confidence[idx] = probs.amax(-1)

    def _store_zero_rows(self, idx: np.ndarray) -> None:
        if len(idx) == 0:
            return
        if self._zero is None:
            self._zero = torch.zeros(1, self.bins.n_bins, dtype=torch.float32)
        rows = torch.from_numpy(np.asarray(idx, dtype=np.int64))
        self._store(rows, self._zero.expand(len(rows), -1), queue=False)

    def _run_frame_batches(self, final: bool) -> None:
        while len(self.pending) >= self.fpb or (final and self.pending):
            take, self.pending = self.pending[: self.fpb], self.pending[self.fpb :]
            first = take[0]
            seg = self.pv.view(first * self.hop, take[-1] * self.hop + self.L)
            frames = seg.unfold(0, self.L, self.hop)
            local = torch.tensor([t - first for t in take], device=seg.device)
            logits = self.pe.logits_from_frames(frames[local])
            probs = self.pe.probabilities_from_logits(logits.float()).cpu()
            self._store(torch.tensor(take), probs)

    @property
    def seg_next_start(self) -> int:
        """First PE-rate sample (unpadded) the next segment reads."""
        return max(self.seg_next - self.ctx, 0) * self.hop

    def _run_segments(self, final: bool) -> None:
        n_frames = self.T
        n_raw = self.res_v.out_len
        while self.seg_next < n_frames:
            a = self.seg_next
            b = min(a + self.step, n_frames)
            f0, f1 = max(a - self.ctx, 0), min(b + self.ctx, n_frames)
            lo = f0 * self.hop
            hi = (f1 - 1) * self.hop + 1 if f1 < n_frames else n_raw
            if self.pv.end < hi + self.half and not final:
                return
            if self.levels_seen >= b and self.gated[a:b].all():  # nothing kept: no network call
                probs = torch.zeros(b - a, self.bins.n_bins, dtype=torch.float32)
            else:
                seg = self.pv.view(lo + self.half, hi + self.half)
                probs = self.pe(seg[None]).probabilities[0, a - f0 : b - f0].float().cpu()
            self.seg_pending.append((a, b, probs))
            self.seg_next = b
            self._settle_segments()

    def _settle_segments(self) -> None:
        while self.seg_pending and self.seg_pending[0][1] <= self.levels_seen:
            a, b, probs = self.seg_pending.pop(0)
            probs[torch.from_numpy(self.gated[a:b])] = 0.0
            self._store(torch.arange(a, b), probs)


# ----------------------------------------------------------------------------- level (first pass)
class _LevelMeter:
    """:func:`~.apply.gated_level_db` on a stream: the same 400 ms block powers, then the same gates."""

    def __init__(self, sampling_rate: int):
        self.block = max(1, int(LEVEL_BLOCK_S * sampling_rate))
        # Python floats (exact copies of the float64 powers), not 0-d tensors: thousands of small
        # tensors allocated between the blocks' large temporaries would pin the heap (RSS grew ~100 KB
        # per block on a 60-minute song)
        self.powers: list[float] = []
        self.tail = None

    def push(self, x: torch.Tensor) -> None:
        x = x if self.tail is None else torch.cat([self.tail, x], dim=-1)
        full = x.shape[-1] // self.block * self.block
        for s in range(0, full, self.block):
            self.powers.append(float(x[:, s : s + self.block].double().pow(2).mean()))
        self.tail = x[:, full:].clone()

    def level_db(self) -> float:
        if self.tail is not None and self.tail.shape[-1]:
            self.powers.append(float(self.tail.double().pow(2).mean()))
            self.tail = None
        return _gate_powers(torch.tensor(self.powers, dtype=torch.float64))

    def gain(self, reference_db: float = REFERENCE_LEVEL_DB) -> float:
        level = self.level_db()
        if level < SILENCE_DB:
            return 1.0
        return float(10 ** (min(reference_db - level, MAX_GAIN_DB) / 20))


@dataclass
class Scan:
    """What the first pass found: samples at the model's rate, the level gain to apply."""

    num_samples: int
    level_gain: float


def scan(blocks: Blocks, sampling_rate: int, normalize_level: bool = True, progress: Progress | None = None,
         expected: int = 0) -> Scan:
    """First pass over a stream at the model's rate: its length and (``normalize_level``) the gain
    of :func:`~.apply.level_gain`, in memory of one block. ``progress("reading", samples, expected)``."""
    meter = _LevelMeter(sampling_rate) if normalize_level else None
    n = 0
    for blk in blocks():
        n += blk.shape[-1]
        if meter is not None:
            meter.push(blk)
        _report(progress, "reading", n, max(expected, n))
    if n == 0:
        raise ValueError("the stream holds no samples")
    return Scan(n, meter.gain() if meter is not None else 1.0)


# ----------------------------------------------------------------------------- outputs
class ArraySink:
    """Collects (channels, k) blocks into one preallocated float32 (channels, frames) array."""

    def __init__(self, channels: int, frames: int):
        self.array = np.empty((channels, frames), dtype=np.float32)
        self.pos = 0

    def __call__(self, block: np.ndarray) -> None:
        self.array[:, self.pos : self.pos + block.shape[-1]] = block
        self.pos += block.shape[-1]


class OutputStream:
    """Model-rate output blocks → the input's rate, channel count and exact length, in blocks
    (:func:`~majl_hf.feature_extraction_majl.from_model_output` on a stream: soxr's
    :class:`~soxr.ResampleStream` at the same quality equals its one-shot resampling); ``sink`` gets
    float32 numpy (channels, k) blocks."""

    def __init__(self, model_sr: int, model_channels: int, out_sr: int, out_channels: int, out_frames: int,
                 sink: Callable[[np.ndarray], None], quality: str = "HQ"):
        import soxr

        self.rs = None if model_sr == out_sr else soxr.ResampleStream(model_sr, out_sr, model_channels,
                                                                        dtype="float32", quality=quality)
        self.channels, self.frames, self.sink = out_channels, int(out_frames), sink
        self.model_channels = model_channels
        self.written = 0

    def _emit(self, y: np.ndarray) -> None:
        from ..audio import convert_channels

        y = convert_channels(y, self.channels)
        room = self.frames - self.written
        if y.shape[-1] > room:
            y = y[:, :room]
        if y.shape[-1]:
            self.sink(np.ascontiguousarray(y, dtype=np.float32))
            self.written += y.shape[-1]

    def write(self, block: torch.Tensor) -> None:
        x = block.detach().float().cpu().numpy()
        if self.rs is not None:
            x = self.rs.resample_chunk(np.ascontiguousarray(x.T), last=False).T
        self._emit(x)

    def close(self) -> None:
        if self.rs is not None:
            self._emit(self.rs.resample_chunk(np.zeros((0, self.model_channels), np.float32), last=True).T)
        if self.written < self.frames:
            self._emit(np.zeros((self.channels, self.frames - self.written), np.float32))


# ----------------------------------------------------------------------------- the cascade on a stream
@torch.no_grad()
def separate_stream(model, blocks: Blocks, num_samples: int | None = None, writers: dict | None = None, *,
                    level_gain: float | None = None, chunk_length_s: float | None = 12.0,
                    overlap_s: float | None = None, frames_per_batch: int = 64, gate_db: float | None = None,
                    normalize_level: bool = True, decoder: str = DEFAULT_DECODER,
                    keep_probabilities: bool = False, progress: Progress | None = None,
                    skip=None) -> StreamedPitch:
    """The whole cascade on a mixture that arrives in blocks at ``model.sampling_rate``.

    Args:
        blocks: a callable returning a fresh iterator of (channels, k) float32 tensors (the model's
            channel count, on the model's device); called once, or twice when the length or the level
            gain must first be measured (``num_samples`` / ``level_gain`` not given).
        writers: ``{"vocals": f, "accompaniment": f}`` (either optional): each ``f`` is called with
            consecutive (channels, k) float32 tensors at the model's rate, at the mixture's level
            (the level gain undone), ``num_samples`` in all — e.g. :meth:`OutputStream.write`.
        level_gain: the gain to apply before the separator (default: :func:`~.apply.level_gain`'s,
            measured by a first pass when ``normalize_level``).
        the others: as :func:`~.apply.apply_majl`; ``decoder`` as the pipeline's.
    Returns:
        :class:`StreamedPitch`: the per-frame pitch values; the audio went to ``writers``.
    """
    sep = model.separator
    if num_samples is None or (normalize_level and level_gain is None):
        found = scan(blocks, sep.config.sampling_rate, normalize_level and level_gain is None)
        num_samples = found.num_samples
        if level_gain is None:
            level_gain = found.level_gain
    gain = 1.0 if level_gain is None else float(level_gain)
    writers = writers or {}
    chunk, ctx = _separation_plan(sep, num_samples, chunk_length_s, overlap_s)
    pitch = PitchStream(model, num_samples, frames_per_batch, gate_db, decoder, keep_probabilities, skip)
    source = blocks() if gain == 1.0 else (blk * gain for blk in blocks())
    total = 0
    for _, vocals, accomp, mix in iter_separate(sep, source, num_samples, chunk, ctx, progress):
        total += vocals.shape[-1]
        pitch.push(vocals, mix)
        del mix
        for key, part in (("vocals", vocals), ("accompaniment", accomp)):
            if key in writers:
                if gain != 1.0:
                    part /= gain
                writers[key](part)
    if total != num_samples:
        raise RuntimeError(f"separation gave {total} samples for {num_samples}")
    out = pitch.finish(gain)
    _report(progress, "pitch", pitch.T, pitch.T)
    return out


# ----------------------------------------------------------------------------- files
class FileMixture:
    """An audio file as a stream at a model's rate and channel count (what the pipeline's
    ``load_audio`` + ``to_model_input`` give, block by block).

    ``blocks()`` decodes it from the start each time (a re-iterable source for
    :func:`separate_stream`), as float32 torch (channels, k) blocks on ``device``. The first pass
    checks what ``load_audio`` checks (NaN/Inf samples raise :class:`~majl_hf.audio.AudioInputError`;
    a peak far above full scale, more than two channels (downmixed) and a partial file warn, once)
    and counts the frames: ``info`` (a :class:`~majl_hf.feature_extraction_majl.AudioInfo` with the
    exact length) is complete after it.
    """

    def __init__(self, path, sampling_rate: int, channels: int, device=None, block_frames: int | None = None):
        from ..audio import AudioBlockReader
        from ..feature_extraction_majl import AudioInfo

        self.path = path
        self.reader = AudioBlockReader(path, **({"block_frames": block_frames} if block_frames else {}))
        self.model_sr, self.model_channels, self.device = int(sampling_rate), int(channels), device
        self.origin = str(path)
        src_channels = self.reader.channels
        self.in_channels = 1 if src_channels > 2 else src_channels  # MAX_CHANNELS_KEPT
        self.info = AudioInfo(self.reader.sampling_rate, self.in_channels, src_channels, 0, self.origin)
        self.passes = 0
        self.peak = 0.0
        if not 1000 <= self.reader.sampling_rate <= 768000:
            from ..audio import AudioInputError

            raise AudioInputError(f"sampling_rate {self.reader.sampling_rate} Hz is outside 1000…768000 Hz")

    def _input_blocks(self):
        """(channels, k) float32 numpy blocks at the input's rate, after the >2-channel downmix."""
        from ..audio import AudioInputError
        from ..feature_extraction_majl import FAR_ABOVE_FULL_SCALE

        first = self.passes == 0
        self.passes += 1
        frames = 0
        downmix_said = not first  # the warnings are sent once, by the first pass
        for data in self.reader.blocks(warn=first):
            x = data.T
            if first:
                finite = np.isfinite(x)
                if not finite.all():
                    raise AudioInputError(
                        f"{self.origin}: the audio contains NaN/Inf samples ({int((~finite).sum())} in the block at "
                        f"{frames / self.reader.sampling_rate:.1f} s); clean it first "
                        "(e.g. np.nan_to_num(x, nan=0.0))")
                self.peak = max(self.peak, float(np.abs(x).max()) if x.size else 0.0)
            if x.shape[0] > 2:
                if not downmix_said:
                    warnings.warn(f"{self.origin}: {x.shape[0]} channels downmixed to mono (the outputs are mono)",
                                  stacklevel=2)
                    downmix_said = True
                x = x.mean(0, keepdims=True)
            frames += x.shape[-1]
            yield x
        if first:
            self.info.num_samples = frames
            if self.peak > FAR_ABOVE_FULL_SCALE:
                warnings.warn(
                    f"{self.origin}: the audio peaks at {self.peak:.3g}, {20 * np.log10(self.peak):.0f} dB above full "
                    "scale (±1.0); float audio is expected in [-1, 1] — if this is integer PCM stored as float, "
                    "divide it by 32768", stacklevel=2)
        elif frames != self.info.num_samples:
            raise RuntimeError(f"{self.origin}: decoded {frames} frames, the first pass had {self.info.num_samples}")

    def blocks(self) -> Iterator[torch.Tensor]:
        import soxr

        from ..audio import convert_channels

        in_sr = self.reader.sampling_rate
        rs = None if in_sr == self.model_sr else soxr.ResampleStream(in_sr, self.model_sr, self.in_channels,
                                                                       dtype="float32", quality="HQ")
        for x in self._input_blocks():
            y = x if rs is None else rs.resample_chunk(np.ascontiguousarray(x.T), last=False).T
            if y.shape[-1]:
                yield self._model_block(convert_channels(y, self.model_channels))
        if rs is not None:
            y = rs.resample_chunk(np.zeros((0, self.in_channels), np.float32), last=True).T
            if y.shape[-1]:
                yield self._model_block(convert_channels(y, self.model_channels))

    def _model_block(self, y: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        return t if self.device is None else t.to(self.device)


def separate_file(model, path, sinks: dict | None = None, *, voicing=None, decoder: str = DEFAULT_DECODER,
                  chunk_length_s: float | None = 12.0, overlap_s: float | None = None, frames_per_batch: int = 64,
                  gate_db: float | None = None, normalize_level: bool = True, return_audio: bool = True,
                  return_accompaniment: bool = True, progress: Progress | None = None,
                  on_info: Callable | None = None, skip_unvoiced: bool = True) -> dict:
    """The ``majl-vocal`` pipeline on an audio file, streamed: the same result dict as
    ``pipeline("majl-vocal")(path)`` (within float rounding), in memory that does not grow with the
    song beyond the arrays returned.

    Args:
        model: a :class:`~majl_hf.modeling_majl.MajlModel` (``pipe.model``).
        sinks: ``{"vocals": f, "accompaniment": f}``: callables fed consecutive float32 numpy
            (channels, k) blocks at the input's rate and channel count, exactly the input's length
            in all (e.g. :meth:`majl_hf.audio.ResultWriter.write`); when not given and
            ``return_audio``, the audio is collected into the returned arrays.
        voicing: a rule of :mod:`majl_hf.pitch.voicing` (default
            :data:`~majl_hf.pitch.voicing.DEFAULT_VOICING`; ``pipe.voicing_rule(...)`` gives the
            pipeline's for its options).
        on_info: called with the input's :class:`~majl_hf.feature_extraction_majl.AudioInfo` after
            the first pass, before any output is produced (to open output files of the right shape).
        skip_unvoiced: the pipeline's (skip frames ``voicing`` rules out from the levels alone).
        the others: the pipeline's options.
    Returns:
        ``{"sampling_rate", "f0_hz", "times_s", "confidence", "voiced", "level_gain"}`` plus
        ``"vocals"`` / ``"accompaniment"`` arrays when collected.
    """
    from ..pitch.convert import cents_to_hz
    from ..pitch.voicing import DEFAULT_VOICING, VoicingEvidence, decide_voicing, level_skip

    rule = voicing if voicing is not None else DEFAULT_VOICING
    pe = model.pitch_estimator
    skip = level_skip(rule, pe.config.hop_length / pe.config.sampling_rate) \
        if skip_unvoiced and decoder != "viterbi" else None
    device = next(model.parameters()).device
    mixture = FileMixture(path, model.sampling_rate, model.audio_channels, device=device)
    expected = mixture.reader.info.expected_frames * model.sampling_rate // mixture.reader.sampling_rate
    found = scan(mixture.blocks, model.sampling_rate, normalize_level, progress, expected)
    info = mixture.info
    if on_info is not None:
        on_info(info)
    parts = ["vocals"] + (["accompaniment"] if return_accompaniment else [])
    collected = {}
    if sinks is None:
        sinks = {}
        if return_audio:
            for key in parts:
                collected[key] = ArraySink(info.channels, info.num_samples)
                sinks[key] = collected[key]
    outputs = {key: OutputStream(model.sampling_rate, model.audio_channels, info.sampling_rate, info.channels,
                                 info.num_samples, sink) for key, sink in sinks.items()}
    pitch = separate_stream(model, mixture.blocks, found.num_samples, {k: o.write for k, o in outputs.items()},
                            level_gain=found.level_gain, chunk_length_s=chunk_length_s, overlap_s=overlap_s,
                            frames_per_batch=frames_per_batch, gate_db=gate_db, normalize_level=normalize_level,
                            decoder=decoder, progress=progress, skip=skip)
    for o in outputs.values():
        o.close()
    if pitch.viterbi_forced:
        warnings.warn(f"{mixture.origin}: the Viterbi paths did not meet for {VITERBI_MAX_LAG_S:g} s (long silence or "
                      f"no clear pitch): {pitch.viterbi_forced} frames were settled on the best path so far, which "
                      "can differ from the whole-song path there", stacklevel=2)
    evidence = VoicingEvidence(pitch.confidence.numpy(), pitch.vocals_db.numpy(), pitch.mixture_db.numpy(),
                               pe.config.hop_length / pe.config.sampling_rate)
    voiced = torch.from_numpy(decide_voicing(evidence, rule))
    f0 = cents_to_hz(pitch.cents.double()).float()
    f0 = torch.where(voiced, f0, torch.zeros_like(f0))
    out = {
        "sampling_rate": info.sampling_rate,
        "f0_hz": f0.numpy().astype(np.float32),
        "times_s": pitch.times_s.astype(np.float64),
        "confidence": pitch.confidence.numpy().astype(np.float32),
        "voiced": voiced.numpy(),
        "level_gain": pitch.level_gain,
    }
    for key, sink in collected.items():
        out[key] = sink.array
    return out
