"""Small, composable pitch utilities: bin layouts, Hz↔cents↔bins, Gaussian targets, decoding."""

from .convert import (
    CREPE_CENTS_OFFSET,
    CREPE_CENTS_PER_BIN,
    CREPE_N_BINS,
    PitchBins,
    cents_difference,
    cents_to_hz,
    f0_to_targets,
    hz_to_cents,
    hz_to_midi,
    midi_to_hz,
)
from .decode import DECODERS, decode_cents, decode_f0, frame_confidence, viterbi_path, viterbi_paths
from .labels import frame_times, read_mir1k_pv, resample_f0

__all__ = [
    "CREPE_CENTS_OFFSET",
    "CREPE_CENTS_PER_BIN",
    "CREPE_N_BINS",
    "DECODERS",
    "PitchBins",
    "cents_difference",
    "cents_to_hz",
    "decode_cents",
    "decode_f0",
    "f0_to_targets",
    "frame_confidence",
    "frame_times",
    "hz_to_cents",
    "hz_to_midi",
    "midi_to_hz",
    "read_mir1k_pv",
    "resample_f0",
    "viterbi_path",
    "viterbi_paths",
]
