"""Frame grids and reading/aligning pitch labels onto them."""

from __future__ import annotations

import numpy as np


def frame_times(n_frames: int, hop_s: float, offset_s: float = 0.0) -> np.ndarray:
    """Centre times (s) of ``n_frames`` frames on a grid of ``hop_s`` starting at ``offset_s``."""
    return offset_s + hop_s * np.arange(int(n_frames), dtype=np.float64)


def read_mir1k_pv(path):
    """Moved to :func:`majl_hf.data.mir1k.read_mir1k_pv` (the MIR-1K corpus owns its label format);
    this forwarder keeps ``majl_hf.pitch.read_mir1k_pv`` working."""
    from ..data.mir1k import read_mir1k_pv as read  # lazy: majl_hf.data imports this module

    return read(path)


def resample_f0(times_src, f0_src, times_dst, max_gap_s: float | None = None) -> np.ndarray:
    """Move an f0 track (Hz, 0 = unvoiced) onto other frame times.

    A destination frame is voiced iff the nearest source frame is voiced (and, with ``max_gap_s``,
    lies within that distance); its pitch is interpolated linearly in cents between the two
    neighbouring voiced source frames, or taken from the nearest one at a voicing edge.
    """
    t_src = np.asarray(times_src, dtype=np.float64)
    f_src = np.asarray(f0_src, dtype=np.float64)
    t_dst = np.asarray(times_dst, dtype=np.float64)
    if t_src.shape != f_src.shape or t_src.ndim != 1:
        raise ValueError("times_src and f0_src must be 1-D arrays of the same length")
    if len(t_src) == 0:
        return np.zeros_like(t_dst)
    if np.any(np.diff(t_src) <= 0):
        raise ValueError("times_src must be strictly increasing")
    f_src = np.where(np.isfinite(f_src) & (f_src > 0), f_src, 0.0)
    pos = np.searchsorted(t_src, t_dst)
    left = np.clip(pos - 1, 0, len(t_src) - 1)
    right = np.clip(pos, 0, len(t_src) - 1)
    nearest = np.where(np.abs(t_src[left] - t_dst) <= np.abs(t_src[right] - t_dst), left, right)
    voiced = f_src[nearest] > 0
    if max_gap_s is not None:
        voiced &= np.abs(t_src[nearest] - t_dst) <= max_gap_s
    both = voiced & (f_src[left] > 0) & (f_src[right] > 0) & (right != left)
    out = np.where(voiced, f_src[nearest], 0.0)
    if np.any(both):
        cl = np.log2(f_src[left[both]])
        cr = np.log2(f_src[right[both]])
        w = (t_dst[both] - t_src[left[both]]) / (t_src[right[both]] - t_src[left[both]])
        out[both] = 2.0 ** (cl + np.clip(w, 0, 1) * (cr - cl))
    # outside the source's time span: unvoiced
    span = (t_dst >= t_src[0] - (max_gap_s or 0)) & (t_dst <= t_src[-1] + (max_gap_s or 0))
    return np.where(span, out, 0.0)
