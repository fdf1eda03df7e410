"""Pitch utilities: layouts, targets, decoding, MIR-1K labels."""

import numpy as np
import pytest
import torch

from majl_hf import CrepeConfig, HarmoF0Config
from majl_hf.pitch import (
    cents_difference,
    cents_to_hz,
    decode_f0,
    f0_to_targets,
    frame_confidence,
    hz_to_cents,
    midi_to_hz,
    read_mir1k_pv,
    resample_f0,
)
from tests.conftest import harmonic_tone, shared_path

LAYOUTS = {"crepe": CrepeConfig().pitch_bins, "harmof0": HarmoF0Config().pitch_bins}


def test_crepe_layout_matches_the_spec():
    bins = LAYOUTS["crepe"]
    assert bins.n_bins == 360
    assert bins.fmin_hz == pytest.approx(31.70, abs=0.01)
    assert bins.fmax_hz == pytest.approx(2005.5, abs=0.1)
    assert LAYOUTS["harmof0"].n_bins == 352
    assert LAYOUTS["harmof0"].fmin_hz == pytest.approx(27.5)


def test_hz_cents_round_trip():
    f = np.array([32.0, 55.0, 220.0, 440.0, 1975.5])
    np.testing.assert_allclose(cents_to_hz(hz_to_cents(f)), f, rtol=1e-12)
    assert hz_to_cents(20.0) == pytest.approx(1200.0)
    assert midi_to_hz(69) == pytest.approx(440.0)
    assert midi_to_hz(0) == 0.0


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("sigma", [25.0, 0.0])
def test_targets_decode_back_within_5_cents(layout, sigma):
    bins = LAYOUTS[layout]
    rng = np.random.default_rng(0)
    f0 = np.exp(rng.uniform(np.log(bins.fmin_hz * 1.05), np.log(min(bins.fmax_hz, 1900) * 0.95), 200))
    f0[::7] = 0.0
    targets = f0_to_targets(torch.tensor(f0), bins, sigma)
    assert targets.shape == (200, bins.n_bins)
    assert torch.all(targets[::7] == 0)
    est, conf, voiced = decode_f0(targets, bins, threshold=0.5)
    voiced_ref = f0 > 0
    assert np.array_equal(voiced.numpy(), voiced_ref)
    err = np.abs(cents_difference(est.numpy()[voiced_ref], f0[voiced_ref]))
    limit = 5.0 if sigma > 0 else bins.cents_per_bin / 2 + 1e-6  # one-hot: quantised to the bin
    assert err.max() <= limit


@pytest.mark.parametrize("decoder", ["weighted_average", "argmax", "viterbi"])
def test_decoders_on_harmonic_tones(decoder):
    """Harmonic tones at known f0 across the range → targets via their true f0; each decoder
    returns the pitch within 5 cents (argmax: half a bin)."""
    bins = LAYOUTS["crepe"]
    f0s = [55.0, 110.0, 196.0, 261.63, 440.0, 659.25, 987.77, 1500.0]
    for f0 in f0s:
        x = harmonic_tone(f0, 0.2)
        assert np.abs(np.fft.rfft(x)).argmax() * 16000 / len(x) == pytest.approx(f0, rel=0.03)
    # frames per tone; Viterbi moves at most 12 bins per frame and, being non-causal, starts moving
    # before a jump: check the middle third of each tone
    hold = 30
    track = torch.tensor(np.repeat(f0s, hold))
    est, _, voiced = decode_f0(f0_to_targets(track, bins, 25.0), bins, decoder=decoder)
    settled = np.tile((np.arange(hold) >= 10) & (np.arange(hold) < 20), len(f0s))
    err = np.abs(cents_difference(est.numpy(), track.numpy()))[settled]
    assert voiced.all()
    assert err.max() <= (10.0 if decoder == "argmax" else 5.0)


def test_voicing_threshold_and_confidence():
    act = torch.zeros(3, 360)
    act[0, 100] = 0.9
    act[1, 100] = 0.3
    f0, conf, voiced = decode_f0(act, LAYOUTS["crepe"], threshold=0.5)
    assert voiced.tolist() == [True, False, False]
    assert f0[1] == 0 and f0[0] > 0
    torch.testing.assert_close(frame_confidence(act), torch.tensor([0.9, 0.7, 1.0]))
    with pytest.raises(ValueError, match="threshold"):
        decode_f0(act, LAYOUTS["crepe"], threshold=2.0)
    with pytest.raises(ValueError, match="decoder"):
        decode_f0(act, LAYOUTS["crepe"], decoder="mode")


def test_mir1k_pv_converts_to_hz_at_frame_centres():
    path = shared_path("data", "MIR-1K", "PitchLabel", "amy_3_01.pv")
    times, f0 = read_mir1k_pv(path)
    raw = np.array([float(v) for v in path.read_text().split()])
    assert len(times) == len(raw) == 199
    assert times[0] == pytest.approx(0.02) and times[1] == pytest.approx(0.04)
    first_voiced = np.flatnonzero(f0 > 0)[0]
    # frame i covers [0.02 i, 0.02 i + 0.04] s: the first voiced frame starts at 2.08 s, centre 2.10 s
    assert first_voiced == 104
    assert times[first_voiced] - 0.02 == pytest.approx(2.08)
    # semitone → Hz exactly: 440 · 2^((m − 69) / 12)
    np.testing.assert_allclose(f0[raw > 0], 440.0 * 2 ** ((raw[raw > 0] - 69) / 12), rtol=1e-12)
    assert f0[first_voiced] == pytest.approx(440.0 * 2 ** ((raw[first_voiced] - 69) / 12))
    assert 200 < f0[first_voiced] < 300  # 59.7 semitones ≈ 254 Hz


def test_malformed_pv_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.pv"
    bad.write_text("0\n60.5\nabc\n")
    with pytest.raises(ValueError, match=r"x.pv:3"):
        read_mir1k_pv(bad)
    with pytest.raises(FileNotFoundError):
        read_mir1k_pv(tmp_path / "missing.pv")


def test_resample_f0_interpolates_in_cents_and_keeps_voicing():
    t = np.array([0.0, 0.01, 0.02, 0.03])
    f = np.array([100.0, 200.0, 0.0, 400.0])
    out = resample_f0(t, f, np.array([0.005, 0.0149, 0.021, 0.05]))
    assert out[0] == pytest.approx(100 * 2**0.5)  # halfway in cents
    assert out[2] == 0.0 and out[3] == 0.0
    assert out[1] > 0
