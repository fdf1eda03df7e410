"""Decoding frame pitch activations (T × n_bins, values in [0, 1]) into f0 in Hz.

Three decoders, all returning cents of the chosen bin neighbourhood:
- ``weighted_average`` (default, CREPE's local average, MAJL_SPEC §1): activation-weighted mean of
  bin cents in a ±``window`` bin window around the argmax.
- ``argmax``: the bare argmax bin.
- ``viterbi``: the most likely bin path under a transition prior that penalises large jumps
  (as CREPE's ``--viterbi``), then the local weighted average around each path bin.
"""

from __future__ import annotations

import numpy as np
import torch

from .convert import PitchBins, cents_to_hz

DECODERS = ("weighted_average", "argmax", "viterbi")


def _local_average_cents(activations: torch.Tensor, centre: torch.Tensor, bins: PitchBins, window: int):
    n_bins = activations.shape[-1]
    offsets = torch.arange(-window, window + 1, device=activations.device)
    idx = centre[..., None] + offsets  # (..., T, 2w+1)
    valid = (idx >= 0) & (idx < n_bins)
    idx_c = idx.clamp(0, n_bins - 1)
    weights = torch.gather(activations, -1, idx_c) * valid
    cents = bins.cents_offset + bins.cents_per_bin * idx_c.to(activations.dtype)
    total = weights.sum(-1)
    avg = (weights * cents).sum(-1) / total.clamp_min(1e-12)
    fallback = bins.cents_offset + bins.cents_per_bin * centre.to(activations.dtype)
    return torch.where(total > 0, avg, fallback)


LOG_FLOOR = float(np.log(1e-30))  # log of the clamp applied to zero transition probabilities
_BLOCK_FRAMES = 4096  # frames whose log emissions are computed at once (bounded memory)


def _log_transitions(n: int, max_jump_bins: int) -> np.ndarray:
    """(n, n) float64 log transition matrix, source i → destination j: a triangular prior
    ``max(max_jump_bins − |i − j|, 0)`` normalised over j, zeros clamped to 1e-30 (``LOG_FLOOR``)."""
    d = torch.arange(n)[:, None] - torch.arange(n)[None, :]
    trans = (max_jump_bins - d.abs()).clamp_min(0).double()
    trans = trans / trans.sum(-1, keepdim=True)
    return torch.log(trans.clamp_min(1e-30)).numpy()


def _log_emissions(act: torch.Tensor, eps: float) -> np.ndarray:
    """Log activations normalised per frame (log-softmax of log(clamp(a, eps))), float64 numpy."""
    e = torch.log(act.double().clamp_min(eps))
    return (e - torch.logsumexp(e, dim=-1, keepdim=True)).numpy()


