"""Pitch metrics: agreement with mir_eval.melody on real MedleyDB annotations, known cent shifts, edge cases."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from majl_hf.evaluation import (
    METRIC_KEYS,
    aggregate_melody_metrics,
    densify_voiced_frames,
    melody_metrics,
)

mir_eval = pytest.importorskip("mir_eval")
import mir_eval.melody  # noqa: E402, F811  (importorskip gives the package; the submodule is loaded here)

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO / ".." / "shared" / "data"
MEDLEYDB = SHARED_DATA / "MedleyDB" / "Annotations"
MELODY1_CSV = MEDLEYDB / "Melody" / "Melody1" / "MusicDelta_80sRock_MELODY1.csv"
VOCAL_PITCH_CSV = MEDLEYDB / "Pitch" / "MusicDelta_80sRock_STEM_04.csv"
MEDLEYDB_HOP_S = 256 / 44100  # s: MedleyDB annotation hop

MIR_EVAL_KEYS = {"rpa": "Raw Pitch Accuracy", "rca": "Raw Chroma Accuracy", "oa": "Overall Accuracy",
                 "vr": "Voicing Recall", "vfa": "Voicing False Alarm"}


def _read_csv(path):
    """time, Hz[, extra] rows (MedleyDB; some Pitch rows carry a third column)."""
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    return np.array([float(r[0]) for r in rows]), np.array([float(r[1]) for r in rows])


@pytest.fixture(scope="module")
def medleydb():
    if not (MELODY1_CSV.is_file() and VOCAL_PITCH_CSV.is_file()):
        pytest.skip(f"shared MedleyDB annotations not found under {SHARED_DATA.resolve()}")
    melody_t, melody_f = _read_csv(MELODY1_CSV)
    pitch_t, pitch_f = _read_csv(VOCAL_PITCH_CSV)
    dense_t, dense_f = densify_voiced_frames(pitch_t, pitch_f, MEDLEYDB_HOP_S, end_s=melody_t[-1])
    return {"melody": (melody_t, melody_f), "pitch": (pitch_t, pitch_f), "dense": (dense_t, dense_f)}


def _direct(ref_t, ref_f, est_t, est_f, **kwargs):
    scores = mir_eval.melody.evaluate(ref_t, ref_f, est_t, est_f, hop=0.02, **kwargs)
    return {k: float(scores[name]) for k, name in MIR_EVAL_KEYS.items()}


def _perturb(times, f0):
    """Known damage on voiced frames: +30 c (kept), +70 c (lost), one octave up (chroma kept),
    unvoiced-with-a-guess (negative f0), dropped frames, and false alarms in the unvoiced gaps."""
    est = f0.copy()
    voiced = np.flatnonzero(f0 > 0)
    parts = np.array_split(voiced, 6)
    est[parts[0]] *= 2 ** (30 / 1200)
    est[parts[1]] *= 2 ** (70 / 1200)
    est[parts[2]] *= 2.0
    est[parts[3]] *= -1.0
    est[parts[4]] = 0.0
    unvoiced = np.flatnonzero(f0 == 0)
    est[unvoiced[::3]] = 300.0
    return est


def test_densify_voiced_frames_on_medleydb(medleydb):
    pitch_t, pitch_f = medleydb["pitch"]
    dense_t, dense_f = medleydb["dense"]
    melody_t, melody_f = medleydb["melody"]
    assert np.count_nonzero(dense_f) == pitch_t.size  # every listed frame kept, nothing invented
    assert dense_t[0] < MEDLEYDB_HOP_S and np.allclose(np.diff(dense_t), MEDLEYDB_HOP_S)
    # the cropped Pitch and Melody1 annotations share MedleyDB's grid (same excerpt offset)
    assert dense_t.size == melody_t.size and np.allclose(dense_t, melody_t, atol=1e-6)
    idx = np.searchsorted(dense_t, pitch_t - 1e-6)
    np.testing.assert_array_equal(dense_f[idx], pitch_f)


def test_melody1_against_vocal_stem_equals_mir_eval(medleydb):
    melody_t, melody_f = medleydb["melody"]
    dense_t, dense_f = medleydb["dense"]
    ours = melody_metrics(melody_t, melody_f, dense_t, dense_f)
    assert {k: ours[k] for k in METRIC_KEYS} == _direct(melody_t, melody_f, dense_t, dense_f)
    # in this excerpt Melody1 *is* the vocal line: perfect agreement
    assert ours["rpa"] == ours["rca"] == ours["oa"] == ours["vr"] == 1.0 and ours["vfa"] == 0.0
    assert ours["n_ref_voiced"] > 0 and ours["n_ref_unvoiced"] > 0 and ours["grid_s"] == 0.02


def test_perturbed_estimate_equals_mir_eval_on_real_annotations(medleydb):
    melody_t, melody_f = medleydb["melody"]
    dense_t, dense_f = medleydb["dense"]
    est_f = _perturb(dense_t, dense_f)
    ours = melody_metrics(melody_t, melody_f, dense_t, est_f)
    direct = _direct(melody_t, melody_f, dense_t, est_f)
    for key in METRIC_KEYS:
        assert ours[key] == pytest.approx(direct[key], abs=1e-12), key
    # and the damage shows where it should: ~3/6 of voiced frames in tune, ~4/6 in chroma
    assert 0.35 < ours["rpa"] < 0.65 and ours["rca"] > ours["rpa"] + 0.1
    assert 0.5 < ours["vr"] < 0.8 and 0.2 < ours["vfa"] < 0.5
    # continuous voicing as in mir_eval >= 0.6, and grid_s=None (estimate onto ref times)
    voicing = np.clip(np.abs(est_f) / 400.0, 0, 1)
    ours = melody_metrics(melody_t, melody_f, dense_t, np.abs(est_f), est_voicing=voicing)
    direct = _direct(melody_t, melody_f, dense_t, np.abs(est_f), est_voicing=voicing)
    assert {k: pytest.approx(direct[k], abs=1e-12) for k in METRIC_KEYS} == {k: ours[k] for k in METRIC_KEYS}
    no_grid = melody_metrics(melody_t, melody_f, dense_t, est_f, grid_s=None)
    scores = mir_eval.melody.evaluate(melody_t, melody_f, dense_t, est_f)
    assert no_grid["rpa"] == pytest.approx(scores["Raw Pitch Accuracy"], abs=1e-12)


@pytest.mark.parametrize(
    "cents, rpa, rca",
    [(30, 1.0, 1.0), (-30, 1.0, 1.0), (49, 1.0, 1.0), (70, 0.0, 0.0), (-70, 0.0, 0.0),
     (1200, 0.0, 1.0), (-1200, 0.0, 1.0), (1230, 0.0, 1.0), (2400, 0.0, 1.0), (1270, 0.0, 0.0)],
)
def test_known_cent_shift_of_the_real_vocal_line(medleydb, cents, rpa, rca):
    dense_t, dense_f = medleydb["dense"]
    shifted = dense_f * 2 ** (cents / 1200)  # 0 Hz stays 0: voicing unchanged
    scores = melody_metrics(dense_t, dense_f, dense_t, shifted)
    assert scores["rpa"] == rpa and scores["rca"] == rca
    assert scores["vr"] == 1.0 and scores["vfa"] == 0.0
    expected_oa = 1.0 if rpa else scores["n_ref_unvoiced"] / scores["n_frames"]
    assert scores["oa"] == pytest.approx(expected_oa)
    assert scores["rpa"] == _direct(dense_t, dense_f, dense_t, shifted)["rpa"]


def _synthetic_line(n=300, hop=0.01):
    """A 3 s vibrato line on a 10 ms grid with two unvoiced gaps."""
    t = np.arange(n) * hop
    f0 = 220.0 * 2 ** (np.sin(2 * np.pi * 5 * t) * 50 / 1200)
    f0[40:70] = 0.0
    f0[200:230] = 0.0
    return t, f0


@pytest.mark.parametrize("cents, rpa, rca", [(30, 1.0, 1.0), (70, 0.0, 0.0), (1200, 0.0, 1.0), (-1230, 0.0, 1.0)])
def test_known_cent_shift_synthetic(cents, rpa, rca):
    t, f0 = _synthetic_line()
    scores = melody_metrics(t, f0, t, f0 * 2 ** (cents / 1200))
    assert (scores["rpa"], scores["rca"], scores["vr"], scores["vfa"]) == (rpa, rca, 1.0, 0.0)


def test_all_unvoiced_reference_reports_undefined_metrics():
    t, f0 = _synthetic_line()
    scores = melody_metrics(t, np.zeros_like(f0), t, f0)
    for key in ("rpa", "rca", "vr"):
        assert scores[key] is None and "no voiced frame" in scores["undefined"][key]
    assert scores["n_ref_voiced"] == 0
    assert scores["vfa"] == pytest.approx(np.mean(f0 > 0), abs=0.02)  # every voiced estimate is a false alarm
    assert scores["oa"] == pytest.approx(1 - scores["vfa"])
    json.dumps(scores, allow_nan=False)
    # an all-unvoiced estimate of an all-unvoiced reference is right everywhere
    silent = melody_metrics(t, np.zeros_like(f0), t, np.zeros_like(f0))
    assert silent["oa"] == 1.0 and silent["vfa"] == 0.0 and silent["rpa"] is None


def test_all_voiced_reference_has_no_false_alarm_rate():
    t = np.arange(100) * 0.02
    f0 = np.full(100, 330.0)
    scores = melody_metrics(t, f0, t, f0)
    assert scores["vfa"] is None and "no unvoiced frame" in scores["undefined"]["vfa"]
    assert scores["rpa"] == 1.0


@pytest.mark.parametrize("which", ["ref_times", "ref_f0_hz", "est_times", "est_f0_hz", "est_voicing"])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_nan_or_inf_raises_naming_the_argument(which, bad_value):
    t, f0 = _synthetic_line()
    args = {"ref_times": t.copy(), "ref_f0_hz": f0.copy(), "est_times": t.copy(), "est_f0_hz": f0.copy(),
            "est_voicing": np.ones_like(f0)}
    args[which][5] = bad_value
    with pytest.raises(ValueError, match=rf"^{which} contains 1 NaN or Inf"):
        melody_metrics(**args)


def test_input_checks():
    t, f0 = _synthetic_line()
    with pytest.raises(ValueError, match="ref_times has 300 values but ref_f0_hz has 299"):
        melody_metrics(t, f0[:-1], t, f0)
    with pytest.raises(ValueError, match="est_times must be strictly increasing"):
        melody_metrics(t, f0, t[::-1], f0)
    with pytest.raises(ValueError, match="est_voicing must lie in"):
        melody_metrics(t, f0, t, f0, est_voicing=np.full_like(f0, 2.0))
    with pytest.raises(ValueError, match="grid_s"):
        melody_metrics(t, f0, t, f0, grid_s=0)
    with pytest.raises(ValueError, match="ref_times is empty"):
        melody_metrics(t[:0], f0[:0], t, f0)
    with pytest.raises(ValueError, match="not on a grid"):
        densify_voiced_frames([0.0, 0.013], [100.0, 100.0], hop_s=0.01)


def test_densify_voiced_frames_small_example():
    times, f0 = densify_voiced_frames([0.25, 0.26, 0.29], [100.0, 110.0, 120.0], hop_s=0.01, end_s=0.32)
    np.testing.assert_allclose(times, np.arange(33) * 0.01, atol=1e-12)
    expected = np.zeros(33)
    expected[[25, 26, 29]] = [100.0, 110.0, 120.0]
    np.testing.assert_array_equal(f0, expected)


def test_aggregation_is_frame_weighted_and_equals_pooled_frames():
    """On the 20 ms grid itself no resampling happens, so pooling the clips' frames is exact."""
    hop = 0.02
    rng = np.random.default_rng(0)
    clips = []
    for n, n_voiced in ((100, 80), (250, 60)):
        ref = np.where(np.arange(n) < n_voiced, 200.0 * 2 ** (rng.uniform(-2, 2, n) / 12), 0.0)
        est = ref * 2 ** (rng.normal(0, 60, n) / 1200)
        est[rng.random(n) < 0.1] = 0.0
        est[(ref == 0) & (rng.random(n) < 0.2)] = 180.0
        clips.append((np.arange(n) * hop, ref, est))
    per_clip = [melody_metrics(t, r, t, e) for t, r, e in clips]
    unvoiced_clip = melody_metrics(clips[0][0], np.zeros(100), clips[0][0], clips[0][2])
    agg = aggregate_melody_metrics(per_clip + [unvoiced_clip])
    t_all = np.arange(350) * hop
    pooled = melody_metrics(t_all, np.concatenate([c[1] for c in clips]), t_all, np.concatenate([c[2] for c in clips]))
    for key in ("rpa", "rca", "vr"):  # the unvoiced clip adds nothing to these
        assert agg[key] == pytest.approx(pooled[key], abs=1e-12), key
    assert agg["skipped"] == {"rpa": 1, "rca": 1, "vr": 1}
    # vfa/oa also count the unvoiced clip's frames
    per3 = per_clip + [unvoiced_clip]
    assert agg["vfa"] == pytest.approx(
        sum(c["vfa"] * c["n_ref_unvoiced"] for c in per3) / sum(c["n_ref_unvoiced"] for c in per3)
    )
    assert agg["oa"] == pytest.approx(sum(c["oa"] * c["n_frames"] for c in per3) / sum(c["n_frames"] for c in per3))
    assert agg["n_clips"] == 3 and agg["n_frames"] == sum(c["n_frames"] for c in per3)
    assert aggregate_melody_metrics([unvoiced_clip])["rpa"] is None
