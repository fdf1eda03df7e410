"""Long-audio inference for the MAJL cascade, kept out of ``forward()``: memory stays flat in song
length except for the audio buffers themselves.

Separation streams the STFT: frames are taken chunk by chunk from the song, each chunk of frames
goes through ``separator.separate_spectrogram`` (with ``context_frames`` of context each side for
separators whose output frames depend on their neighbours, none for patch-independent ones such as
Spleeter's U-Net, whose chunks are aligned on its patches), and the masked frames are inverted and
overlap-added into the output with the synthesis window — a windowed cross-fade between
neighbouring frames and therefore between chunks. With patch-aligned chunks the result equals the
unchunked ``forward`` up to float rounding.

Pitch is frame-exact: the vocals are downmixed and resampled to the pitch estimator's rate in
blocks with FIR margins (julius, the same resampler as inside ``MajlModel``), then pitch frames are
computed in batches on the global frame grid. Frame-local estimators (CREPE) compute only the
frames asked for, so an optional vocal-activity gate skips frames where the separated vocals are
silent; others run on segments with ``context_frames`` of margin.
"""

from __future__ import annotations

import ctypes
import math
import os
from dataclasses import dataclass

import julius
import numpy as np
import torch

from ..models.common import frame_signal

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
_malloc_tuned = False


def _tune_malloc() -> None:
    """Once per process on glibc: serve allocations of 1 MiB and more with mmap, so that the
    chunk-sized buffers freed between chunks go back to the OS instead of staying in the heap
    (without this, glibc's adaptive threshold keeps them and RSS drifts ~300 MB above the live
    memory on long songs). Set MAJL_MALLOC_TUNING=0 to leave the allocator alone."""
    global _malloc_tuned
    if _malloc_tuned or os.environ.get("MAJL_MALLOC_TUNING", "1") == "0":
        return
    _malloc_tuned = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): nothing to do
        pass


SILENCE_DB = -120.0  # dBFS: a pitch frame quieter than this holds no signal; it is unvoiced and skipped


@dataclass
class CascadeResult:
    """Everything at the model's rates. vocals/accompaniment: (channels, samples) float32;
    probabilities: (frames, bins); times_s: (frames,); gated: (frames,) bool (skipped as silent)."""

    vocals: torch.Tensor
    accompaniment: torch.Tensor
    probabilities: torch.Tensor
    times_s: np.ndarray
    gated: np.ndarray


def _window(n_fft, device, dtype):
    return torch.hann_window(n_fft, periodic=True, device=device, dtype=dtype)


@torch.no_grad()
def separate_long(separator, mixture: torch.Tensor, chunk_frames: int = 512, context_frames: int | None = None,
                  progress=None):
    """Separate a (channels, samples) mixture at the separator's rate, chunk by chunk.

    Args:
        chunk_frames: STFT frames per chunk (rounded up to the separator's independent patch size).
        context_frames: frames of context each side; default: the separator's own ``context_frames``.
    Returns: (vocals, accompaniment), each a contiguous (channels, samples) float32 tensor on the
    mixture's device; besides these two buffers only one chunk's worth of memory is used.
    """
    cfg = separator.config
    n_fft, hop = cfg.n_fft, cfg.hop_length
    c, n = mixture.shape
    device, dtype = mixture.device, torch.float32
    n_frames = math.ceil((n + n_fft) / hop)
    patch = getattr(separator, "independent_frames", None)
    ctx = getattr(separator, "context_frames", 0) if context_frames is None else int(context_frames)
    if patch:
        chunk_frames = max(patch, math.ceil(chunk_frames / patch) * patch)
        ctx = 0 if context_frames is None else ctx
    window = _window(n_fft, device, dtype)
    vocals = torch.zeros(c, n, device=device, dtype=dtype)
    accomp = None
    for a in range(0, n_frames, chunk_frames):
        b = min(a + chunk_frames, n_frames)
        a0, b0 = max(a - ctx, 0), min(b + ctx, n_frames)
        # padded coordinates: the signal starts at n_fft (Spleeter's framing, models.common.stft)
        s0, s1 = a0 * hop, (b0 - 1) * hop + n_fft
        seg = torch.zeros(c, s1 - s0, device=device, dtype=dtype)
        lo, hi = max(s0 - n_fft, 0), min(s1 - n_fft, n)
        if hi > lo:
            seg[:, lo + n_fft - s0 : hi + n_fft - s0] = mixture[:, lo:hi]
        frames = seg.unfold(-1, n_fft, hop)  # (C, b0 - a0, n_fft)
        spec = torch.fft.rfft(frames * window, dim=-1)[None]
        voc_spec, acc_spec = separator.separate_spectrogram(spec)
        keep = slice(a - a0, b - a0)
        if acc_spec is not None and accomp is None:
            accomp = torch.zeros(c, n, device=device, dtype=dtype)
        for out, sp in ((vocals, voc_spec), (accomp, acc_spec)):
            if sp is not None:
                wav = torch.fft.irfft(sp[0, :, keep].to(torch.complex64), n=n_fft, dim=-1) * window
                _overlap_add(out, wav, a * hop - n_fft, hop)
        if progress is not None:
            progress.update(b - a)
    envelope = _steady_envelope(window, hop)
    for out in (vocals, accomp):
        if out is not None:
            _divide_periodic(out, envelope, offset=n_fft % hop)
    if accomp is None:
        accomp = mixture.to(dtype) - vocals
    return vocals, accomp


