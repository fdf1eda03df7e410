"""Same song, same answer: results do not depend on the recording's level (issue: quiet input gave
a different, wrong pitch). Real songs, the real separator (Spleeter's U-Net) with CREPE tiny."""

import warnings

import numpy as np
import pytest

from majl_hf.evaluation.level import level_sweep
from tests.conftest import EXAMPLE, shared_path


@pytest.fixture(scope="module")
def real_pipe():
    from transformers import pipeline

    import majl_hf
    from majl_hf.hub import is_cached

    if not is_cached(majl_hf.DEFAULT_MODEL_TINY):
        pytest.skip("the defaults are not in the HF cache: run python scripts/build_default.py")
    return pipeline("majl-vocal", model=majl_hf.DEFAULT_MODEL_TINY)


def _excerpt(path, seconds=6.0):
    from majl_hf.feature_extraction_majl import load_audio

    audio, info = load_audio(str(path))
    return audio[:, : int(seconds * info.sampling_rate)], info.sampling_rate


@pytest.mark.slow
@pytest.mark.parametrize("song", ["example", "medleydb_80srock"])
def test_level_sweep_gives_the_same_vocals_and_pitch(real_pipe, song):
    path = EXAMPLE if song == "example" else shared_path(
        "data", "MedleyDB", "Audio", "MusicDelta_80sRock", "MusicDelta_80sRock_MIX.wav")
    audio, sr = _excerpt(path)
    rows = level_sweep(real_pipe, audio, sr)
    for row in rows:
        print(row)
        assert row["pitch_agreement"] >= 0.95, row
        assert row["vocals_snr_db"] >= 30.0, row


@pytest.mark.slow
def test_without_normalisation_quiet_input_changes_the_result(real_pipe):
    """The check above can fail: with normalisation off the −40 dB vocals differ (the old behaviour)."""
    audio, sr = _excerpt(EXAMPLE)
    rows = level_sweep(real_pipe, audio, sr, gains_db=(-40.0, 0.0), normalize_level=False)
    assert rows[0]["vocals_snr_db"] < 30.0


def test_far_above_full_scale_input_warns(tiny_pipe_for_level):
    x = (100 * np.sin(np.linspace(0, 2000, 44100))).astype(np.float32)[None].repeat(2, 0)
    with pytest.warns(UserWarning, match="full scale"):
        tiny_pipe_for_level(x, sampling_rate=44100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny_pipe_for_level(x / 200, sampling_rate=44100)


@pytest.fixture(scope="module")
def tiny_pipe_for_level(tiny_model_dir):
    from transformers import pipeline

    import majl_hf  # noqa: F401

    return pipeline("majl-vocal", model=str(tiny_model_dir))
