from .apply import CascadeResult, apply_majl, pitch_long, resample_long, separate_long

__all__ = ["CascadeResult", "apply_majl", "pitch_long", "resample_long", "separate_long"]
