"""A training view of schema examples: fixed-length random crops at the model's rates.

:class:`TrainingView` wraps examples of any corpus (a ``datasets.Dataset`` from a ``load_*``
function, or a list of dicts from an ``iter_*`` function) as a ``torch.utils.data.Dataset``. Each
item is one random crop of ``segment_s`` seconds:

- audio is cropped at the example's rate, converted to ``channels`` by the package's one channel rule
  (:func:`majl_hf.audio.convert_channels`: mean for mono, duplication of a mono source for stereo)
  and resampled with soxr to ``sampling_rate``;
- the pitch labels are put on the model's frames (``hop_s``, centred frames, frame ``j`` of the crop
  at ``j · hop_s`` s after the crop's first sample, ``1 + N // (hop_s · sampling_rate)`` frames).

Alignment is exact: when the example's rate puts the 20 ms grid on whole samples (16 kHz, 44.1 kHz,
48 kHz …) the crop starts on a grid point, and with ``hop_s = 0.02`` the labels are sliced straight
from the example's grid; otherwise (another hop, or a rate with no whole-sample grid) they are
re-resampled with :func:`~majl_hf.pitch.labels.resample_f0` at the crop's exact frame times. The
resampled audio keeps its first sample at the crop start (the left context used to avoid edge
effects is a whole number of samples at both rates and is dropped exactly).

A crop that runs past the end of a short example is zero-padded (audio) and unvoiced (labels).

Augmentation (off by default, seeded per item so that a run is reproducible whatever the worker
order): a random gain in ``gain_db`` applied to mixture and vocals alike; a left/right channel swap
with probability ``channel_swap_p``; and, for examples with a separation label, with probability
``remix_p`` the accompaniment (mixture − vocals) of a random crop of another separation-labelled
example replaces this one's, so the new mixture is vocals + foreign accompaniment (the vocals, and
so the pitch labels, are unchanged).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import soxr
import torch

from ..audio import convert_channels
from ..pitch.labels import frame_times, resample_f0
from .base import GRID_HOP_S, n_grid_frames

CONTEXT_S = 0.05  # s: audio context kept on each side of a crop while resampling, then dropped


def _grid_step(sampling_rate: int) -> int | None:
    """Samples per 20 ms grid hop, or ``None`` when that is not a whole number."""
    h = GRID_HOP_S * sampling_rate
    return int(round(h)) if abs(h - round(h)) < 1e-6 else None


def _fix_length(audio: np.ndarray, n: int) -> np.ndarray:
    if audio.shape[1] >= n:
        return audio[:, :n]
    return np.pad(audio, ((0, 0), (0, n - audio.shape[1])))


class TrainingView(torch.utils.data.Dataset):
    """Fixed-length random crops of schema examples at a model's sampling rate, channels and hop.

    Args:
        examples: a ``datasets.Dataset`` with the schema features, or a sequence of schema dicts.
        segment_s: crop length in seconds.
        sampling_rate: the separator's rate (Hz); audio is resampled to it with soxr.
        channels: the separator's channel count (1 or 2).
        hop_s: the pitch estimator's frame hop in seconds (default 0.02, the label grid).
        crops_per_example: items per example per epoch (``len`` = examples × this).
        seed: base seed; item ``i`` of epoch ``e`` uses ``numpy.random.default_rng([seed, e, i])``.
        gain_db: ``(low, high)`` range of a random gain in dB, or ``None``.
        channel_swap_p: probability of swapping left and right (stereo only).
        remix_p: probability of replacing the accompaniment with another example's (examples with
            ``has_vocals`` only).
        resample_quality: soxr quality (``"HQ"`` default, ``"VHQ"``, ``"MQ"``, ``"LQ"``, ``"QQ"``).

    Items are dicts of tensors: ``input_values`` (C, N) float32, ``target_vocals`` (C, N),
    ``target_f0_hz`` (T,) in Hz with 0 = unvoiced, ``has_vocals`` and ``has_f0`` (bool scalars).
    """

    def __init__(
        self,
        examples,
        *,
        segment_s: float,
        sampling_rate: int,
        channels: int,
        hop_s: float = GRID_HOP_S,
        crops_per_example: int = 1,
        seed: int = 0,
        gain_db: tuple[float, float] | None = None,
        channel_swap_p: float = 0.0,
        remix_p: float = 0.0,
        resample_quality: str = "HQ",
    ):
        if segment_s <= 0:
            raise ValueError(f"segment_s must be > 0 s, got {segment_s}")
        if sampling_rate <= 0 or int(sampling_rate) != sampling_rate:
            raise ValueError(f"sampling_rate must be a positive integer (Hz), got {sampling_rate}")
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        if hop_s <= 0:
            raise ValueError(f"hop_s must be > 0 s, got {hop_s}")
        if crops_per_example < 1:
            raise ValueError(f"crops_per_example must be >= 1, got {crops_per_example}")
        for name, p in (("channel_swap_p", channel_swap_p), ("remix_p", remix_p)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if gain_db is not None and (len(gain_db) != 2 or gain_db[0] > gain_db[1]):
            raise ValueError(f"gain_db must be (low, high) with low <= high, got {gain_db}")
        if hasattr(examples, "with_format"):  # a datasets.Dataset: rows as numpy arrays
            examples = examples.with_format("numpy")
        self.examples = examples
        self.segment_s = float(segment_s)
        self.sampling_rate = int(sampling_rate)
        self.channels = int(channels)
        self.hop_s = float(hop_s)
        self.crops_per_example = int(crops_per_example)
        self.seed = int(seed)
        self.gain_db = gain_db
        self.channel_swap_p = float(channel_swap_p)
        self.remix_p = float(remix_p)
        self.resample_quality = resample_quality
        self.epoch = 0
        self.n_samples = int(round(self.segment_s * self.sampling_rate))
        self.n_frames = n_grid_frames(self.n_samples, self.sampling_rate, self.hop_s)
        if hasattr(examples, "column_names"):
            has_vocals = np.asarray(examples["has_vocals"], dtype=bool)
        else:
            has_vocals = np.asarray([bool(ex["has_vocals"]) for ex in examples], dtype=bool)
        self._separation_pool = np.flatnonzero(has_vocals)

    def set_epoch(self, epoch: int) -> None:
        """Draw different crops in each epoch (call before iterating)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.examples) * self.crops_per_example

    # -----------------------------------------------------------------------------------------

    def _crop_audio(self, ex: Mapping, rng, keys: Sequence[str]):
        """A random crop of ``keys`` audio arrays of ``ex``: (list of (C, N) at the model rate,
        crop start in seconds, grid frame index of the start or ``None``)."""
        sr = int(ex["sampling_rate"])
        first = np.asarray(ex[keys[0]])
        n_src = first.shape[1]
        l_src = int(math.ceil(self.n_samples * sr / self.sampling_rate))
        step = _grid_step(sr)
        if step is not None:
            k = int(rng.integers(0, max(0, n_src - l_src) // step + 1))
            s0 = k * step
        else:
            k = None
            s0 = int(rng.integers(0, max(0, n_src - l_src) + 1))
        out = []
        for key in keys:
            audio = np.asarray(ex[key], dtype=np.float32)
            out.append(self._resample_segment(audio, s0, l_src, sr))
        return out, s0 / sr, k

    def _resample_segment(self, audio: np.ndarray, s0: int, l_src: int, sr: int) -> np.ndarray:
        if sr == self.sampling_rate:
            return _fix_length(convert_channels(audio[:, s0 : s0 + l_src], self.channels), self.n_samples)
        g = math.gcd(sr, self.sampling_rate)
        unit_src, unit_dst = sr // g, self.sampling_rate // g  # equal durations in whole samples
        ctx_units = max(1, int(math.ceil(CONTEXT_S * sr / unit_src)))
        left_units = min(s0 // unit_src, ctx_units)
        a = left_units * unit_src
        end = min(audio.shape[1], s0 + l_src + ctx_units * unit_src)
        seg = convert_channels(audio[:, s0 - a : end], self.channels)
        y = soxr.resample(np.ascontiguousarray(seg.T), sr, self.sampling_rate, quality=self.resample_quality).T
        drop = left_units * unit_dst
        return _fix_length(np.ascontiguousarray(y[:, drop:], dtype=np.float32), self.n_samples)

    def _labels(self, ex: Mapping, start_s: float, k: int | None) -> np.ndarray:
        if not bool(ex["has_f0"]):
            return np.zeros(self.n_frames, dtype=np.float32)
        f0 = np.asarray(ex["f0_hz"], dtype=np.float64)
        if k is not None and abs(self.hop_s - GRID_HOP_S) < 1e-12:
            out = np.zeros(self.n_frames)
            piece = f0[k : k + self.n_frames]
            out[: len(piece)] = piece
            return out.astype(np.float32)
        times = frame_times(len(f0), GRID_HOP_S)  # exact float64 (datasets' numpy format gives float32)
        dst = start_s + frame_times(self.n_frames, self.hop_s)
        return resample_f0(times, f0, dst, max_gap_s=0.5 * GRID_HOP_S + 1e-6).astype(np.float32)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        i = index // self.crops_per_example
        ex = self.examples[i]
        has_vocals = bool(ex["has_vocals"])
        (mixture, vocals), start_s, k = self._crop_audio(ex, rng, ("mixture", "vocals"))
        f0 = self._labels(ex, start_s, k)

        pool = self._separation_pool[self._separation_pool != i]
        if has_vocals and self.remix_p > 0 and len(pool) and rng.random() < self.remix_p:
            other = self.examples[int(pool[rng.integers(0, len(pool))])]
            (mix_o, voc_o), _, _ = self._crop_audio(other, rng, ("mixture", "vocals"))
            mixture = vocals + (mix_o - voc_o)
        if self.gain_db is not None:
            gain = np.float32(10.0 ** (rng.uniform(*self.gain_db) / 20.0))
            mixture, vocals = mixture * gain, vocals * gain
        if self.channels == 2 and self.channel_swap_p > 0 and rng.random() < self.channel_swap_p:
            mixture, vocals = mixture[::-1], vocals[::-1]
        return {
            "input_values": torch.from_numpy(np.ascontiguousarray(mixture, dtype=np.float32)),
            "target_vocals": torch.from_numpy(np.ascontiguousarray(vocals, dtype=np.float32)),
            "target_f0_hz": torch.from_numpy(f0),
            "has_vocals": torch.tensor(has_vocals),
            "has_f0": torch.tensor(bool(ex["has_f0"])),
        }


def collate_training(items: Sequence[Mapping]) -> dict:
    """Stack :class:`TrainingView` items: ``input_values`` (B, C, N), ``target_vocals`` (B, C, N),
    ``target_f0_hz`` (B, T), ``has_vocals`` (B,) bool, ``has_f0`` (B,) bool."""
    if not items:
        raise ValueError("collate_training needs at least one item")
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}