def _steady_envelope(window: torch.Tensor, hop: int) -> torch.Tensor:
    """Σ_k w²[j + k·hop] for j < hop: the overlap-added squared window wherever every frame that
    covers a sample exists — true for every kept sample under this framing (see models.common.stft)."""
    w2 = window**2
    n_fft = w2.shape[0]
    padded = torch.nn.functional.pad(w2, (0, -n_fft % hop))
    return padded.view(-1, hop).sum(0)


def _divide_periodic(buffer: torch.Tensor, envelope: torch.Tensor, offset: int, block: int = 1 << 20) -> None:
    """In place: buffer[:, s] /= envelope[(s + offset) % hop], in blocks (no full-length temporary)."""
    hop = envelope.shape[0]
    n = buffer.shape[-1]
    block = max(hop, block // hop * hop)
    tiled = envelope.roll(-offset).repeat(block // hop)
    for s in range(0, n, block):
        e = min(s + block, n)
        buffer[:, s:e] /= tiled[: e - s]


def _overlap_add(buffer: torch.Tensor, frames: torch.Tensor, start: int, hop: int) -> None:
    """Add (C, n, L) frames into buffer (C, total) at start, start + hop, … (in place); the parts
    that fall outside the buffer are dropped."""
    c, n, length = frames.shape
    span = (n - 1) * hop + length
    folded = torch.nn.functional.fold(
        frames.transpose(1, 2), output_size=(1, span), kernel_size=(1, length), stride=(1, hop)
    ).reshape(c, span)
    lo, hi = max(start, 0), min(start + span, buffer.shape[-1])
    if hi > lo:
        buffer[:, lo:hi] += folded[:, lo - start : hi - start]


@torch.no_grad()
def resample_long(x: torch.Tensor, old_sr: int, new_sr: int, zeros: int = 24, rolloff: float = 0.945,
                  block_s: float = 30.0) -> torch.Tensor:
    """julius' sinc resampling of a (samples,) signal — or of the channel mean of a (channels,
    samples) one, taken block by block — in blocks with FIR margins: the same values as one call on
    the whole signal (within float rounding) in memory bounded by the block size."""
    if x.ndim == 2:
        mono = _ChannelMean(x)
    else:
        mono = x
    if old_sr == new_sr:
        return x.mean(0) if x.ndim == 2 else x
    g = math.gcd(old_sr, new_sr)
    old_r, new_r = old_sr // g, new_sr // g
    resampler = julius.ResampleFrac(old_sr, new_sr, zeros=zeros, rolloff=rolloff).to(x)
    n = x.shape[-1]
    out_len = n * new_sr // old_sr
    margin = math.ceil((resampler._width + 2 * old_r) / old_r) * old_r  # whole periods beyond the FIR width
    block = max(1, int(block_s * old_sr) // old_r) * old_r
    if n <= block + 2 * margin:
        return resampler(mono[0:n], output_length=out_len)
    out = torch.empty(out_len, dtype=x.dtype, device=x.device)
    for s in range(0, n, block):
        e = min(s + block, n)
        a, b = max(s - margin, 0), min(e + margin, n)
        y = resampler(mono[a:b], output_length=(b - a) * new_r // old_r)
        o0 = (s - a) * new_r // old_r
        o_start, o_end = s * new_r // old_r, min(e * new_r // old_r, out_len) if e < n else out_len
        out[o_start:o_end] = y[o0 : o0 + (o_end - o_start)]
    return out


class _ChannelMean:
    """``obj[a:b]`` = the channel mean of ``x[:, a:b]``: a mono view computed on demand."""

    def __init__(self, x: torch.Tensor):
        self.x = x

    def __getitem__(self, sl: slice) -> torch.Tensor:
        return self.x[:, sl].mean(0)


def frame_rms_db(audio: torch.Tensor, frame_length: int, hop: int, num_frames: int) -> torch.Tensor:
    """RMS level (dBFS) of each centred analysis frame of a (samples,) signal, in batches."""
    out = torch.empty(num_frames, dtype=torch.float32)
    step = 4096
    half = frame_length // 2
    padded = torch.nn.functional.pad(audio[None, None], (half, half))[0, 0]
    for a in range(0, num_frames, step):
        b = min(a + step, num_frames)
        seg = padded[a * hop : (b - 1) * hop + frame_length]
        frames = seg.unfold(0, frame_length, hop)[: b - a]
        out[a:b] = 10 * torch.log10(frames.double().pow(2).mean(-1).clamp_min(1e-20)).float().cpu()
    return out


@torch.no_grad()
def pitch_long(model, vocals: torch.Tensor, frames_per_batch: int = 64, gate_db: float | None = None,
               progress=None):
    """Pitch activations of (channels, samples) vocals at the separator's rate, on the PE's grid.

    Returns (probabilities (T, bins) float32 on CPU, times_s (T,), gated (T,) bool)."""
    pe = model.pitch_estimator
    cfg = pe.config
    y = resample_long(vocals, model.sampling_rate, cfg.sampling_rate, model.config.resampler_zeros,
                      model.config.resampler_rolloff)
    n_frames = pe.num_frames(y.shape[-1])
    hop = cfg.hop_length
    probs = torch.zeros(n_frames, pe.pitch_bins.n_bins, dtype=torch.float32)
    gated = np.zeros(n_frames, dtype=bool)
    frame_length = getattr(cfg, "frame_length", None) or cfg.n_fft
    # Frames with no signal at all are always skipped (CREPE's per-frame normalisation would turn
    # digital silence into arbitrary activations); ``gate_db`` raises that floor on request.
    floor = SILENCE_DB if gate_db is None else max(gate_db, SILENCE_DB)
    gated = (frame_rms_db(y, frame_length, hop, n_frames) < floor).numpy()
    if getattr(pe, "frame_local", False):
        keep = np.flatnonzero(~gated)
        padded = torch.nn.functional.pad(y[None], (frame_length // 2, frame_length // 2))[0]
        all_frames = padded.unfold(0, frame_length, hop)  # a view, no copy
        for i in range(0, len(keep), frames_per_batch):
            idx = torch.from_numpy(keep[i : i + frames_per_batch]).to(y.device)
            logits = pe.logits_from_frames(all_frames[idx])
            probs[idx.cpu()] = torch.sigmoid(logits).float().cpu()
            if progress is not None:
                progress.update(len(idx))
        if progress is not None:
            progress.update(int(gated.sum()))
    else:
        ctx = pe.context_frames
        for a in range(0, n_frames, frames_per_batch):
            b = min(a + frames_per_batch, n_frames)
            s0 = (a - ctx) * hop
            length = (b - a + 2 * ctx - 1) * hop + 1
            seg = torch.zeros(length, dtype=y.dtype, device=y.device)
            lo, hi = max(s0, 0), min(s0 + length, y.shape[-1])
            if hi > lo:
                seg[lo - s0 : hi - s0] = y[lo:hi]
            out = pe(seg[None])
            probs[a:b] = out.probabilities[0, ctx : ctx + (b - a)].float().cpu()
            if progress is not None:
                progress.update(b - a)
        probs[torch.from_numpy(gated)] = 0.0
    times = np.arange(n_frames) * hop / cfg.sampling_rate
    return probs, times, gated


@torch.no_grad()
def apply_majl(model, mixture, chunk_s: float = 12.0, overlap_s: float | None = None,
               frames_per_batch: int = 64, gate_db: float | None = None, progress=None) -> CascadeResult:
    """The whole cascade on a (channels, samples) mixture at ``model.sampling_rate``, any length.
    ``mixture`` may also be an object whose ``take()`` returns that tensor (the pipeline passes one
    so that the song's buffer is freed as soon as the vocals are separated).

    Args:
        chunk_s: seconds of audio per separator chunk (rounded to whole patches for patch-independent
            separators); ``0``/``None`` processes the song in one chunk (unchunked).
        overlap_s: seconds of context each side of a chunk for context-dependent separators (default:
            the separator's receptive field); ignored by patch-independent ones unless given.
        frames_per_batch: pitch frames per network call.
        gate_db: skip pitch frames whose vocal RMS is below this level (dBFS); ``None`` disables.
    """
    _tune_malloc()
    if not isinstance(mixture, torch.Tensor):  # a hand-over holder: this frame then holds the only reference
        mixture = mixture.take()
    sep = model.separator
    hop = sep.config.hop_length
    total_frames = math.ceil((mixture.shape[-1] + sep.config.n_fft) / hop)
    chunk_frames = total_frames if not chunk_s else max(1, int(round(chunk_s * sep.config.sampling_rate / hop)))
    ctx = None if overlap_s is None else int(round(overlap_s * sep.config.sampling_rate / hop))
    vocals, accompaniment = separate_long(sep, mixture, chunk_frames, ctx)
    del mixture  # not needed any more: freed here when the caller passed its only reference
    probs, times, gated = pitch_long(model, vocals, frames_per_batch, gate_db)
    return CascadeResult(vocals, accompaniment, probs, times, gated)


__all__ = ["CascadeResult", "apply_majl", "frame_rms_db", "frame_signal", "pitch_long", "resample_long", "separate_long"]
