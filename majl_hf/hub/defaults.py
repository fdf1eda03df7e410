"""Re-export of :mod:`majl_hf.defaults` (the names of the pretrained defaults)."""

from ..defaults import (
    BUILD_COMMAND,
    DEFAULT_MODEL,
    DEFAULT_MODEL_TINY,
    DEFAULT_PITCH_HOP,
    DEFAULT_REVISION,
    DEFAULT_VARIANTS,
    PRETRAINED_MODELS,
)

__all__ = [
    "BUILD_COMMAND",
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_TINY",
    "DEFAULT_PITCH_HOP",
    "DEFAULT_REVISION",
    "DEFAULT_VARIANTS",
    "PRETRAINED_MODELS",
]
