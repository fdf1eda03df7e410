"""Re-export of :mod:`majl_hf.defaults` (the names of the pretrained defaults)."""

from ..defaults import DEFAULT_MODEL, DEFAULT_MODEL_TINY, DEFAULT_PITCH_HOP, DEFAULT_REVISION, DEFAULT_VARIANTS

__all__ = ["DEFAULT_MODEL", "DEFAULT_MODEL_TINY", "DEFAULT_PITCH_HOP", "DEFAULT_REVISION", "DEFAULT_VARIANTS"]