def viterbi_paths(activations: torch.Tensor, max_jump_bins: int = 12, eps: float = 1e-8) -> torch.Tensor:
    """Most likely bin sequence of each track under a triangular transition prior that allows
    jumps of up to ``max_jump_bins − 1`` bins per frame (CREPE's ``--viterbi`` prior).

    ``activations``: (T, n_bins) or (B, T, n_bins), values in [0, 1]. Returns (T,) or (B, T) long.

    Banded and exact: the prior is zero beyond the band, so each step is a max over the
    ``2·max_jump_bins − 1`` sources within reach of each destination; the zero probabilities are
    clamped to 1e-30, so a jump beyond the band is still possible at ``log(1e-30)`` and its best
    source is always the global argmax of the previous scores (any source within the band of that
    argmax beats it by > 60 nats). The path equals a dense (n × n) Viterbi's bit for bit, ties
    going to the lowest source bin as ``torch.max`` does. Cost: O(T · n · band) in one vectorised
    step per frame for all tracks at once; memory: 1 byte per frame and bin for the back-pointers.
    """
    if activations.ndim not in (2, 3):
        raise ValueError(
            f"viterbi_paths expects (T, n_bins) or (B, T, n_bins) activations, got {tuple(activations.shape)}"
        )
    if isinstance(max_jump_bins, bool) or not isinstance(max_jump_bins, int) or max_jump_bins < 1:
        raise ValueError(f"max_jump_bins must be a positive integer, got {max_jump_bins!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    single = activations.ndim == 2
    act = activations[None] if single else activations
    b, T, n = act.shape
    if T == 0:
        out = torch.zeros((b, 0), dtype=torch.long)
        return out[0] if single else out
    r = min(max_jump_bins - 1, n - 1)  # reach: sources j − r … j + r
    width = 2 * r + 1
    far_code = width  # back-pointer code (and candidate row) for "jumped from the previous global argmax"
    log_trans = _log_transitions(n, max_jump_bins)
    # band[w, j] = log_trans[j + w − r, j] (0 outside the layout: those sources sit at −inf)
    src = np.arange(n)[None, :] + np.arange(width)[:, None] - r
    band = np.where((src >= 0) & (src < n), log_trans[src.clip(0, n - 1), np.arange(n)[None, :]], 0.0)
    # a source i can win a destination over the far jump only if score[i] + band_max >= max + LOG_FLOOR
    band_max = float(band.max())
    band = np.ascontiguousarray(np.broadcast_to(band[:, None, :], (width, b, n)))
    padded = np.full((b, n + 2 * r), -np.inf)
    view = np.lib.stride_tricks.as_strided(padded, (width, b, n), (8, padded.strides[0], 8))
    cand = np.empty((width + 1, b, n))  # rows 0 … width−1: sources j − r … j + r; row width: the far jump
    back = np.empty((T, b, n), dtype=np.int8 if far_code < 127 else np.int16)
    far_src = np.empty((T, b), dtype=np.int64)
    rows = np.arange(b)
    score = None
    for t0 in range(0, T, _BLOCK_FRAMES):
        emission = _log_emissions(act[:, t0 : t0 + _BLOCK_FRAMES], eps)  # (b, block, n)
        start = 0
        if score is None:
            score = emission[:, 0].copy()
            start = 1
        for k in range(start, emission.shape[1]):
            t = t0 + k
            top = score.argmax(1)
            far = score[rows, top] + LOG_FLOOR
            # destinations beyond reach of every live source take the far jump: skip them
            live = score[0] >= far[0] - band_max if b == 1 else (score >= (far - band_max)[:, None]).any(0)
            lo = max(int(live.argmax()) - r, 0)
            hi = min(n - int(live[::-1].argmax()) + r, n)
            padded[:, r : r + n] = score
            np.add(view[:, :, lo:hi], band[:, :, lo:hi], out=cand[:width, :, lo:hi])
            cand[width, :, lo:hi] = far[:, None]
            c = cand[:, :, lo:hi]
            values = np.max(c, 0)
            code = np.equal(c, values).argmax(0)  # first (lowest) source reaching the max; far only if above
            n_far = np.count_nonzero(code == far_code)
            if n_far and n_far != np.count_nonzero(values == far[:, None]):
                # a band source ties the far jump: the lower source bin wins, as a dense torch.max picks
                bi, ji = np.nonzero((values == far[:, None]) & (code < far_code))
                lower = top[bi] < ji + lo - r
                code[bi[lower], ji[lower]] = far_code
            out = back[t]
            out[:] = far_code
            out[:, lo:hi] = code
            far_src[t] = top
            np.add(far[:, None], emission[:, k], out=score)
            np.add(values, emission[:, k, lo:hi], out=score[:, lo:hi])
    path = np.empty((b, T), dtype=np.int64)
    path[:, -1] = score.argmax(1)
    for i in range(b):
        p = int(path[i, -1])
        back_i, far_i, out = back[:, i], far_src[:, i], path[i]
        for t in range(T - 1, 0, -1):
            o = int(back_i[t, p])
            p = int(far_i[t]) if o == far_code else p + o - r
            out[t - 1] = p
    result = torch.from_numpy(path)
    return result[0] if single else result


def viterbi_path(activations: torch.Tensor, max_jump_bins: int = 12, eps: float = 1e-8) -> torch.Tensor:
    """Most likely bin sequence for one track (T × n_bins); see :func:`viterbi_paths`. Returns (T,) long."""
    if activations.ndim != 2:
        raise ValueError("viterbi_path expects a (T, n_bins) activation matrix")
    return viterbi_paths(activations, max_jump_bins, eps)


def decode_cents(activations: torch.Tensor, bins: PitchBins, decoder: str = "weighted_average", window: int = 4):
    """Cents above 10 Hz per frame, shape (..., T)."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    if activations.shape[-1] != bins.n_bins:
        raise ValueError(f"activations have {activations.shape[-1]} bins, the layout has {bins.n_bins}")
    act = activations.float()
    if decoder == "argmax":
        return bins.cents_offset + bins.cents_per_bin * act.argmax(-1).to(act.dtype)
    if decoder == "viterbi":
        flat = act.reshape(-1, act.shape[-2], act.shape[-1])
        centre = viterbi_paths(flat).reshape(act.shape[:-1])
    else:
        centre = act.argmax(-1)
    return _local_average_cents(act, centre, bins, window)


def decode_f0(
    activations: torch.Tensor,
    bins: PitchBins,
    threshold: float = 0.5,
    decoder: str = "weighted_average",
    window: int = 4,
):
    """Decode activations into ``(f0_hz, confidence, voiced)``, each (..., T).

    ``confidence`` is the peak activation per frame; a frame is voiced iff it is ``>= threshold``
    (MAJL_SPEC §1). ``f0_hz`` is reported for every frame (use ``voiced`` to mask); it is 0 where
    the frame is unvoiced so that the track can be written and plotted as is.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    cents = decode_cents(activations, bins, decoder, window)
    confidence = activations.float().amax(-1)
    voiced = confidence >= threshold
    f0 = cents_to_hz(cents.double()).float()
    return torch.where(voiced, f0, torch.zeros_like(f0)), confidence, voiced


def frame_confidence(activations: torch.Tensor) -> torch.Tensor:
    """Eq. 4 of the paper: c = max(ŷ) if max(ŷ) >= 0.5 else 1 − max(ŷ), per frame."""
    peak = activations.amax(-1)
    return torch.where(peak >= 0.5, peak, 1.0 - peak)


def as_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
