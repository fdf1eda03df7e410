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


def viterbi_path(activations: torch.Tensor, max_jump_bins: int = 12, eps: float = 1e-8) -> torch.Tensor:
    """Most likely bin sequence for one track (T × n_bins) under a triangular transition prior
    allowing jumps up to ``max_jump_bins`` bins per frame. Returns (T,) long."""
    if activations.ndim != 2:
        raise ValueError("viterbi_path expects a (T, n_bins) activation matrix")
    T, n = activations.shape
    if T == 0:
        return torch.zeros(0, dtype=torch.long)
    emission = torch.log(activations.double().clamp_min(eps))
    emission = emission - torch.logsumexp(emission, dim=-1, keepdim=True)
    d = torch.arange(n)[:, None] - torch.arange(n)[None, :]
    trans = (max_jump_bins - d.abs()).clamp_min(0).double()
    trans = trans / trans.sum(-1, keepdim=True)
    log_trans = torch.log(trans.clamp_min(1e-30))
    score = emission[0]
    back = torch.empty((T, n), dtype=torch.long)
    for t in range(1, T):
        cand = score[:, None] + log_trans  # from i to j
        score, back[t] = cand.max(0)
        score = score + emission[t]
    path = torch.empty(T, dtype=torch.long)
    path[-1] = score.argmax()
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


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
        centre = torch.stack([viterbi_path(a) for a in flat]).reshape(act.shape[:-1])
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
