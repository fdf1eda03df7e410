"""The majl-vocal pipeline: inputs of every kind, outputs in the input's shape, bad input errors."""

import io
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import pipeline

import majl_hf  # noqa: F401  (registers the task)
from majl_hf.feature_extraction_majl import AudioInputError
from tests.conftest import shared_path
from tests.pipelines.conftest import EXAMPLE

KEYS = {"vocals", "accompaniment", "sampling_rate", "f0_hz", "times_s", "confidence", "voiced"}


@pytest.fixture(scope="module")
def pipe(tiny_model_dir):
    return pipeline("majl-vocal", model=str(tiny_model_dir), device="cpu")


def tone(sr, seconds, channels=2, f0=220.0):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * f0 * t).astype(np.float32)
    return np.stack([x * (1 - 0.2 * c) for c in range(channels)])


def check_result(r, sr, channels, samples):
    assert KEYS <= set(r)
    assert r["sampling_rate"] == sr
    assert r["vocals"].shape == (channels, samples) and r["vocals"].dtype == np.float32
    assert r["accompaniment"].shape == (channels, samples)
    assert np.isfinite(r["vocals"]).all()
    n = len(r["times_s"])
    assert r["f0_hz"].shape == r["confidence"].shape == r["voiced"].shape == (n,)
    assert n == 1 + int(samples / sr * 16000) // 320  # the PE's 20 ms grid over the whole input
    assert np.all(r["f0_hz"][~r["voiced"]] == 0)


def test_three_lines_on_the_bundled_example(pipe):
    r = pipe(str(EXAMPLE))
    info = sf.info(str(EXAMPLE))
    check_result(r, 44100, 2, info.frames)
    assert pipe.model.training is False


def test_every_input_kind_gives_the_same_result(pipe):
    x = tone(44100, 1.0)
    by_array = pipe(x, sampling_rate=44100)
    by_tensor = pipe(torch.from_numpy(x), sampling_rate=44100)
    by_dict = pipe({"array": x, "sampling_rate": 44100})
    by_raw = pipe({"raw": x.T, "sampling_rate": 44100})  # (samples, channels) is accepted too
    buf = io.BytesIO()
    sf.write(buf, x.T, 44100, format="WAV", subtype="FLOAT")
    by_bytes = pipe(buf.getvalue())
    for other in (by_tensor, by_dict, by_raw, by_bytes):
        np.testing.assert_allclose(other["vocals"], by_array["vocals"], atol=1e-6)
        np.testing.assert_array_equal(other["voiced"], by_array["voiced"])


def test_list_input_gives_a_list(pipe):
    out = pipe([{"array": tone(22050, 0.5, 1), "sampling_rate": 22050}, str(EXAMPLE)], batch_size=2)
    assert isinstance(out, list) and len(out) == 2
    check_result(out[0], 22050, 1, 11025)


@pytest.mark.parametrize("sr", [8000, 11025, 96000])
def test_any_sample_rate_comes_back_at_that_rate(pipe, sr):
    r = pipe(tone(sr, 0.7, 2), sampling_rate=sr)
    check_result(r, sr, 2, int(sr * 0.7))


def test_mono_stays_mono(pipe):
    r = pipe(tone(16000, 0.5, 1)[0], sampling_rate=16000)
    check_result(r, 16000, 1, 8000)


def test_six_channels_are_downmixed_with_a_warning(pipe):
    with pytest.warns(UserWarning, match="6 channels downmixed to mono"):
        r = pipe(tone(44100, 0.5, 6), sampling_rate=44100)
    check_result(r, 44100, 1, 22050)


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float64, np.uint8])
def test_integer_and_double_arrays(pipe, dtype):
    x = tone(44100, 0.5)
    ref = pipe(x, sampling_rate=44100)
    if dtype == np.float64:
        y = x.astype(np.float64)
    elif dtype == np.uint8:
        y = np.round(x * 127 + 128).astype(np.uint8)
    else:
        y = np.round(x * np.iinfo(dtype).max).astype(dtype)
    r = pipe(y, sampling_rate=44100)
    tol = 2e-2 if dtype == np.uint8 else 1e-3
    np.testing.assert_allclose(r["vocals"], ref["vocals"], atol=tol)


