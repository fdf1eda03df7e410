"""Long-audio inference for the MAJL cascade, kept out of ``forward()``: memory stays flat in song
length except for the audio buffers themselves.

The model is used through the contract declared on the backbone base classes
(:class:`~majl_hf.models.common.SeparatorPreTrainedModel`,
:class:`~majl_hf.models.common.PitchEstimatorPreTrainedModel`), never by guessing attributes:

- **Spectral separators** (``is_spectral``) are streamed on the STFT: frames are taken chunk by chunk
  in :func:`~majl_hf.models.common.stft`'s framing, each chunk goes through
  ``separate_spectrogram`` (with ``context_frames`` of context each side, none for separators with
  ``independent_frames`` patches, whose chunks are patch-aligned), and the kept frames are inverted
  and overlap-added into the output with the synthesis window. Patch-aligned chunks equal the
  unchunked ``forward`` up to float rounding.
- **Any other separator** is a black box (demucs-style): overlapping waveform segments through
  ``forward``, ``context_frames`` hops of context each side, linear cross-fades over the middle
  half of each overlap (weights summing to one), so a separator whose receptive field fits in half
  the context gives the unchunked result.
- **Pitch** is frame-exact on the estimator's output grid: the vocals are downmixed and resampled to
  its rate in blocks with FIR margins (julius, the resampler inside ``MajlModel``); frame-local
  estimators compute only the frames asked for (``logits_from_frames``; silent frames are skipped),
  others run segments with ``context_frames`` of margin.
- **Level**: by default the mixture is scaled to a reference level before the separator and the
  outputs are scaled back (:func:`level_gain`), so that the same song at another level gives the
  same vocals (scaled) and the same f0.

Streaming: :func:`apply_majl_stream` (:mod:`majl_hf.inference.stream`) runs the same computation on a
mixture that arrives in blocks and hands the outputs over in blocks — :func:`separate_long` is its
separation collected into two buffers — so that a song of any length runs in flat memory (the
command line processes files this way).

Progress: ``progress(stage, done, total)`` is called as work is done, ``stage`` in
``("separation", "pitch")``, in frames of that stage.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable

import julius
import numpy as np
import torch

from ..models.common import frame_signal, num_stft_frames

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
SILENCE_DB = -120.0  # dBFS: a pitch frame quieter than this holds no signal; it is unvoiced and skipped

#: The level the separator sees (gated RMS, dBFS, see :func:`gated_level_db`): that of typical
#: mastered music (pop/rock masters sit around −16…−10 dBFS RMS; MUSDB18's mixtures, on which
#: Spleeter-like separators are trained, around −18…−12), so normalising moves a quiet or a hot
#: recording into the range the separator knows and leaves normal masters almost untouched.
REFERENCE_LEVEL_DB = -16.0
#: The gain is bounded: a recording that is almost silent is not amplified into its noise floor.
MAX_GAIN_DB = 60.0
#: Block length (s) and gates of :func:`gated_level_db` (ITU-R BS.1770's 400 ms blocks, −70 dBFS
#: absolute gate and −10 dB relative gate, without the K-weighting filter).
LEVEL_BLOCK_S = 0.4
ABSOLUTE_GATE_DB = -70.0
RELATIVE_GATE_DB = -10.0

Progress = Callable[[str, int, int], None]


def tune_malloc() -> None:
    """Opt-in (the CLI and the benchmark call it; a library must not change its host's allocator):
    on glibc, serve allocations of 1 MiB and more with mmap, so that the chunk-sized buffers freed
    between chunks go back to the OS instead of staying in the heap (without this, glibc's adaptive
    threshold keeps them and RSS drifts ~300 MB above the live memory on long songs)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): nothing to do
        return


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, int(done), int(total))


