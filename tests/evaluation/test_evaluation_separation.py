"""Separation metrics: agreement with mir_eval and museval, closed forms, and the edge cases."""

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from majl_hf.evaluation import (
    MusevalScore,
    NsdrScore,
    SdrScore,
    bss_eval_sdr,
    energy_ratio_sdr,
    gnsdr,
    gsdr,
    is_silent,
    museval_median_sdr,
    museval_sdr,
    nsdr,
)
from majl_hf.evaluation import separation as separation_module

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO / ".." / "shared" / "data"
MUSDB_TRACK = SHARED_DATA / "MUSDB18-HQ" / "train" / "Music Delta - 80s Rock"
MUSEVAL_JSON = SHARED_DATA / "MUSDB18" / "museval_reference" / "Music Delta - 80s Rock.json"


def _mir_eval_separation():
    mir_eval = pytest.importorskip("mir_eval")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import mir_eval.separation as separation
    return mir_eval, separation


def _signals(n=8000, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 8000.0
    vocals = np.stack(
        [np.sin(2 * np.pi * (220 + 30 * c) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) for c in range(channels)]
    )
    accompaniment = 0.5 * rng.standard_normal((channels, n))
    estimate = vocals + 0.2 * accompaniment + 0.05 * rng.standard_normal((channels, n))
    return vocals, accompaniment, estimate


def _load_musdb_track():
    sf = pytest.importorskip("soundfile")
    if not MUSDB_TRACK.is_dir() or not MUSEVAL_JSON.is_file():
        pytest.skip(f"shared MUSDB18 sample data not found under {SHARED_DATA.resolve()}")
    stems = {}
    for name in ("mixture", "vocals", "drums", "bass", "other"):
        audio, rate = sf.read(MUSDB_TRACK / f"{name}.wav", always_2d=True)
        assert rate == 44100
        stems[name] = audio  # (samples, channels), as musdb's track.audio
    return stems


# ------------------------------------------------------------------------------ agreement with mir_eval


def test_bss_eval_sdr_mono_equals_mir_eval_bss_eval_sources():
    _, separation = _mir_eval_separation()
    vocals, _, estimate = _signals()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        expected = separation.bss_eval_sources(vocals, estimate)[0][0]
    score = bss_eval_sdr(vocals[0], estimate[0])  # 1-D input = mono
    assert score.ok and score.method == "bss_eval_sources" and score.n_samples == vocals.shape[1]
    assert score.sdr == pytest.approx(expected, abs=1e-10)
    assert bss_eval_sdr(vocals, estimate).sdr == pytest.approx(expected, abs=1e-10)  # (1, samples)


def test_bss_eval_sdr_stereo_equals_mir_eval_bss_eval_images():
    _, separation = _mir_eval_separation()
    vocals, _, estimate = _signals(channels=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        expected = separation.bss_eval_images(vocals.T[None], estimate.T[None])[0][0]
    score = bss_eval_sdr(vocals, estimate)
    assert score.method == "bss_eval_images"
    assert score.sdr == pytest.approx(expected, abs=1e-10)
    with pytest.raises(ValueError, match="mode='sources' needs mono"):
        bss_eval_sdr(vocals, estimate, mode="sources")


def test_bss_eval_sdr_on_real_musdb_audio_equals_mir_eval():
    _, separation = _mir_eval_separation()
    stems = _load_musdb_track()
    vocals = stems["vocals"][:44100].T  # first second, (2, samples)
    mixture = stems["mixture"][:44100].T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        expected = separation.bss_eval_images(vocals.T[None], mixture.T[None])[0][0]
    assert bss_eval_sdr(vocals, mixture).sdr == pytest.approx(expected, abs=1e-10)


def test_vocal_sdr_does_not_depend_on_the_accompaniment_reference():
    """Why bss_eval_sdr passes the vocals alone: BSS Eval's SDR of a source ignores the other sources."""
    _, separation = _mir_eval_separation()
    vocals, accompaniment, estimate = _signals(n=4000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        both = separation.bss_eval_sources(
            np.concatenate([vocals, accompaniment]),
            np.concatenate([estimate, accompaniment + 0.1 * vocals]),
            compute_permutation=False,
        )[0]
    assert bss_eval_sdr(vocals, estimate).sdr == pytest.approx(both[0], abs=1e-8)


# ------------------------------------------------------------------------------ closed forms


def test_energy_ratio_sdr_closed_form():
    n = 1000  # ten whole periods of a 100-sample cosine
    t = np.arange(n)
    s = np.cos(2 * np.pi * t / 100)
    e = np.sin(2 * np.pi * t / 100)  # orthogonal to s, same energy n/2
    for a in (0.1, 0.5, 2.0):
        assert energy_ratio_sdr(s, s + a * e).sdr == pytest.approx(-20 * math.log10(a), abs=1e-9)
    # a gain error is an error: ||s||^2 / ||0.1 s||^2 = 100 -> 20 dB, over both channels of a stereo pair
    stereo = np.stack([s, 0.5 * e])
    assert energy_ratio_sdr(stereo, 0.9 * stereo).sdr == pytest.approx(20.0, abs=1e-9)
    # against the formula written out, with eps
    rng = np.random.default_rng(1)
    ref, est = rng.standard_normal((2, 500)), rng.standard_normal((2, 500))
    expected = 10 * math.log10((np.sum(ref**2) + 1e-3) / (np.sum((ref - est) ** 2) + 1e-3))
    assert energy_ratio_sdr(ref, est, eps=1e-3).sdr == pytest.approx(expected, abs=1e-12)
    # a zero estimate: ||s||^2/||s||^2 = 0 dB; a perfect one: +inf, reported as a status
    assert energy_ratio_sdr(s, np.zeros(n)).sdr == pytest.approx(0.0, abs=1e-12)
    perfect = energy_ratio_sdr(s, s)
    assert perfect.sdr is None and perfect.status == "perfect_estimate"
    assert energy_ratio_sdr(s, s, eps=1e-8).sdr > 100


def test_nsdr_is_sdr_of_estimate_minus_sdr_of_mixture():
    vocals, accompaniment, estimate = _signals(n=4000)
    mixture = vocals + accompaniment
    score = nsdr(vocals, estimate, mixture)
    assert isinstance(score, NsdrScore) and score.ok
    assert score.sdr == pytest.approx(bss_eval_sdr(vocals, estimate).sdr, abs=1e-12)
    assert score.sdr_mixture == pytest.approx(bss_eval_sdr(vocals, mixture).sdr, abs=1e-12)
    assert score.nsdr == pytest.approx(score.sdr - score.sdr_mixture, abs=1e-12)
    # energy ratio: leaving 10% of the accompaniment in is exactly a 20 dB improvement
    er = nsdr(vocals, vocals + 0.1 * accompaniment, mixture, method="energy_ratio")
    assert er.nsdr == pytest.approx(20.0, abs=1e-9)


def test_gnsdr_and_gsdr_are_length_weighted_and_skip_silent_clips():
    scores = [
        NsdrScore(nsdr=10.0, sdr=12.0, sdr_mixture=2.0, n_samples=1000),
        NsdrScore(nsdr=4.0, sdr=5.0, sdr_mixture=1.0, n_samples=3000),
        NsdrScore(None, None, None, status="silent_reference", n_samples=5000, reason="silent"),
    ]
    g = gnsdr(scores)
    assert g["gnsdr"] == pytest.approx((10 * 1000 + 4 * 3000) / 4000)
    assert (g["n_clips"], g["n_scored"], g["n_skipped"]) == (3, 2, 1)
    assert g["skipped"] == {"silent_reference": 1}
    s = gsdr(scores)
    assert s["sdr"] == pytest.approx((12 * 1000 + 5 * 3000) / 4000) and s["skipped"] == {"silent_reference": 1}
    # bare floats need lengths (seconds are fine: only ratios matter); None = no score
    g = gnsdr([10.0, 4.0, None], lengths=[1.0, 3.0, 2.0])
    assert g["gnsdr"] == pytest.approx(5.5) and g["n_skipped"] == 1
    with pytest.raises(ValueError, match="lengths"):
        gnsdr([10.0, 4.0])
    with pytest.raises(ValueError, match="entries"):
        gnsdr([10.0], lengths=[1.0, 2.0])
    # dicts, e.g. read back from JSON
    assert gsdr([SdrScore(3.0, n_samples=10).to_dict()])["sdr"] == 3.0
    assert gnsdr([])["gnsdr"] is None


# ------------------------------------------------------------------------------ museval


def test_museval_sdr_reproduces_museval_stored_reference_json():
    """museval's regression test (sigsep-mus-eval tests/test_regression.py::test_track_scores) scores
    uniform noise, ``np.random.seed(0); np.random.random(track.audio.shape)`` for vocals then for
    accompaniment, with eval_mus_track (v4, 1 s windows). The same noise on the MUSDB18-HQ decode of
    that track gives the stored per-second SDR/SIR/SAR/ISR to the JSON's 5 decimals."""
    stems = _load_musdb_track()
    reference = json.loads(MUSEVAL_JSON.read_text())
    accompaniment = stems["drums"] + stems["bass"] + stems["other"]  # musdb's "accompaniment" target
    np.random.seed(0)
    random_voc = np.random.random(stems["mixture"].shape)
    random_acc = np.random.random(stems["mixture"].shape)
    scores = museval_sdr(
        {"vocals": stems["vocals"].T, "accompaniment": accompaniment.T},
        {"vocals": random_voc.T, "accompaniment": random_acc.T},
        win=1.0,
        hop=1.0,
        sampling_rate=44100,
    )
    assert list(scores) == ["vocals", "accompaniment"]
    for target in reference["targets"]:
        got = scores[target["name"]]
        assert isinstance(got, MusevalScore) and got.ok and got.n_frames == len(target["frames"])
        for metric in ("SDR", "SIR", "SAR", "ISR"):
            expected = np.array([frame["metrics"][metric] for frame in target["frames"]])
            np.testing.assert_allclose(got.frames[metric], expected, atol=2e-5, rtol=0)
        ref_sdr = [frame["metrics"]["SDR"] for frame in target["frames"]]
        assert got.sdr == pytest.approx(np.median(ref_sdr), abs=2e-5)  # median over windows
    # the vocals' SDR is the same when the vocals are scored alone
    alone = museval_sdr(stems["vocals"].T, random_voc.T)["vocals"]
    np.testing.assert_allclose(alone.frames["SDR"], scores["vocals"].frames["SDR"], atol=1e-9)
    json.dumps({k: v.to_dict() for k, v in scores.items()})  # JSON-friendly


def test_museval_silent_windows_and_silent_reference():
    rate = 4000
    rng = np.random.default_rng(3)
    vocals = rng.standard_normal((1, 3 * rate))
    vocals[:, :rate] = 0.0  # first window silent
    estimate = vocals + 0.1 * rng.standard_normal(vocals.shape)
    score = museval_sdr(vocals, estimate, sampling_rate=rate)["vocals"]
    assert score.ok and score.n_frames == 3 and score.n_nan_frames == 1
    assert score.frames["SDR"][0] is None
    assert score.sdr == pytest.approx(np.median(score.frames["SDR"][1:]))
    # a silent target is reported, not scored; the others still are
    out = museval_sdr(
        {"vocals": np.zeros((1, 3 * rate)), "accompaniment": estimate},
        {"vocals": estimate, "accompaniment": estimate + 0.01},
        sampling_rate=rate,
    )
    assert out["vocals"].status == "silent_reference" and out["vocals"].sdr is None
    assert out["accompaniment"].ok
    agg = museval_median_sdr([out["vocals"], score, MusevalScore("vocals", 1.0), 5.0])
    assert agg["sdr"] == pytest.approx(np.median([score.sdr, 1.0, 5.0]))
    assert agg["n_skipped"] == 1 and agg["skipped"] == {"silent_reference": 1}


def test_museval_checks_its_inputs():
    x = np.random.default_rng(0).standard_normal((2, 8000))
    with pytest.raises(ValueError, match="lack target"):
        museval_sdr({"vocals": x, "accompaniment": x}, {"vocals": x}, sampling_rate=4000)
    bad = x.copy()
    bad[0, 5] = np.nan
    with pytest.raises(ValueError, match=r"estimates\['vocals'\]"):
        museval_sdr({"vocals": x}, {"vocals": bad}, sampling_rate=4000)
    with pytest.raises(ValueError, match="lengths differ"):
        museval_sdr(x, x[:, :-10], sampling_rate=4000)
    with pytest.raises(ValueError, match="win"):
        museval_sdr(x, x, win=0, sampling_rate=4000)


# ------------------------------------------------------------------------------ edge cases


def test_silent_reference_has_no_sdr_and_is_not_counted():
    rng = np.random.default_rng(0)
    silent = np.zeros((2, 4000))
    estimate = rng.standard_normal((2, 4000))
    for score in (
        bss_eval_sdr(silent, estimate),
        energy_ratio_sdr(silent, estimate),
        nsdr(silent, estimate, estimate),
    ):
        assert score.status == "silent_reference"
        assert "silent" in score.reason
        json.dumps(score.to_dict(), allow_nan=False)  # no inf / nan anywhere
    assert bss_eval_sdr(silent, estimate).sdr is None
    assert nsdr(silent, estimate, estimate).nsdr is None
    assert is_silent(silent) and not is_silent(estimate)
    # a threshold: PCM16-level hiss counts as silence only if asked
    hiss = 1e-6 * rng.standard_normal((1, 4000))
    assert bss_eval_sdr(hiss, estimate[:1]).ok
    assert bss_eval_sdr(hiss, estimate[:1], silent_rms=1e-5).status == "silent_reference"


def test_silent_estimate_is_reported_for_bss_eval():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(4000)
    score = bss_eval_sdr(ref, np.zeros(4000))
    assert score.status == "silent_estimate" and score.sdr is None
    assert gsdr([score, SdrScore(5.0, n_samples=4000)])["skipped"] == {"silent_estimate": 1}
    # mir_eval calls a stereo signal whose channels cancel (L = -R) silent: reported, not raised
    anti_phase = bss_eval_sdr(np.stack([ref, ref + 0.1]), np.stack([ref, -ref]))
    assert anti_phase.status == "silent_estimate" and "mir_eval refused" in anti_phase.reason


def test_length_mismatch_raises_unless_allowed():
    vocals, _, estimate = _signals(n=4000)
    with pytest.raises(ValueError, match=r"lengths differ \(reference: 4000, estimate: 3900"):
        bss_eval_sdr(vocals, estimate[:, :3900])
    with pytest.raises(ValueError, match="allow_length_mismatch"):
        energy_ratio_sdr(vocals, estimate[:, :3900])
    with pytest.warns(UserWarning, match="cropping"):
        cropped = bss_eval_sdr(vocals, estimate[:, :3900], allow_length_mismatch=True)
    assert cropped.n_samples == 3900
    assert cropped.sdr == pytest.approx(bss_eval_sdr(vocals[:, :3900], estimate[:, :3900]).sdr, abs=1e-12)
    with pytest.warns(UserWarning):
        assert nsdr(vocals, estimate, vocals[:, :3000] + 1, allow_length_mismatch=True).n_samples == 3000


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("which", ["reference", "estimate", "mixture"])
def test_nan_or_inf_input_raises_naming_the_argument(which, bad_value):
    vocals, accompaniment, estimate = _signals(n=2000)
    args = {"reference": vocals.copy(), "estimate": estimate.copy(), "mixture": vocals + accompaniment}
    args[which][0, 10] = bad_value
    with pytest.raises(ValueError, match=rf"^{which} contains 1 NaN or Inf"):
        nsdr(args["reference"], args["estimate"], args["mixture"])
    if which != "mixture":
        with pytest.raises(ValueError, match=rf"^{which} contains"):
            bss_eval_sdr(args["reference"], args["estimate"])
        with pytest.raises(ValueError, match=rf"^{which} contains"):
            energy_ratio_sdr(args["reference"], args["estimate"])


def test_shape_checks():
    x = np.random.default_rng(0).standard_normal((2, 1000))
    with pytest.raises(ValueError, match="channel counts differ"):
        bss_eval_sdr(x, x[:1])
    with pytest.raises(ValueError, match=r"pass estimate\.T"):
        bss_eval_sdr(x, x.T)  # soundfile layout by mistake
    with pytest.raises(ValueError, match="empty"):
        energy_ratio_sdr(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="mode must be one of"):
        bss_eval_sdr(x, x, mode="v4")


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mir_eval", None)  # makes `import mir_eval` fail
    monkeypatch.delitem(sys.modules, "mir_eval.separation", raising=False)
    vocals, _, estimate = _signals(n=1000)
    with pytest.raises(ImportError, match=r"pip install 'majl_hf\[eval\]'"):
        bss_eval_sdr(vocals, estimate)
    monkeypatch.setitem(sys.modules, "museval", None)
    separation_module._museval_metrics.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"pip install 'majl_hf\[eval\]'"):
            museval_sdr(vocals, estimate, sampling_rate=1000)
    finally:
        separation_module._museval_metrics.cache_clear()


def test_importing_the_package_does_not_import_metric_libraries():
    code = (
        "import sys, majl_hf.evaluation as e; "
        "print(sorted(m for m in ('mir_eval', 'museval', 'evaluate') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
