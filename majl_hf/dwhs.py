"""DWHS — Dynamic Weights on Hard Samples (MAJL paper Eq. 9–14, MAJL_SPEC §3).

Per sample b, from the pitch of the predicted vocals (ŷ_pred), the labels (y) and the pitch of the
true vocals (ŷ_tgt): a case (Table 1) and two weights (ω_mss, ω_pe) from the Dynamic Weight Module.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .pitch.convert import PitchBins
from .pitch.decode import decode_cents

# Table 1: (pred correct, target correct) → case
CASE_BOTH_CORRECT = 1  # both right: weights ≈ 1
CASE_NOISY_LABEL = 2  # pred right, target wrong: the pitch label is likely noisy → ω_pe < 1
CASE_HARD_MSS = 3  # pred wrong, target right: hard for separation → ω_mss > 1
CASE_HARD_PE = 4  # both wrong: hard for pitch estimation → ω_pe > 1
CASES = (CASE_BOTH_CORRECT, CASE_NOISY_LABEL, CASE_HARD_MSS, CASE_HARD_PE)
CASE_NONE = 0  # no case: the sample has no pitch label / no target vocals, or all its frames are masked

#: how a pitch track is judged "correct" on a sample (the paper leaves it open; MAJL_SPEC §3)
CORRECT_RULES = ("overall_accuracy", "raw_pitch_accuracy")
#: ω counts as saturated within this fraction of w_max from either end of its range (0, w_max)
SATURATION_FRACTION = 0.05


def frame_accuracy(
    probabilities: torch.Tensor,
    labels_f0_hz: torch.Tensor,
    bins: PitchBins,
    voicing_threshold: float = 0.5,
    correct_cents: float = 50.0,
    frame_weight: torch.Tensor | None = None,
    rule: str = "overall_accuracy",
    window: int = 4,
) -> torch.Tensor:
    """Fraction of right frames per sample (B,).

    The pitch is decoded as everywhere else (:func:`majl_hf.pitch.decode.decode_cents`, weighted
    average over ``window`` bins each side of the argmax: pass the pitch estimator's ``decode_window``).

    ``rule="overall_accuracy"`` (OA-style, the default): over all (weighted) frames, a frame is right
    when voicing agrees with the label and, when voiced, the decoded pitch is within
    ``correct_cents`` of it. ``rule="raw_pitch_accuracy"`` (RPA-style, pitch only): over the
    label's voiced frames, a frame is right when the decoded pitch is within ``correct_cents``
    (the estimate's voicing is ignored); a sample with no voiced (weighted) frame gets NaN.
    """
    if rule not in CORRECT_RULES:
        raise ValueError(f"rule must be one of {CORRECT_RULES}, got {rule!r}")
    with torch.no_grad():
        est_voiced = probabilities.amax(-1) >= voicing_threshold
        ref_voiced = torch.isfinite(labels_f0_hz) & (labels_f0_hz > 0)
        est_cents = decode_cents(probabilities, bins, window=window)
        ref_cents = 1200.0 * torch.log2(torch.where(ref_voiced, labels_f0_hz, torch.ones_like(labels_f0_hz)) / 10.0)
        close = (est_cents - ref_cents).abs() <= correct_cents
        w = torch.ones_like(labels_f0_hz) if frame_weight is None else frame_weight.to(labels_f0_hz)
        if rule == "raw_pitch_accuracy":
            wv = w * ref_voiced.to(w)
            n = wv.sum(-1)
            acc = (close.to(w) * wv).sum(-1) / n.clamp_min(1e-8)
            return torch.where(n > 0, acc, torch.full_like(acc, float("nan")))
        right = (est_voiced == ref_voiced) & (~ref_voiced | close)
        return (right.to(w) * w).sum(-1) / w.sum(-1).clamp_min(1e-8)


def assign_cases(
    pred_correct: torch.Tensor, target_correct: torch.Tensor, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Table 1: (B,) bool, (B,) bool → (B,) long case in 1…4; samples where ``valid`` is False
    get :data:`CASE_NONE` (0): they take part in no case and add nothing to L_dwhs."""
    case = torch.full(pred_correct.shape, CASE_HARD_PE, dtype=torch.long, device=pred_correct.device)
    case[pred_correct & target_correct] = CASE_BOTH_CORRECT
    case[pred_correct & ~target_correct] = CASE_NOISY_LABEL
    case[~pred_correct & target_correct] = CASE_HARD_MSS
    if valid is not None:
        case[~valid.to(torch.bool)] = CASE_NONE
    return case


def saturated(weights: torch.Tensor, w_max: float, fraction: float = SATURATION_FRACTION) -> torch.Tensor:
    """Bool mask of the weights within ``fraction``·w_max of 0 or of w_max (the ends the BPR terms
    drive ω to)."""
    return (weights <= fraction * w_max) | (weights >= (1.0 - fraction) * w_max)


def dwhs_loss(weights: torch.Tensor, cases: torch.Tensor) -> torch.Tensor:
    """L_dwhs (Eq. 9–13): Σ over cases of the mean over that case's samples; an empty case adds 0.

    Args:
        weights: (B, 2) = (ω_mss, ω_pe).
        cases: (B,) case numbers 1…4 (:data:`CASE_NONE` = 0: the sample is left out).
    """
    w_mss, w_pe = weights[:, 0], weights[:, 1]
    per_case = {
        CASE_BOTH_CORRECT: (w_mss - 1).abs() + (w_pe - 1).abs(),
        CASE_NOISY_LABEL: (w_mss - 1).abs() - F.logsigmoid(1 - w_pe),
        CASE_HARD_MSS: -F.logsigmoid(w_mss - 1) + (w_pe - 1).abs(),
        CASE_HARD_PE: (w_mss - 1).abs() - F.logsigmoid(w_pe - 1),
    }
    total = weights.new_zeros(())
    for case, values in per_case.items():
        sel = cases == case
        if sel.any():
            total = total + values[sel].mean()
    return total


def init_dwm_layer(layer: nn.Module, init=nn.init) -> None:
    """Initialise one layer of a :class:`DynamicWeightModule` by its ``dwm_role``: hidden → He
    normal (ReLU gain), zero bias; output → zero weight, bias giving ω = 1. ``init`` is the module
    of init functions (``torch.nn.init`` or ``transformers.initialization``)."""
    role = getattr(layer, "dwm_role", None)
    if role == "hidden":
        init.kaiming_normal_(layer.weight, nonlinearity="relu")
        init.zeros_(layer.bias)
    elif role == "output":
        init.zeros_(layer.weight)
        init.constant_(layer.bias, layer.dwm_initial_bias)


class DynamicWeightModule(nn.Module):
    """DWM: stack[ŷ_pred, y, ŷ_tgt] (B, 3, T, N) → conv3×3+ReLU → conv3×3+ReLU → adaptive average
    pooling to ``pool_size`` (our addition: any segment length) → FC+ReLU → FC(2) → sigmoid·w_max.
    Starts at ω = 1 (zero last layer: sigmoid(0)·2 = 1 for w_max = 2; the bias is set so that
    sigmoid(b)·w_max = 1 for any w_max). The hidden layers get He (ReLU-gain Kaiming) init with
    zero bias: with PyTorch's default (gain for a = √5) the pooled sparse activations are so small
    that L_dwhs drives every hidden unit dead and ω stays 1 for every case.

    Each layer carries its role (``dwm_role``: ``"hidden"`` or ``"output"``) so that it can be
    initialised on its own (:func:`init_dwm_layer`), as ``from_pretrained`` does for a DWM that the
    checkpoint lacks."""

    def __init__(self, channels: int = 8, pool_size=(16, 32), hidden_size: int = 64, w_max: float = 2.0):
        super().__init__()
        self.w_max = float(w_max)
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(tuple(pool_size))
        self.fc1 = nn.Linear(channels * pool_size[0] * pool_size[1], hidden_size)
        self.fc2 = nn.Linear(hidden_size, 2)
        for layer in (self.conv1, self.conv2, self.fc1):
            layer.dwm_role = "hidden"
        self.fc2.dwm_role = "output"
        self.fc2.dwm_initial_bias = self.initial_bias()
        with torch.no_grad():  # ω = 1 at the start (MajlPreTrainedModel._init_weights does the same)
            for layer in (self.conv1, self.conv2, self.fc1, self.fc2):
                init_dwm_layer(layer)

    def initial_bias(self) -> float:
        p = 1.0 / self.w_max
        return math.log(p / (1.0 - p)) if p < 1.0 else 20.0

    def forward(self, predicted_source2pitch, labels, target_source2pitch):
        x = torch.stack([predicted_source2pitch, labels, target_source2pitch], dim=1)
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = F.relu(self.fc1(self.pool(x).flatten(1)))
        return torch.sigmoid(self.fc2(x)) * self.w_max