# ----------------------------------------------------------------------------- level
@torch.no_grad()
def gated_level_db(x: torch.Tensor, sampling_rate: int) -> float:
    """Gated RMS level (dBFS) of a (channels, samples) signal: mean power over 400 ms blocks above
    −70 dBFS and within 10 dB of the mean of those (BS.1770's gating, no K-weighting). Silence and
    quiet passages do not pull the level down, so the measure follows what the listener hears as the
    song's level; one pass over the signal in blocks, no copy of it."""
    block = max(1, int(LEVEL_BLOCK_S * sampling_rate))
    powers = []
    for s in range(0, x.shape[-1], block):
        seg = x[:, s : s + block].double()
        powers.append(seg.pow(2).mean())
    return _gate_powers(torch.stack(powers))


def _gate_powers(power: torch.Tensor) -> float:
    """The gated level (dBFS) from the 400 ms block powers (float64) of :func:`gated_level_db`."""
    db = 10 * torch.log10(power.clamp_min(1e-30))
    kept = power[db > ABSOLUTE_GATE_DB]
    if kept.numel() == 0:
        return float(db.max())
    rel = 10 * math.log10(float(kept.mean())) + RELATIVE_GATE_DB
    kept = power[db > max(rel, ABSOLUTE_GATE_DB)]
    return float(10 * torch.log10(kept.mean()))


def level_gain(x: torch.Tensor, sampling_rate: int, reference_db: float = REFERENCE_LEVEL_DB) -> float:
    """The linear gain that brings ``x``'s gated level to ``reference_db``, at most +``MAX_GAIN_DB``.
    Digital silence (no block above −120 dBFS) gets gain 1."""
    level = gated_level_db(x, sampling_rate)
    if level < SILENCE_DB:
        return 1.0
    return float(10 ** (min(reference_db - level, MAX_GAIN_DB) / 20))


# ----------------------------------------------------------------------------- separation
def _window(n_fft, device, dtype):
    return torch.hann_window(n_fft, periodic=True, device=device, dtype=dtype)


def _separation_plan(separator, mixture_samples: int, chunk_s: float | None, overlap_s: float | None):
    """(chunk, context) in the separator's units: STFT frames for spectral separators, samples else."""
    sr = separator.config.sampling_rate
    if separator.is_spectral:
        hop = separator.config.hop_length
        total = num_stft_frames(mixture_samples, separator.config.n_fft, hop)
        chunk = total if not chunk_s else max(1, int(round(chunk_s * sr / hop)))
        ctx = None if overlap_s is None else int(round(overlap_s * sr / hop))
        return chunk, ctx
    chunk = mixture_samples if not chunk_s else max(1, int(round(chunk_s * sr)))
    ctx = None if overlap_s is None else int(round(overlap_s * sr))
    return chunk, ctx


def _blocks_of(x: torch.Tensor, block: int = 1 << 18):
    """Views of (channels, samples) ``x`` in consecutive blocks (a stream over a tensor in memory)."""
    for s in range(0, x.shape[-1], block):
        yield x[:, s : s + block]


@torch.no_grad()
def separate_long(separator, mixture: torch.Tensor, chunk_frames: int = 512, context_frames: int | None = None,
                  progress: Progress | None = None):
    """Separate a (channels, samples) mixture at the separator's rate, chunk by chunk.

    Spectral separators: ``chunk_frames`` STFT frames per chunk (rounded up to the separator's
    ``independent_frames`` patches), ``context_frames`` of context each side (default: the
    separator's own; none for patch-independent ones). Other separators: see
    :func:`separate_waveform_long` (``chunk_frames``/``context_frames`` are then samples).
    Returns: (vocals, accompaniment), each a contiguous (channels, samples) float32 tensor on the
    mixture's device; besides these two buffers only one chunk's worth of memory is used.
    The work is :func:`~majl_hf.inference.stream.iter_separate` (the streamed separation) collected.
    """
    if not separator.is_spectral:
        return separate_waveform_long(separator, mixture, chunk_frames, context_frames, progress)
    return _collect(separator, mixture, chunk_frames, context_frames, progress)


