"""Waveform in, checked and converted: any source (path, bytes, array, dict) → float32
(channels, samples) at the model's rate and channel count, with clear errors for bad input.
Nothing model-specific: the rate and channel count come from the caller."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import soxr

# reading, the channel rule and the error type live in majl_hf.audio (shared with the CLI and the data code)
from .audio import (  # noqa: F401 - re-exported
    AUDIO_EXTENSIONS,
    MAX_CHANNELS_KEPT,
    AudioInputError,
    convert_channels,
    read_audio_bytes,
    read_audio_file,
)

#: peaks beyond this (+20 dB over full scale) are not a hot master but a scaling mistake: warn
FAR_ABOVE_FULL_SCALE = 10.0


@dataclass
class AudioInfo:
    """What the input looked like, so that outputs can be given back in the same shape."""

    sampling_rate: int
    channels: int  # channels of the returned audio (after any downmix)
    original_channels: int
    num_samples: int
    source: str = "array"


def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return type(source).__name__


def _as_float_array(array) -> np.ndarray:
    try:
        import torch

        if isinstance(array, torch.Tensor):
            array = array.detach().cpu()
            array = array.float().numpy() if array.is_floating_point() else array.numpy()
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    a = np.asarray(array)
    if a.dtype == np.bool_ or a.dtype.kind not in "iuf":
        raise AudioInputError(f"audio array has dtype {a.dtype}; give float or integer PCM samples")
    if a.dtype.kind == "i":
        a = a.astype(np.float32) / float(2 ** (8 * a.dtype.itemsize - 1))
    elif a.dtype.kind == "u":
        half = 2 ** (8 * a.dtype.itemsize - 1)
        a = (a.astype(np.float32) - half) / float(half)
    return a.astype(np.float32, copy=False)


def _to_channels_first(a: np.ndarray) -> np.ndarray:
    if a.size == 0:
        raise AudioInputError(f"the audio array is empty (shape {a.shape}): no samples to process")
    if a.ndim == 1:
        return a[None]
    if a.ndim != 2:
        raise AudioInputError(f"audio array must be 1-D (samples) or 2-D (channels × samples), got shape {a.shape}")
    # (channels, samples) when the first axis is the short one; soundfile's (samples, channels) otherwise
    return a if a.shape[0] <= a.shape[1] else a.T


def load_audio(source, sampling_rate: int | None = None) -> tuple[np.ndarray, AudioInfo]:
    """Any supported input → float32 (channels, samples) and its :class:`AudioInfo`.

    ``source``: a path (str / Path), ``bytes``, a numpy array or torch tensor (with
    ``sampling_rate``), or a dict ``{"array" | "raw": ..., "sampling_rate": ...}``. Integer PCM is
    scaled to [-1, 1). More than two channels are downmixed to mono, with a warning.
    """
    origin = _describe(source)
    if isinstance(source, dict):
        key = "array" if "array" in source else "raw" if "raw" in source else None
        if key is None:
            raise AudioInputError('a dict input needs "array" (or "raw") and "sampling_rate" keys')
        if "sampling_rate" not in source:
            raise AudioInputError('a dict input needs a "sampling_rate" key (Hz)')
        audio, sr = _as_float_array(source[key]), source["sampling_rate"]
        audio = _to_channels_first(audio)
    elif isinstance(source, (str, os.PathLike)):
        audio, sr = read_audio_file(source)
    elif isinstance(source, (bytes, bytearray)):
        audio, sr = read_audio_bytes(bytes(source))
    else:
        if sampling_rate is None:
            raise AudioInputError(
                "an array input needs sampling_rate= (Hz), or pass {'array': ..., 'sampling_rate': ...}"
            )
        audio, sr = _to_channels_first(_as_float_array(source)), sampling_rate
    try:
        sr = int(sr)
    except (TypeError, ValueError):
        raise AudioInputError(f"sampling_rate must be an integer number of Hz, got {sr!r}") from None
    if not 1000 <= sr <= 768000:
        raise AudioInputError(f"sampling_rate {sr} Hz is outside 1000…768000 Hz; check the value you passed")
    if audio.shape[-1] == 0:
        raise AudioInputError(f"{origin}: the audio is empty (0 samples)")
    if not np.isfinite(audio).all():
        bad = int((~np.isfinite(audio)).sum())
        raise AudioInputError(
            f"{origin}: the audio contains {bad} NaN/Inf samples; clean it first (e.g. np.nan_to_num(x, nan=0.0))"
        )
    peak = float(np.abs(audio).max())
    if peak > FAR_ABOVE_FULL_SCALE:
        warnings.warn(
            f"{origin}: the audio peaks at {peak:.3g}, {20 * np.log10(peak):.0f} dB above full scale (±1.0); "
            "float audio is expected in [-1, 1] — if this is integer PCM stored as float, divide it by 32768",
            stacklevel=2,
        )
    original_channels = audio.shape[0]
    audio = convert_channels(audio, source=origin)  # more than MAX_CHANNELS_KEPT: mono, with a warning
    return np.ascontiguousarray(audio), AudioInfo(sr, audio.shape[0], original_channels, audio.shape[-1], origin)


def resample(audio: np.ndarray, from_sr: int, to_sr: int, quality: str = "HQ") -> np.ndarray:
    """soxr resampling of (channels, samples) float32."""
    if from_sr == to_sr:
        return audio
    out = soxr.resample(audio.T, from_sr, to_sr, quality=quality)
    return np.ascontiguousarray(out.T, dtype=np.float32)


def to_model_input(audio: np.ndarray, info: AudioInfo, sampling_rate: int, channels: int) -> np.ndarray:
    """(channels, samples) at the input's rate → the model's rate and channel count."""
    return convert_channels(resample(audio, info.sampling_rate, sampling_rate), channels)


def from_model_output(audio: np.ndarray, model_sr: int, info: AudioInfo) -> np.ndarray:
    """Model-rate (channels, samples) → the input's rate, channel count and length."""
    y = convert_channels(resample(audio, model_sr, info.sampling_rate), info.channels)
    n = info.num_samples
    if y.shape[-1] >= n:
        return np.ascontiguousarray(y[:, :n])
    return np.pad(y, ((0, 0), (0, n - y.shape[-1])))


__all__ = [
    "AUDIO_EXTENSIONS",
    "MAX_CHANNELS_KEPT",
    "AudioInfo",
    "AudioInputError",
    "from_model_output",
    "load_audio",
    "read_audio_bytes",
    "read_audio_file",
    "resample",
    "to_model_input",
]
