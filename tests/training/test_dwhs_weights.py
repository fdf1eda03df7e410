"""DWHS in training (paper Table 1, Eq. 9–13, Fig. 5): on a batch where each case is built on
purpose, the Dynamic Weight Module trained on L_dwhs alone moves ω the way Table 1 says, within a
bounded number of steps; an empty case adds nothing; the trainer's statistics report mean ω per case."""

import numpy as np
import pytest
import torch

from majl_hf import MajlConfig, MajlModel
from majl_hf.dwhs import (
    CASE_BOTH_CORRECT,
    CASE_HARD_MSS,
    CASE_HARD_PE,
    CASE_NOISY_LABEL,
    DynamicWeightModule,
    assign_cases,
    dwhs_loss,
    frame_accuracy,
)
from majl_hf.modeling_majl import MajlOutput
from majl_hf.pitch.convert import PitchBins, f0_to_targets
from majl_hf.training.trainer import LossStatistics

from .conftest import TINY_MODEL

MAX_STEPS = 100  # Adam, lr 1e-3


def constructed_batch(per_case=4, frames=40, seed=0):
    """Pitch tracks (B, T, 360) for the four situations of Table 1 with their labels:
    right = the label's own activation; wrong = the label shifted by a fourth (500 cents) or a fifth
    down, i.e. far outside the 50-cent tolerance. Voiced frames with unvoiced gaps."""
    rng = np.random.default_rng(seed)
    bins = PitchBins()

    def melody():
        f = 220 * 2 ** (rng.integers(-5, 6) / 12) * 2 ** np.cumsum(rng.normal(0, 0.01, frames))
        f[rng.random(frames) < 0.2] = 0.0
        return f

    f0 = torch.tensor(np.stack([melody() for _ in range(4 * per_case)]), dtype=torch.float32)
    labels = f0_to_targets(f0, bins)
    right = 0.9 * labels
    up = 0.9 * f0_to_targets(f0 * 2 ** (5 / 12), bins)
    down = 0.9 * f0_to_targets(f0 * 2 ** (-7 / 12), bins)
    intended = torch.arange(1, 5).repeat_interleave(per_case)
    pred = torch.where((intended <= 2)[:, None, None], right, up)  # ŷ_pred right in cases 1, 2
    tgt = torch.where(((intended == 1) | (intended == 3))[:, None, None], right,  # ŷ_tgt right in cases 1, 3
                      torch.where((intended == 2)[:, None, None], up, down))
    return bins, f0, labels, pred, tgt, intended


def mean_weights(weights, cases):
    return {c: weights[cases == c].mean(0) for c in (1, 2, 3, 4)}


def test_constructed_cases_are_the_intended_ones():
    bins, f0, labels, pred, tgt, intended = constructed_batch()
    acc_pred = frame_accuracy(pred, f0, bins)
    acc_tgt = frame_accuracy(tgt, f0, bins)
    cases = assign_cases(acc_pred >= 0.9, acc_tgt >= 0.9)  # τ = correct_frame_ratio = 0.9
    assert torch.equal(cases, intended)


@pytest.mark.parametrize("seed", [0, 1])
def test_dwm_learns_table1_weights_from_l_dwhs_alone(seed):
    bins, f0, labels, pred, tgt, cases = constructed_batch(seed=seed)
    torch.manual_seed(seed)
    # the DWM as MajlModel builds it (its config defaults), initialised by the model
    model = MajlModel(MajlConfig(**{**TINY_MODEL, "pitch_config": {"model_type": "crepe", "capacity": "tiny"}}))
    dwm = model.dwm
    w0 = dwm(pred, labels, tgt).detach()
    torch.testing.assert_close(w0, torch.ones_like(w0))  # ω = 1 at the start
    opt = torch.optim.Adam(dwm.parameters(), lr=1e-3)
    for _ in range(MAX_STEPS):
        loss = dwhs_loss(dwm(pred, labels, tgt), cases)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        w = mean_weights(dwm(pred, labels, tgt), cases)
    # Table 1
    assert abs(w[CASE_BOTH_CORRECT][0] - 1) < 0.05 and abs(w[CASE_BOTH_CORRECT][1] - 1) < 0.05
    assert abs(w[CASE_NOISY_LABEL][0] - 1) < 0.05 and w[CASE_NOISY_LABEL][1] < 0.5  # 0 <= ω_pe < 1
    assert w[CASE_HARD_MSS][0] > 1.3 and abs(w[CASE_HARD_MSS][1] - 1) < 0.05  # ω_mss >= 1
    assert abs(w[CASE_HARD_PE][0] - 1) < 0.05 and w[CASE_HARD_PE][1] > 1.5  # ω_pe >= 1
    assert float(loss.detach()) < 0.75 * 4 * np.log(2)  # from 4·ln 2 (every BPR term at ω = 1)


def test_an_empty_case_contributes_zero():
    torch.manual_seed(0)
    w = 0.5 + torch.rand(6, 2)
    cases = torch.tensor([1, 1, 4, 4, 4, 1])  # no case 2, no case 3
    terms = {
        1: (w[:, 0] - 1).abs() + (w[:, 1] - 1).abs(),
        4: (w[:, 0] - 1).abs() - torch.nn.functional.logsigmoid(w[:, 1] - 1),
    }
    expected = sum(terms[c][cases == c].mean() for c in (1, 4))
    torch.testing.assert_close(dwhs_loss(w, cases), expected)
    # only case 1 at ω = 1: the loss is exactly 0 and so is every DWM gradient
    dwm = DynamicWeightModule()
    bins, f0, labels, pred, tgt, _ = constructed_batch(per_case=2)
    loss = dwhs_loss(dwm(pred, labels, tgt), torch.ones(8, dtype=torch.long))
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert all(p.grad is None or float(p.grad.abs().max()) == 0.0 for p in dwm.parameters())


def test_statistics_report_cases_and_mean_weights_per_case():
    """What the trainer logs for Fig. 5: counts per case and mean ω_mss, ω_pe per case."""
    stats = LossStatistics()
    weights = torch.tensor([[1.0, 1.0], [1.0, 0.2], [1.8, 1.0], [1.0, 1.9], [1.0, 1.7]])
    out = MajlOutput(loss=torch.tensor(1.0), loss_mss=torch.ones(5), loss_pe=torch.ones(5) * 2,
                     loss_dwhs=torch.tensor(0.5), dwhs_weights=weights, dwhs_cases=torch.tensor([1, 2, 3, 4, 4]))
    stats.update(out, {"has_vocals": torch.ones(5, dtype=torch.bool), "has_f0": torch.ones(5, dtype=torch.bool)})
    s = stats.summary()
    assert [s[f"n_case{c}"] for c in (1, 2, 3, 4)] == [1, 1, 1, 2]
    assert s["w_pe_case2"] == pytest.approx(0.2) and s["w_mss_case3"] == pytest.approx(1.8)
    assert s["w_pe_case4"] == pytest.approx(1.8) and s["loss_pe"] == pytest.approx(2.0)