def _collect(separator, mixture, chunk, context, progress, waveform=False):
    from .stream import _iter_separate_waveform, iter_separate

    c, n = mixture.shape
    vocals = torch.empty(c, n, device=mixture.device, dtype=torch.float32)
    accomp = torch.empty(c, n, device=mixture.device, dtype=torch.float32)
    stream = _iter_separate_waveform if waveform else iter_separate
    for start, v, a, _ in stream(separator, _blocks_of(mixture), n, chunk, context, progress):
        vocals[:, start : start + v.shape[-1]] = v
        accomp[:, start : start + a.shape[-1]] = a
    return vocals, accomp


@torch.no_grad()
def separate_waveform_long(separator, mixture: torch.Tensor, chunk_samples: int, context_samples: int | None = None,
                           progress: Progress | None = None):
    """Any separator as a black box: (channels, samples) → (vocals, accompaniment), chunk by chunk.

    Each chunk [a, b) is separated with ``context_samples`` of audio each side (default: the
    separator's ``context_frames`` × its ``config.hop_length``, or × 1 without one); neighbouring
    chunks are cross-faded linearly over [b − f, b + f) with f = context / 2, weights summing to one.
    Exact when the separator's receptive field is within f samples each side. (The streamed
    separation of :func:`~majl_hf.inference.stream.iter_separate` collected.)
    """
    return _collect(separator, mixture, chunk_samples, context_samples, progress, waveform=True)


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


def _fold_frames(frames: torch.Tensor, hop: int) -> torch.Tensor:
    """(C, n, L) frames → (C, (n − 1)·hop + L) overlap-added signal. When hop divides L (every STFT here:
    Spleeter 4096 / 1024) as L / hop shifted slice additions, in the order ``fold`` (col2im) adds them —
    each output sample sums its frames by increasing offset within the frame — so the values are the same
    bit for bit, ~10× faster than col2im on CPU; ``fold`` otherwise."""
    c, n, length = frames.shape
    if length % hop:
        span = (n - 1) * hop + length
        return torch.nn.functional.fold(
            frames.transpose(1, 2), output_size=(1, span), kernel_size=(1, length), stride=(1, hop)
        ).reshape(c, span)
    r = length // hop
    out = frames.new_zeros(c, n + r - 1, hop)
    for j in range(r):
        out[:, j : j + n] += frames[:, :, j * hop : (j + 1) * hop]
    return out.reshape(c, (n + r - 1) * hop)


def _overlap_add(buffer: torch.Tensor, frames: torch.Tensor, start: int, hop: int) -> None:
    """Add (C, n, L) frames into buffer (C, total) at start, start + hop, … (in place); the parts
    that fall outside the buffer are dropped."""
    span = (frames.shape[1] - 1) * hop + frames.shape[-1]
    folded = _fold_frames(frames, hop)
    lo, hi = max(start, 0), min(start + span, buffer.shape[-1])
    if hi > lo:
        buffer[:, lo:hi] += folded[:, lo - start : hi - start]


def _overlap_add_folded(acc, frames: torch.Tensor, start: int, hop: int, total: int) -> None:
    """Add (C, n, L) frames at start, start + hop, … into an overlap-add accumulator
    (``acc.add(values, at)``) of a signal ``total`` samples long; parts outside it are dropped."""
    span = (frames.shape[1] - 1) * hop + frames.shape[-1]
    folded = _fold_frames(frames, hop)
    lo, hi = max(start, 0), min(start + span, total)
    if hi > lo:
        acc.add(folded[:, lo - start : hi - start], lo)