def test_missing_file(pipe, tmp_path):
    with pytest.raises(AudioInputError, match="no such file"):
        pipe(str(tmp_path / "nope.wav"))


def test_corrupt_file(pipe, tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(AudioInputError, match="not an audio file we can decode"):
        pipe(str(bad))


def test_truncated_file_gives_a_clear_error_or_a_correct_result(pipe, tmp_path):
    x = tone(44100, 1.0)
    for fmt, ext in (("WAV", "wav"), ("FLAC", "flac")):
        full = tmp_path / f"full.{ext}"
        sf.write(full, x.T, 44100, format=fmt)
        cut = tmp_path / f"cut.{ext}"
        cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        try:
            r = pipe(str(cut))
        except AudioInputError as err:
            assert "cut." in str(err)
        else:  # what could be decoded, consistently shaped
            assert 0 < r["vocals"].shape[-1] <= 44100
            assert np.isfinite(r["vocals"]).all()


def test_empty_inputs(pipe, tmp_path):
    with pytest.raises(AudioInputError, match="empty"):
        pipe(np.zeros((2, 0), np.float32), sampling_rate=44100)
    with pytest.raises(AudioInputError, match="empty"):
        pipe(b"")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 2), np.float32), 44100)
    with pytest.raises(AudioInputError):
        pipe(str(empty))


def test_silent_audio_gives_an_empty_f0_track(pipe):
    r = pipe(np.zeros((2, 44100), np.float32), sampling_rate=44100)
    assert not r["voiced"].any()
    assert np.all(r["f0_hz"] == 0)
    assert np.all(r["vocals"] == 0)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_and_inf_are_refused(pipe, value):
    x = tone(44100, 0.2)
    x[0, 100] = value
    with pytest.raises(AudioInputError, match="NaN/Inf"):
        pipe(x, sampling_rate=44100)


def test_bad_options_say_what_to_do(pipe):
    x = tone(44100, 0.2)
    with pytest.raises(ValueError, match="decoder"):
        pipe(x, sampling_rate=44100, decoder="mode")
    with pytest.raises(ValueError, match="voicing_threshold"):
        pipe(x, sampling_rate=44100, voicing_threshold=1.5)
    with pytest.raises(ValueError, match="chunk_length_s"):
        pipe(x, sampling_rate=44100, chunk_length_s=-1)
    with pytest.raises(TypeError, match="unknown option"):
        pipe(x, sampling_rate=44100, hop=3)
    with pytest.raises(AudioInputError, match="sampling_rate"):
        pipe(x)  # an array without its rate


def test_options_change_what_they_should(pipe):
    x = tone(44100, 1.0)
    a = pipe(x, sampling_rate=44100, voicing_threshold=0.0)
    b = pipe(x, sampling_rate=44100, voicing_threshold=1.0)
    assert a["voiced"].all() and not b["voiced"].any()
    c = pipe(x, sampling_rate=44100, return_accompaniment=False)
    assert "accompaniment" not in c
    for decoder in ("argmax", "viterbi"):
        d = pipe(x, sampling_rate=44100, decoder=decoder, voicing_threshold=0.0)
        assert (d["f0_hz"] > 0).all()


def test_chunked_equals_unchunked(pipe):
    x = tone(44100, 4.0) + 0.05 * np.random.default_rng(0).standard_normal((2, 176400)).astype(np.float32)
    whole = pipe(x, sampling_rate=44100, chunk_length_s=0)
    chunked = pipe(x, sampling_rate=44100, chunk_length_s=0.5, batch_size=1)
    np.testing.assert_allclose(chunked["vocals"], whole["vocals"], atol=1e-4)
    np.testing.assert_allclose(chunked["accompaniment"], whole["accompaniment"], atol=1e-4)
    both = whole["voiced"] & chunked["voiced"]
    np.testing.assert_array_equal(whole["voiced"], chunked["voiced"])
    cents = 1200 * np.abs(np.log2(chunked["f0_hz"][both] / whole["f0_hz"][both]))
    assert cents.max(initial=0) < 1.0


