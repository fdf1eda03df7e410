"""Decoding frame pitch activations (T × n_bins, values in [0, 1]) into f0 in Hz.

Three decoders, all returning cents of the chosen bin neighbourhood:
- ``weighted_average`` (default, CREPE's local average, MAJL_SPEC §1): activation-weighted mean of
  bin cents in a ±``window`` bin window around the argmax.
- ``argmax``: the bare argmax bin.
- ``viterbi``: the most likely bin path under a transition prior that penalises large jumps
  (as CREPE's ``--viterbi``), then the local weighted average around each path bin; the
  pipeline's default (:data:`majl_hf.defaults.DEFAULT_DECODER`). :func:`viterbi_paths` decodes a
  whole matrix, :class:`ViterbiStream` the same path from blocks in bounded memory.
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


class _BandedStep:
    """One banded Viterbi step for ``b`` tracks at once (the arithmetic of :func:`viterbi_paths`).

    ``step(score, emission)`` turns the scores of frame t − 1 into those of frame t in place and
    returns the back-pointer codes of frame t: ``code[i, j]`` in ``0 … width − 1`` means "from bin
    j + code − r", ``far_code`` means "from the previous frame's global argmax" (``top[i]``, also
    returned)."""

    def __init__(self, n: int, b: int, max_jump_bins: int):
        self.n, self.b = n, b
        r = self.r = min(max_jump_bins - 1, n - 1)  # reach: sources j − r … j + r
        width = self.width = 2 * r + 1
        self.far_code = width  # back-pointer code (and candidate row) for "jumped from the previous global argmax"
        self.code_dtype = np.int8 if self.far_code < 127 else np.int16
        log_trans = _log_transitions(n, max_jump_bins)
        # band[w, j] = log_trans[j + w − r, j] (0 outside the layout: those sources sit at −inf)
        src = np.arange(n)[None, :] + np.arange(width)[:, None] - r
        band = np.where((src >= 0) & (src < n), log_trans[src.clip(0, n - 1), np.arange(n)[None, :]], 0.0)
        # a source i can win a destination over the far jump only if score[i] + band_max >= max + LOG_FLOOR
        self.band_max = float(band.max())
        self.band = np.ascontiguousarray(np.broadcast_to(band[:, None, :], (width, b, n)))
        self.padded = np.full((b, n + 2 * r), -np.inf)
        self.view = np.lib.stride_tricks.as_strided(self.padded, (width, b, n), (8, self.padded.strides[0], 8))
        self.cand = np.empty((width + 1, b, n))  # rows 0 … width−1: sources j − r … j + r; row width: far
        self.rows = np.arange(b)

    def step(self, score: np.ndarray, emission: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Advance ``score`` (b, n) by one frame of log ``emission`` (b, n); the codes go to ``out``
        (b, n); returns ``top`` (b,), the previous frame's argmax per track."""
        if self.b == 1:
            return self._step_one(score[0], emission[0], out[0])
        r, width, far_code, b = self.r, self.width, self.far_code, self.b
        top = score.argmax(1)
        far = score[self.rows, top] + LOG_FLOOR
        # destinations beyond reach of every live source take the far jump: skip them
        live = score[0] >= far[0] - self.band_max if b == 1 else (score >= (far - self.band_max)[:, None]).any(0)
        lo = max(int(live.argmax()) - r, 0)
        hi = min(self.n - int(live[::-1].argmax()) + r, self.n)
        self.padded[:, r : r + self.n] = score
        cand = self.cand
        np.add(self.view[:, :, lo:hi], self.band[:, :, lo:hi], out=cand[:width, :, lo:hi])
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
        out[:] = far_code
        out[:, lo:hi] = code
        np.add(far[:, None], emission, out=score)
        np.add(values, emission[:, lo:hi], out=score[:, lo:hi])
        return top

    def _step_one(self, score: np.ndarray, emission: np.ndarray, out: np.ndarray) -> np.ndarray:
        """:meth:`step` for one track (the same arithmetic in fewer numpy calls)."""
        r, width, n = self.r, self.width, self.n
        top = int(score.argmax())
        far = score[top] + LOG_FLOOR
        floor = far - self.band_max
        if score.min() >= floor:
            lo, hi = 0, n
        else:
            live = np.flatnonzero(score >= floor)
            lo, hi = max(int(live[0]) - r, 0), min(int(live[-1]) + 1 + r, n)
        self.padded[0, r : r + n] = score
        cand = self.cand[:, 0, lo:hi]
        np.add(self.view[:, 0, lo:hi], self.band[:, 0, lo:hi], out=cand[:width])
        cand[width] = far
        values = cand.max(0)
        code = (cand == values).argmax(0)  # first (lowest) source reaching the max; far only if above
        if values.min() <= far:
            tie = (values == far) & (code < self.far_code)
            if tie.any():  # a band source ties the far jump: the lower source bin wins, as a dense torch.max picks
                ji = np.flatnonzero(tie)
                code[ji[top < ji + lo - r]] = self.far_code
        if hi - lo == n:
            out[:] = code
            np.add(values, emission, out=score)
        else:
            out[:] = self.far_code
            out[lo:hi] = code
            np.add(far, emission, out=score)
            np.add(values, emission[lo:hi], out=score[lo:hi])
        return np.array([top])

    def previous(self, states: np.ndarray, code: np.ndarray, top: int) -> np.ndarray:
        """Bins at frame t − 1 of the survivors ending in ``states`` at frame t (codes of one track)."""
        c = code[states].astype(np.int64)
        return np.where(c == self.far_code, top, states + c - self.r)