# ----------------------------------------------------------------------------- pitch
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
               progress: Progress | None = None, return_levels: bool = False, skip=None,
               mixture_db: torch.Tensor | None = None):
    """Pitch activations of (channels, samples) vocals at the separator's rate, on the PE's grid.

    ``skip(vocals_db, mixture_db) -> mask | None`` (:func:`majl_hf.pitch.voicing.level_skip`, with the
    mixture's frame levels ``mixture_db``): frames the voicing rule rules out from the levels alone;
    the pitch estimator does not run on them (their activations are 0, like silent frames').

    Returns (probabilities (T, bins) float32 on CPU, times_s (T,), gated (T,) bool: skipped), plus
    the vocals' frame levels (T,) dBFS when ``return_levels``."""
    pe = model.pitch_estimator
    cfg = pe.config
    y = resample_long(vocals, model.sampling_rate, cfg.sampling_rate, model.config.resampler_zeros,
                      model.config.resampler_rolloff)
    n_frames = pe.num_frames(y.shape[-1])
    hop = cfg.hop_length
    probs = torch.zeros(n_frames, pe.pitch_bins.n_bins, dtype=torch.float32)
    frame_length = pe.frame_length
    # Frames with no signal at all are always skipped (CREPE's per-frame normalisation would turn
    # digital silence into arbitrary activations); ``gate_db`` raises that floor on request.
    floor = SILENCE_DB if gate_db is None else max(gate_db, SILENCE_DB)
    levels = frame_rms_db(y, frame_length, hop, n_frames)
    gated = (levels < floor).numpy()
    if skip is not None:
        ruled_out = skip(levels.numpy(), None if mixture_db is None else mixture_db.numpy())
        if ruled_out is not None:
            gated = gated | ruled_out
    done = 0
    if pe.frame_local:
        keep = np.flatnonzero(~gated)
        done = int(gated.sum())
        padded = torch.nn.functional.pad(y[None], (frame_length // 2, frame_length // 2))[0]
        all_frames = padded.unfold(0, frame_length, hop)  # a view, no copy
        for i in range(0, len(keep), frames_per_batch):
            idx = torch.from_numpy(keep[i : i + frames_per_batch]).to(y.device)
            logits = pe.logits_from_frames(all_frames[idx])
            probs[idx.cpu()] = pe.probabilities_from_logits(logits.float()).cpu()
            done += len(idx)
            _report(progress, "pitch", done, n_frames)
    else:
        # Segments with ``context_frames`` of real signal each side, clipped at the signal's ends
        # (never zero-padded: estimators that normalise over time, such as FCPE's group norm,
        # would see the padding), ``segment_frames`` long.
        ctx = pe.context_frames
        align = max(1, int(pe.segment_alignment))
        step = math.ceil(max(frames_per_batch, pe.segment_frames) / align) * align
        ctx = math.ceil(ctx / align) * align
        for a in range(0, n_frames, step):
            b = min(a + step, n_frames)
            if gated[a:b].all():  # nothing kept in this segment: leave its rows at zero
                _report(progress, "pitch", b, n_frames)
                continue
            f0, f1 = max(a - ctx, 0), min(b + ctx, n_frames)
            seg = y[f0 * hop : (f1 - 1) * hop + 1] if f1 < n_frames else y[f0 * hop :]
            out = pe(seg[None])
            probs[a:b] = out.probabilities[0, a - f0 : b - f0].float().cpu()
            _report(progress, "pitch", b, n_frames)
        probs[torch.from_numpy(gated)] = 0.0
    _report(progress, "pitch", n_frames, n_frames)
    times = pe.frame_times(n_frames).numpy()
    if return_levels:
        return probs, times, gated, levels
    return probs, times, gated


def mixture_levels(model, mixture: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Frame levels (dBFS) of a (channels, samples) mixture at the separator's rate on the pitch
    estimator's output grid (the same frames and analysis length as the vocals' levels)."""
    pe = model.pitch_estimator
    y = resample_long(mixture, model.sampling_rate, pe.config.sampling_rate, model.config.resampler_zeros,
                      model.config.resampler_rolloff)
    return frame_rms_db(y, pe.frame_length, pe.config.hop_length, num_frames)


@torch.no_grad()
def apply_majl(model, mixture, chunk_length_s: float | None = 12.0, overlap_s: float | None = None,
               frames_per_batch: int = 64, gate_db: float | None = None, normalize_level: bool = True,
               progress: Progress | None = None, skip=None):
    """The whole cascade on a (channels, samples) mixture at ``model.sampling_rate``, any length.
    ``mixture`` may also be an object whose ``take()`` returns that tensor (the pipeline passes one
    so that the song's buffer is freed as soon as the vocals are separated).

    Args:
        chunk_length_s: seconds of audio per separator chunk (rounded to whole patches for
            patch-independent separators); ``0``/``None`` processes the song in one chunk.
        overlap_s: seconds of context each side of a chunk (default: the separator's receptive
            field); ignored by patch-independent separators unless given.
        frames_per_batch: pitch frames per pitch-estimator call (memory, not results).
        gate_db: skip pitch frames whose vocal RMS is below this level (dBFS); ``None`` disables.
        normalize_level: scale the mixture to ``REFERENCE_LEVEL_DB`` (gated RMS) before the
            separator and the outputs back (see :func:`level_gain`); results then do not depend
            on the recording's level.
        progress: ``progress(stage, done, total)`` callback (see the module doc).
        skip: ``skip(vocals_db, mixture_db) -> mask | None`` — pitch frames not to analyse, from the
            frame levels (:func:`majl_hf.pitch.voicing.level_skip` of the voicing rule: frames it calls
            unvoiced whatever the pitch estimator says); ``None`` analyses every non-silent frame.
    Returns:
        :class:`~majl_hf.modeling_majl.MajlOutput` with ``vocals``/``accompaniment`` (1, channels,
        samples) float32 at the separator's rate, ``pitch_probabilities`` (1, frames, bins) float32 on
        the CPU, ``times_s`` (frames,) float64, ``gated`` (1, frames) bool (skipped as silent) and
        ``level_gain`` (the gain applied before the separator).
    """
    from ..modeling_majl import MajlOutput

    if not isinstance(mixture, torch.Tensor):  # a hand-over holder: this frame then holds the only reference
        mixture = mixture.take()
    sep = model.separator
    gain = level_gain(mixture, sep.config.sampling_rate) if normalize_level else 1.0
    if gain != 1.0:
        mixture = mixture * gain  # a new buffer; the caller's (if any) is left untouched
    chunk, ctx = _separation_plan(sep, mixture.shape[-1], chunk_length_s, overlap_s)
    vocals, accompaniment = separate_long(sep, mixture, chunk, ctx, progress)
    mix_db = mixture_levels(model, mixture, model.num_pitch_frames(mixture.shape[-1]))
    del mixture  # not needed any more: freed here when the caller passed its only reference
    probs, times, gated, voc_db = pitch_long(model, vocals, frames_per_batch, gate_db, progress, return_levels=True,
                                             skip=skip, mixture_db=mix_db)
    if gain != 1.0:
        vocals /= gain
        accompaniment /= gain
    return MajlOutput(
        vocals=vocals[None],
        accompaniment=accompaniment[None],
        pitch_probabilities=probs[None],
        times_s=torch.from_numpy(times),
        gated=torch.from_numpy(gated)[None],
        vocals_db=voc_db[None],
        mixture_db=mix_db[None],
        level_gain=gain,
    )


def apply_majl_stream(model, blocks, num_samples: int | None = None, writers: dict | None = None, **options):
    """The streaming counterpart of :func:`apply_majl`: the mixture arrives in blocks (``blocks()``
    returns a fresh iterator of (channels, k) tensors at ``model.sampling_rate``), vocals and
    accompaniment leave in blocks through ``writers`` and only per-frame pitch values are kept, so
    memory does not grow with the length. The same values as :func:`apply_majl` (bit for bit on CPU).
    See :func:`majl_hf.inference.stream.separate_stream` for the options (those of ``apply_majl`` plus
    ``decoder``); :func:`majl_hf.inference.stream.separate_file` runs the pipeline on a file this way.
    """
    from .stream import separate_stream

    return separate_stream(model, blocks, num_samples, writers, **options)


__all__ = [
    "REFERENCE_LEVEL_DB",
    "apply_majl",
    "apply_majl_stream",
    "frame_rms_db",
    "frame_signal",
    "gated_level_db",
    "level_gain",
    "mixture_levels",
    "pitch_long",
    "resample_long",
    "separate_long",
    "separate_waveform_long",
    "tune_malloc",
]
