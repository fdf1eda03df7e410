"""Typed outputs shared by every separator and pitch-estimator backbone."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


@dataclass
class SeparatorOutput(ModelOutput):
    """Output of a separator backbone.

    Args:
        vocals: (batch, channels, samples) separated vocals at the separator's sampling rate.
        accompaniment: (batch, channels, samples) everything else, when the backbone predicts it
            (or mixture − vocals when it does not).
        vocals_spectrogram: (batch, channels, frames, bins) complex STFT of the vocal estimate.
        loss: mean |s − ŝ| when ``target_vocals`` is given (MAJL_SPEC §2).
    """

    loss: torch.Tensor | None = None
    vocals: torch.Tensor | None = None
    accompaniment: torch.Tensor | None = None
    vocals_spectrogram: torch.Tensor | None = None


@dataclass
class PitchEstimatorOutput(ModelOutput):
    """Output of a pitch-estimator backbone.

    Args:
        logits: (batch, frames, bins) pre-sigmoid pitch activations.
        probabilities: (batch, frames, bins) sigmoid activations in [0, 1] (CREPE's output).
        times_s: (frames,) frame-centre times in seconds from the start of the input.
        loss: mean binary cross-entropy over frames × bins when ``labels`` / ``target_f0_hz`` are given.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    probabilities: torch.Tensor | None = None
    times_s: torch.Tensor | None = None
