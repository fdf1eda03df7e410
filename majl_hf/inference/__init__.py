"""Long-audio inference (chunked separation, frame-exact pitch) through the declared backbone contract;
streamed inference of files in flat memory (:mod:`.stream`)."""

from .apply import (
    apply_majl,
    apply_majl_stream,
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
    "apply_majl_stream",
    "gated_level_db",
    "level_gain",
    "pitch_long",
    "resample_long",
    "separate_long",
    "separate_waveform_long",
    "tune_malloc",
]
