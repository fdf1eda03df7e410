"""Conversions between Hz, cents, pitch bins and MIDI semitones, for any declared bin layout.

A bin layout is three numbers: the cents of bin 0 above the 10 Hz reference, the cents per bin and
the number of bins. CREPE's layout (the default, MAJL_SPEC §1) is 360 bins of 20 cents starting at
1997.3794084376191 cents (≈ 31.7 Hz); HarmoF0's is 352 bins of 25 cents starting at A0 (27.5 Hz).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

REFERENCE_HZ = 10.0  # Hz: cents are measured above this frequency, as CREPE does
CREPE_CENTS_OFFSET = 1997.3794084376191  # cents above 10 Hz of CREPE's bin 0
CREPE_CENTS_PER_BIN = 20.0  # cents
CREPE_N_BINS = 360


@dataclass(frozen=True)
class PitchBins:
    """A pitch-bin layout: bin ``i`` sits at ``cents_offset + cents_per_bin * i`` cents above 10 Hz."""

    cents_offset: float = CREPE_CENTS_OFFSET  # cents above REFERENCE_HZ of bin 0
    cents_per_bin: float = CREPE_CENTS_PER_BIN  # cents
    n_bins: int = CREPE_N_BINS

    def __post_init__(self):
        if self.cents_per_bin <= 0:
            raise ValueError(f"cents_per_bin must be > 0, got {self.cents_per_bin}")
        if self.n_bins < 2:
            raise ValueError(f"n_bins must be >= 2, got {self.n_bins}")

    @classmethod
    def from_fmin(cls, fmin_hz: float, bins_per_octave: int, n_bins: int) -> "PitchBins":
        """Layout whose bin 0 is at ``fmin_hz`` with ``bins_per_octave`` bins per octave."""
        return cls(float(hz_to_cents(fmin_hz)), 1200.0 / bins_per_octave, n_bins)

    @property
    def cents(self) -> np.ndarray:
        """Cents above 10 Hz of every bin, shape (n_bins,)."""
        return self.cents_offset + self.cents_per_bin * np.arange(self.n_bins, dtype=np.float64)

    @property
    def fmin_hz(self) -> float:
        return float(cents_to_hz(self.cents_offset))

    @property
    def fmax_hz(self) -> float:
        return float(cents_to_hz(self.cents_offset + self.cents_per_bin * (self.n_bins - 1)))

    def cents_to_bin(self, cents):
        """Fractional bin index of ``cents`` (no rounding, no clipping)."""
        return (cents - self.cents_offset) / self.cents_per_bin

    def bin_to_cents(self, bins):
        return self.cents_offset + self.cents_per_bin * bins

    def hz_to_bin(self, f0_hz):
        return self.cents_to_bin(hz_to_cents(f0_hz))

    def bin_to_hz(self, bins):
        return cents_to_hz(self.bin_to_cents(bins))


def _log2(x):
    return torch.log2(x) if isinstance(x, torch.Tensor) else np.log2(x)


def hz_to_cents(f_hz, reference_hz: float = REFERENCE_HZ):
    """Cents above ``reference_hz``. Works on floats, numpy arrays and tensors; ``f_hz`` must be > 0."""
    if isinstance(f_hz, (int, float)):
        if f_hz <= 0:
            raise ValueError(f"hz_to_cents needs a positive frequency, got {f_hz} Hz")
        return 1200.0 * math.log2(f_hz / reference_hz)
    return 1200.0 * _log2(f_hz / reference_hz)


def cents_to_hz(cents, reference_hz: float = REFERENCE_HZ):
    """Inverse of :func:`hz_to_cents`."""
    if isinstance(cents, (int, float)):
        return reference_hz * 2.0 ** (cents / 1200.0)
    return reference_hz * 2.0 ** (cents / 1200.0)


def midi_to_hz(midi):
    """MIDI note number (fractional allowed) to Hz; A4 = 69 = 440 Hz. ``0`` stays ``0`` (unvoiced),
    which is how MIR-1K's ``.pv`` files and MIR-ST500 mark unvoiced frames."""
    midi_arr = np.asarray(midi, dtype=np.float64)
    hz = 440.0 * 2.0 ** ((midi_arr - 69.0) / 12.0)
    return np.where(midi_arr > 0, hz, 0.0)


def hz_to_midi(f_hz):
    f = np.asarray(f_hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        midi = 69.0 + 12.0 * np.log2(f / 440.0)
    return np.where(f > 0, midi, 0.0)


def cents_difference(f_a_hz, f_b_hz):
    """Signed interval a − b in cents (both > 0)."""
    return 1200.0 * np.log2(np.asarray(f_a_hz, dtype=np.float64) / np.asarray(f_b_hz, dtype=np.float64))


def f0_to_targets(f0_hz: torch.Tensor, bins: PitchBins, sigma_cents: float = 25.0) -> torch.Tensor:
    """Frame pitch targets for a bin layout (MAJL_SPEC §1).

    Args:
        f0_hz: (..., T) fundamental frequency in Hz; ``<= 0`` or NaN marks an unvoiced frame.
        bins: the pitch estimator's bin layout.
        sigma_cents: width of the Gaussian around the true pitch, in cents. ``0`` gives the paper's
            one-hot target (the nearest bin).
    Returns:
        (..., T, n_bins) float targets in [0, 1]; an unvoiced frame is all zeros. A voiced pitch
        outside the layout's range is clipped to the nearest edge bin.
    """
    if sigma_cents < 0:
        raise ValueError(f"sigma_cents must be >= 0, got {sigma_cents}")
    f0 = torch.as_tensor(f0_hz, dtype=torch.float32)
    voiced = torch.isfinite(f0) & (f0 > 0)
    safe = torch.where(voiced, f0, torch.full_like(f0, bins.fmin_hz))
    cents = hz_to_cents(safe.double())
    lo = bins.cents_offset
    hi = bins.cents_offset + bins.cents_per_bin * (bins.n_bins - 1)
    cents = cents.clamp(lo, hi)
    grid = torch.as_tensor(bins.cents, dtype=torch.float64, device=f0.device)
    if sigma_cents == 0:
        idx = torch.round((cents - lo) / bins.cents_per_bin).long()
        targets = torch.nn.functional.one_hot(idx, bins.n_bins).to(torch.float32)
    else:
        targets = torch.exp(-((grid - cents[..., None]) ** 2) / (2.0 * sigma_cents**2)).to(torch.float32)
    return targets * voiced[..., None].to(torch.float32)
