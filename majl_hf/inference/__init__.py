"""Long-audio inference (chunked separation, frame-exact pitch) through the declared backbone contract."""

from .apply import (
    apply_majl,
    gated_level_db,
    level_gain,
    pitch_long,
    resample_long,
    separate_long,
    separate_waveform_long,
    tune_malloc,
)

__all__ = [
    "apply_majl",
    "gated_level_db",
    "level_gain",
    "pitch_long",
    "resample_long",
    "separate_long",
    "separate_waveform_long",
    "tune_malloc",
]