def _backtrace(codes: np.ndarray, tops: np.ndarray, state: int, far_code: int, r: int) -> np.ndarray:
    """The ``len(codes) + 1`` bins of the survivor that ends in ``state``: ``codes[i]`` / ``tops[i]``
    are the back-pointers and previous argmax leading from frame i + 1 to frame i (see :class:`_BandedStep`)."""
    out = np.empty(len(codes) + 1, dtype=np.int64)
    p = out[-1] = state
    for i in range(len(codes) - 1, -1, -1):
        o = int(codes[i, p])
        p = int(tops[i]) if o == far_code else p + o - r
        out[i] = p
    return out


def _check_viterbi_args(max_jump_bins, eps) -> None:
    if isinstance(max_jump_bins, bool) or not isinstance(max_jump_bins, int) or max_jump_bins < 1:
        raise ValueError(f"max_jump_bins must be a positive integer, got {max_jump_bins!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")


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
    step per frame for all tracks at once; memory: 1 byte per frame and bin for the back-pointers
    (:class:`ViterbiStream` decodes the same path in memory bounded by the paths' merge lag).
    """
    if activations.ndim not in (2, 3):
        raise ValueError(
            f"viterbi_paths expects (T, n_bins) or (B, T, n_bins) activations, got {tuple(activations.shape)}"
        )
    _check_viterbi_args(max_jump_bins, eps)
    single = activations.ndim == 2
    act = activations[None] if single else activations
    b, T, n = act.shape
    if T == 0:
        out = torch.zeros((b, 0), dtype=torch.long)
        return out[0] if single else out
    stepper = _BandedStep(n, b, max_jump_bins)
    back = np.empty((T, b, n), dtype=stepper.code_dtype)
    far_src = np.empty((T, b), dtype=np.int64)
    score = None
    for t0 in range(0, T, _BLOCK_FRAMES):
        emission = _log_emissions(act[:, t0 : t0 + _BLOCK_FRAMES], eps)  # (b, block, n)
        start = 0
        if score is None:
            score = emission[:, 0].copy()
            start = 1
        for k in range(start, emission.shape[1]):
            far_src[t0 + k] = stepper.step(score, emission[:, k], back[t0 + k])
    ends = score.argmax(1)
    path = np.stack([_backtrace(back[1:, i], far_src[1:, i], int(ends[i]), stepper.far_code, stepper.r)
                     for i in range(b)])
    result = torch.from_numpy(path)
    return result[0] if single else result


class ViterbiStream:
    """:func:`viterbi_path` on activations that arrive in blocks, in memory bounded by how far back
    the survivor paths merge, not by the length.

    ``push(activations)`` takes the next (k, n_bins) frames and returns the path bins that are
    final (possibly none, as a (m,) int64 array, for the frames after those returned before);
    ``finish()`` returns the rest. After each push the survivors of all ``n_bins`` end states are
    traced back until they meet: every path through the frames still to come extends one of them,
    so the bins before the meeting point belong to the optimal path whatever follows, and the
    result equals :func:`viterbi_path` on the whole matrix bit for bit. Held meanwhile: the
    back-pointers of the unsettled frames (1 byte per bin) and whatever the caller keeps for them.

    Survivors meet within a few frames where there is a clear pitch, and over a long stretch of
    near-uniform evidence (silence whose frames were all gated) they may not meet for a long time.
    ``max_lag`` (frames, ``None`` = unbounded) caps what is held: once more frames than that are
    unsettled, the oldest half of them is settled on the best path so far (standard fixed-lag
    decoding, which may then differ from the whole-matrix path); ``forced`` counts such frames.
    """

    def __init__(self, n_bins: int, max_jump_bins: int = 12, eps: float = 1e-8, max_lag: int | None = 6000):
        _check_viterbi_args(max_jump_bins, eps)
        if max_lag is not None and (isinstance(max_lag, bool) or not isinstance(max_lag, int) or max_lag < 2):
            raise ValueError(f"max_lag must be an integer >= 2 frames or None, got {max_lag!r}")
        self.n, self.eps, self.max_lag = int(n_bins), eps, max_lag
        self.stepper = _BandedStep(self.n, 1, max_jump_bins)
        self.all_states = np.arange(self.n)
        self.score = None
        # back-pointers of the unsettled frames: row c0 + i leads from frame settled + i + 1 to settled + i
        self._codes = np.empty((256, self.n), dtype=self.stepper.code_dtype)
        self._tops = np.empty(256, dtype=np.int64)
        self._c0 = self._cn = 0
        self.anc = self.all_states  # bin at frame ``settled`` of the survivor ending in each bin now
        self.settled = 0  # frames whose bins were returned
        self.frames = 0  # frames pushed
        self.forced = 0  # frames settled by the max_lag cap
        self.max_pending = 0

    @property
    def pending(self) -> int:
        """Frames pushed whose bins are not final yet."""
        return self.frames - self.settled

    def push(self, activations: torch.Tensor) -> np.ndarray:
        if activations.ndim != 2 or activations.shape[-1] != self.n:
            raise ValueError(f"ViterbiStream expects (k, {self.n}) activations, got {tuple(activations.shape)}")
        k = activations.shape[0]
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        emission = _log_emissions(activations[None], self.eps)[0]
        start = 0
        if self.score is None:
            self.score = emission[None, 0].copy()
            start = 1
        self._reserve(k)
        for i in range(start, k):
            row = self._c0 + self._cn
            code = self._codes[row : row + 1]
            top = self._tops[row] = int(self.stepper.step(self.score, emission[None, i], code)[0])
            self._cn += 1
            self.anc = self.anc[self.stepper.previous(self.all_states, code[0], top)]
        self.frames += k
        self.max_pending = max(self.max_pending, self.pending)
        return self._settle()

    def _reserve(self, k: int) -> None:
        """Room for ``k`` more back-pointer rows (moved to the front, or a buffer twice the size)."""
        if self._c0 + self._cn + k <= len(self._codes):
            return
        cap = len(self._codes)
        while self._cn + k > cap // 2:
            cap *= 2
        codes = np.empty((cap, self.n), dtype=self._codes.dtype) if cap != len(self._codes) else self._codes
        tops = np.empty(cap, dtype=np.int64) if cap != len(self._tops) else self._tops
        codes[: self._cn] = self._codes[self._c0 : self._c0 + self._cn]
        tops[: self._cn] = self._tops[self._c0 : self._c0 + self._cn]
        self._codes, self._tops, self._c0 = codes, tops, 0

    @property
    def codes(self) -> np.ndarray:
        return self._codes[self._c0 : self._c0 + self._cn]

    @property
    def tops(self) -> np.ndarray:
        return self._tops[self._c0 : self._c0 + self._cn]

    def _trace(self, state: int, frames: int) -> np.ndarray:
        """Bins of frames settled … settled + frames − 1 on the survivor in ``state`` at the last of them."""
        return _backtrace(self.codes[: frames - 1], self.tops[: frames - 1], state, self.stepper.far_code,
                          self.stepper.r)

    def _drop(self, frames: int, anc: np.ndarray) -> None:
        self.settled += frames
        frames = min(frames, self._cn)  # the last frame has no row (finish)
        self._c0 += frames
        self._cn -= frames
        self.anc = anc

    def _settle(self) -> np.ndarray:
        out = []
        if self.pending > 1 and (self.anc == self.anc[0]).all():
            # the survivors meet: find the last frame where they all sit in one bin
            states, codes, tops = self.all_states, self.codes, self.tops
            for i in range(self.pending - 1, 0, -1):  # frame settled + i → settled + i − 1
                before = states
                states = self.stepper.previous(states, codes[i - 1], tops[i - 1])
                if (states == states[0]).all():
                    out.append(self._trace(int(states[0]), i))
                    self._drop(i, before)
                    break
        if self.max_lag is not None and self.pending > self.max_lag:
            n_forced = self.pending // 2
            best = self._trace(int(self.score[0].argmax()), self.pending)
            out.append(best[:n_forced])
            self.forced += n_forced
            states, codes, tops = self.all_states, self.codes, self.tops  # survivors at the new first frame
            for i in range(self.pending - 1, n_forced, -1):
                states = self.stepper.previous(states, codes[i - 1], tops[i - 1])
            self._drop(n_forced, states)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def finish(self) -> np.ndarray:
        """The bins of the frames not returned yet (on the best path ending in the last frame)."""
        if self.pending == 0:
            return np.zeros(0, dtype=np.int64)
        bins = self._trace(int(self.score[0].argmax()), self.pending)
        self._drop(self.pending, self.all_states)
        return bins


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