def test_pipeline_output_matches_model_forward(pipe):
    """The pipeline (streamed STFT, blockwise resampling, batched frames) is the model's forward."""
    x = tone(44100, 2.0)
    # forward() has no level normalisation: compare at the input's own level
    r = pipe(x, sampling_rate=44100, voicing_threshold=0.0, normalize_level=False)
    with torch.no_grad():
        out = pipe.model(torch.from_numpy(x)[None])
    np.testing.assert_allclose(r["vocals"], out.vocals[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(r["confidence"], out.pitch_probabilities[0].max(-1).values.numpy(), atol=1e-5)


@pytest.mark.slow
def test_one_hour_of_audio(tiny_mono_model_dir, tmp_path):
    """An hour-long file goes through in bounded chunks (8 kHz mono to keep CI time down; an 8 kHz
    mono separator keeps the test process under 2 GB: at 44.1 kHz stereo each hour-long signal is 1.3 GB)."""
    sr = 8000
    path = tmp_path / "hour.flac"
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", sr, 1, format="FLAC") as f:
        for _ in range(60):
            f.write((0.1 * rng.standard_normal(sr * 60)).astype(np.float32))
    p = pipeline("majl-vocal", model=str(tiny_mono_model_dir))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = p(str(path), return_accompaniment=False, vocal_gate_db=-20.0)
    assert r["vocals"].shape == (1, 3600 * sr)
    assert len(r["times_s"]) == 1 + 3600 * 16000 // 320
    # an hour of noise through a random network has no pitch for the Viterbi paths to meet on: the
    # stream settles them every 10 min (bounded memory) and says so; nothing else is warned about
    assert [str(w.message).split(": ", 1)[1][:40] for w in caught] == ["the Viterbi paths did not meet for 600 s"]


def test_bfloat16_model_dtype(tiny_model_dir):
    """dtype=torch.bfloat16 runs the networks in bf16; spectra, masks and outputs stay float32."""
    x = tone(44100, 1.0)
    ref = pipeline("majl-vocal", model=str(tiny_model_dir))(x, sampling_rate=44100)
    p = pipeline("majl-vocal", model=str(tiny_model_dir), dtype=torch.bfloat16)
    assert next(p.model.parameters()).dtype == torch.bfloat16
    r = p(x, sampling_rate=44100)
    assert r["vocals"].dtype == np.float32
    np.testing.assert_allclose(r["vocals"], ref["vocals"], atol=0.02)
    assert np.abs(r["confidence"] - ref["confidence"]).max() < 0.05


def test_one_bad_item_in_a_list_loses_no_good_result(pipe, tmp_path):
    """transformers' convention (a list in, a list out, in order) without losing the good results."""
    from majl_hf.pipelines.majl_vocal import MajlBatchError

    bad = tmp_path / "corrupt.mp3"
    bad.write_text("not audio")
    good = {"array": tone(22050, 0.5, 1), "sampling_rate": 22050}
    with pytest.raises(MajlBatchError, match="1 of 2 inputs failed") as info:
        pipe([good, str(bad)])
    assert info.value.results[1] is None and set(info.value.errors) == {1}
    check_result(info.value.results[0], 22050, 1, 11025)
    out = pipe([good, str(bad)], errors="return")
    assert "error" in out[1] and "not an audio file" in out[1]["error"]
    check_result(out[0], 22050, 1, 11025)


@pytest.mark.parametrize("options", [{}, {"voicing": "paper", "decoder": "viterbi"},
                                     {"return_accompaniment": False, "return_notes": True, "chunk_length_s": 4.0}])
def test_a_path_is_streamed_and_gives_the_in_memory_values(pipe, options, monkeypatch):
    """pipe(path) runs the streamed file path (memory: the returned arrays plus a constant; never the
    in-memory apply_majl), with the values and keys the in-memory path gives for the same file's bytes."""
    import majl_hf.pipelines.majl_vocal as mv

    path = shared_path("data", "MedleyDB", "Audio", "MusicDelta_80sRock", "MusicDelta_80sRock_MIX.wav")
    in_memory = pipe(path.read_bytes(), **options)
    with monkeypatch.context() as m:
        m.setattr(mv, "apply_majl", lambda *a, **k: pytest.fail("a path went through the in-memory path"))
        streamed = pipe(str(path), **options)
    assert streamed.keys() == in_memory.keys()
    for key, value in in_memory.items():
        if key == "notes":
            assert streamed[key] == value and len(value) >= 1
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(streamed[key], value, err_msg=key)
        else:
            assert streamed[key] == value, key
