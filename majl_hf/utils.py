"""Small helpers: config validation with messages that name the field, and lazy optional imports."""

from __future__ import annotations

import importlib


def check_range(field: str, value, low=None, high=None, *, low_open=False, high_open=False):
    """Raise ``ValueError`` naming ``field`` and the allowed range when ``value`` lies outside it."""
    lo_ok = low is None or (value > low if low_open else value >= low)
    hi_ok = high is None or (value < high if high_open else value <= high)
    if not (lo_ok and hi_ok):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        rng = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{field} must be in {rng}, got {value!r}")


def check_choice(field: str, value, choices):
    if value not in choices:
        raise ValueError(f"{field} must be one of {tuple(choices)}, got {value!r}")


def require(module: str, extra: str):
    """Import an optional dependency or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{module} is needed for this feature: install it with `pip install 'majl_hf[{extra}]'`"
        ) from err
