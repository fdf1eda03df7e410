"""Vocal pitch metrics: RPA, RCA, OA, VR, VFA through ``mir_eval.melody`` on a 20 ms grid.

Conventions are mir_eval's: f0 in Hz, ``0`` = unvoiced; a negative estimated f0 means "unvoiced, but
this would be the pitch" (used by RPA/RCA, not by the voicing metrics); ``est_voicing`` in [0, 1],
when given, overrides the voicing implied by ``est_f0_hz``. Both series are converted to cents and
resampled onto one grid of ``grid_s`` seconds by mir_eval's own ``to_cent_voicing`` →
``resample_melody_series`` (linear in cents inside voiced runs, zeroth order for voicing), so the
numbers equal ``mir_eval.melody.evaluate(..., hop=grid_s)``.

Metric keys are lower case: ``rpa`` (raw pitch accuracy), ``rca`` (raw chroma accuracy), ``oa``
(overall accuracy), ``vr`` (voicing recall), ``vfa`` (voicing false alarm); values are fractions in
[0, 1]. A metric whose denominator is empty is ``None`` with a reason, never a fake 0 or 1:
- a reference with no voiced frame: ``rpa``, ``rca``, ``vr`` undefined (mir_eval would say 0, 0, 1);
- a reference with no unvoiced frame: ``vfa`` undefined (mir_eval would say 0).

A series that starts after 0 s is extended back to 0 s with its first value (mir_eval's convention),
so start annotations at 0 s or with an unvoiced frame.

Time series must be dense (one value per frame, ``0`` for unvoiced). Annotations that list voiced
frames only (MedleyDB ``Pitch/*.csv``) must go through :func:`densify_voiced_frames` first, or the
interpolation would bridge every unvoiced gap.
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping, Sequence

import numpy as np

from ..utils import require

GRID_S = 0.02  # s: the paper's evaluation grid (MIR-1K's 20 ms hop)
CENT_TOLERANCE = 50.0  # cents: a frame is correct when |Δ| < 50 cents (RPA) or |Δ mod 1200| < 50 (RCA)

METRIC_KEYS = ("rpa", "rca", "oa", "vr", "vfa")
# the per-clip count each metric is a fraction of (the weight of a frame-weighted mean)
METRIC_WEIGHTS = {"rpa": "n_ref_voiced", "rca": "n_ref_voiced", "vr": "n_ref_voiced",
                  "vfa": "n_ref_unvoiced", "oa": "n_frames"}
MIR_EVAL_NAMES = {"rpa": "Raw Pitch Accuracy", "rca": "Raw Chroma Accuracy", "oa": "Overall Accuracy",
                  "vr": "Voicing Recall", "vfa": "Voicing False Alarm"}

_NO_VOICED = "the reference has no voiced frame, so this fraction of voiced frames is undefined"
_NO_UNVOICED = "the reference has no unvoiced frame, so the false-alarm rate is undefined"


def real_float64(x, name: str, expected: str) -> np.ndarray:
    """A metric input (numpy array, list or torch tensor) as a float64 array; ValueError naming
    ``name`` (and ``expected``, what it should be) for None, non-numeric or complex values."""
    if x is None:
        raise ValueError(f"{name} is None; expected {expected}")
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real-valued, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _series(x, name: str, *, allow_negative: bool = True) -> np.ndarray:
    arr = real_float64(x, name, "a 1-D array")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {n_bad} NaN or Inf value(s); mark unvoiced frames with 0 Hz, not NaN"
        )
    if not allow_negative and np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0")
    return arr


def _times(x, name: str) -> np.ndarray:
    arr = _series(x, name, allow_negative=False)
    if arr.size > 1 and np.any(np.diff(arr) <= 0):
        raise ValueError(f"{name} must be strictly increasing")
    return arr


def _pair(times, values, t_name: str, v_name: str):
    t = _times(times, t_name)
    v = _series(values, v_name)
    if t.shape != v.shape:
        raise ValueError(f"{t_name} has {t.size} values but {v_name} has {v.size}")
    return t, v


def _mir_eval_melody():
    require("mir_eval", "eval")
    import mir_eval.melody as melody

    return melody


def melody_metrics(
    ref_times,
    ref_f0_hz,
    est_times,
    est_f0_hz,
    est_voicing=None,
    grid_s: float | None = GRID_S,
    *,
    cent_tolerance: float = CENT_TOLERANCE,
) -> dict:
    """RPA, RCA, OA, VR, VFA of one clip, computed by ``mir_eval.melody`` on a ``grid_s`` grid.

    Args:
        ref_times: reference frame times (s), strictly increasing, dense (see module docstring).
        ref_f0_hz: reference f0 (Hz) per frame, ``0`` = unvoiced.
        est_times: estimate frame times (s), strictly increasing.
        est_f0_hz: estimated f0 (Hz); ``<= 0`` = unvoiced (negative: unvoiced with a pitch guess).
        est_voicing: optional voicing in [0, 1] per estimate frame (overrides the sign of f0).
        grid_s: resampling grid (s) for both series, 0.02 s as in the paper; ``None`` resamples the
            estimate onto ``ref_times`` instead (mir_eval's default).
        cent_tolerance: cents for a frame to count as correct (50).

    Returns:
        ``{"rpa", "rca", "oa", "vr", "vfa"}`` (fractions or ``None``), ``"n_frames"``,
        ``"n_ref_voiced"``, ``"n_ref_unvoiced"`` (grid frames: the weights for
        :func:`aggregate_melody_metrics`), ``"grid_s"`` and ``"undefined"`` = ``{metric: reason}``.

    Raises:
        ValueError: NaN/Inf (the argument is named), empty or non-1-D input, mismatched lengths,
            non-increasing times, voicing outside [0, 1], non-positive ``grid_s``.
    """
    ref_t, ref_f = _pair(ref_times, ref_f0_hz, "ref_times", "ref_f0_hz")
    est_t, est_f = _pair(est_times, est_f0_hz, "est_times", "est_f0_hz")
    if est_voicing is not None:
        est_voicing = _series(est_voicing, "est_voicing")
        if est_voicing.shape != est_t.shape:
            raise ValueError(f"est_voicing has {est_voicing.size} values but est_times has {est_t.size}")
        if np.any((est_voicing < 0) | (est_voicing > 1)):
            raise ValueError("est_voicing must lie in [0, 1]")
    if grid_s is not None and not (isinstance(grid_s, (int, float)) and math.isfinite(grid_s) and grid_s > 0):
        raise ValueError(f"grid_s must be a positive number of seconds or None, got {grid_s!r}")
    if not (isinstance(cent_tolerance, (int, float)) and math.isfinite(cent_tolerance) and cent_tolerance > 0):
        raise ValueError(f"cent_tolerance must be a positive number of cents, got {cent_tolerance!r}")

    melody = _mir_eval_melody()
    ref_v, ref_c, est_v, est_c = melody.to_cent_voicing(
        ref_t, ref_f, est_t, est_f, est_voicing=est_voicing, hop=grid_s
    )
    n_frames = int(ref_v.size)
    n_voiced = float(np.sum(ref_v > 0))
    n_unvoiced = float(np.sum(ref_v == 0))
    out: dict = {k: None for k in METRIC_KEYS}
    undefined: dict[str, str] = {}
    with warnings.catch_warnings():
        # these situations are reported through "undefined" instead
        warnings.filterwarnings("ignore", message="Reference melody has no voiced frames")
        warnings.filterwarnings("ignore", message="Estimated melody has no voiced frames")
        if n_voiced > 0:
            out["rpa"] = float(melody.raw_pitch_accuracy(ref_v, ref_c, est_v, est_c, cent_tolerance=cent_tolerance))
            out["rca"] = float(melody.raw_chroma_accuracy(ref_v, ref_c, est_v, est_c, cent_tolerance=cent_tolerance))
            out["vr"] = float(melody.voicing_recall(ref_v, est_v))
        else:
            undefined.update({k: _NO_VOICED for k in ("rpa", "rca", "vr")})
        if n_unvoiced > 0:
            out["vfa"] = float(melody.voicing_false_alarm(ref_v, est_v))
        else:
            undefined["vfa"] = _NO_UNVOICED
        out["oa"] = float(melody.overall_accuracy(ref_v, ref_c, est_v, est_c, cent_tolerance=cent_tolerance))
    out.update(
        n_frames=n_frames,
        n_ref_voiced=n_voiced,
        n_ref_unvoiced=n_unvoiced,
        grid_s=None if grid_s is None else float(grid_s),
        undefined=undefined,
    )
    return out


def aggregate_melody_metrics(per_clip: Sequence[Mapping]) -> dict:
    """Frame-weighted means of per-clip :func:`melody_metrics` results.

    Each metric is weighted by the frame count it is a fraction of (``rpa``/``rca``/``vr`` by
    ``n_ref_voiced``, ``vfa`` by ``n_ref_unvoiced``, ``oa`` by ``n_frames``), so the result equals
    the metric computed on all clips' frames pooled. Clips where a metric is ``None`` are skipped
    for that metric and counted in ``"skipped"``.

    Returns:
        ``{"rpa", "rca", "oa", "vr", "vfa"}`` (fractions or ``None``), ``"n_clips"``,
        ``"n_frames"``, ``"n_ref_voiced"``, ``"n_ref_unvoiced"`` (totals) and
        ``"skipped"`` = ``{metric: number of clips without a value}``.
    """
    per_clip = list(per_clip)
    out: dict = {}
    skipped: dict[str, int] = {}
    for key in METRIC_KEYS:
        weight_key = METRIC_WEIGHTS[key]
        num = den = 0.0
        n_skip = 0
        for i, clip in enumerate(per_clip):
            value = clip.get(key)
            if value is None:
                n_skip += 1
                continue
            if weight_key not in clip:
                raise ValueError(f"clip {i} has no {weight_key!r}: pass melody_metrics() results")
            w = float(clip[weight_key])
            num += w * float(value)
            den += w
        out[key] = num / den if den > 0 else None
        if n_skip:
            skipped[key] = n_skip
    out["n_clips"] = len(per_clip)
    for total in ("n_frames", "n_ref_voiced", "n_ref_unvoiced"):
        out[total] = float(sum(float(c.get(total, 0)) for c in per_clip))
    out["skipped"] = skipped
    return out


def densify_voiced_frames(times_s, f0_hz, hop_s: float, end_s: float | None = None):
    """Turn a voiced-frames-only f0 list (e.g. MedleyDB ``Pitch/*.csv``) into a dense series.

    The listed times must lie on one grid of step ``hop_s`` (MedleyDB: 256/44100 s), possibly offset
    (a cropped excerpt). The dense grid keeps that offset, starts in ``[0, hop_s)`` and runs to the
    last listed frame, or to ``end_s`` if later; frames that are not listed get ``0`` (unvoiced).

    Returns:
        ``(times_s, f0_hz)`` as float64 arrays.

    Raises:
        ValueError: NaN/Inf, unsorted times, or times off the grid by more than a quarter hop.
    """
    t, f = _pair(times_s, f0_hz, "times_s", "f0_hz")
    if not (isinstance(hop_s, (int, float)) and math.isfinite(hop_s) and hop_s > 0):
        raise ValueError(f"hop_s must be a positive number of seconds, got {hop_s!r}")
    pos = (t - t[0]) / hop_s
    idx = np.rint(pos).astype(np.int64)
    if np.any(np.abs(pos - idx) > 0.25):
        raise ValueError(f"times_s are not on a grid of hop_s={hop_s} s starting at {t[0]} s")
    lead = int(math.floor(t[0] / hop_s + 1e-9))  # grid frames between 0 and the first listed time
    n = lead + int(idx[-1]) + 1
    if end_s is not None:
        n = max(n, int(math.floor((end_s - t[0]) / hop_s + 1e-9)) + lead + 1)
    dense_t = t[0] + (np.arange(n, dtype=np.float64) - lead) * hop_s
    dense_f = np.zeros(n, dtype=np.float64)
    dense_f[idx + lead] = f
    return dense_t, dense_f
