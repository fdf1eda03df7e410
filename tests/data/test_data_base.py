"""The shared schema, the 20 ms grid, audio reading and the deterministic split rule."""

import numpy as np
import pytest

from majl_hf.data import (
    SCHEMA_KEYS,
    CorpusError,
    assign_split,
    check_example,
    grid_times,
    make_example,
    n_grid_frames,
    read_audio,
    split_at_random,
)


def test_grid_is_centred_frames_one_plus_n_over_hop():
    # 1 + floor(samples / (0.02 sr)): the pitch estimators' centred-frame count
    assert n_grid_frames(31990, 16000) == 1 + 31990 // 320 == 100
    assert n_grid_frames(32000, 16000) == 101
    assert n_grid_frames(300032, 44100) == 1 + 300032 // 882 == 341
    assert n_grid_frames(0, 44100) == 1
    t = grid_times(32000, 16000)
    assert t[0] == 0.0 and t[-1] == pytest.approx(2.0) and np.allclose(np.diff(t), 0.02)


def test_make_example_fills_absent_targets_with_flags_not_missing_keys():
    mix = np.ones((2, 1000), np.float32)
    ex = make_example(id="a", corpus="c", split="train", mixture=mix, sampling_rate=16000, licence="x")
    assert tuple(ex) == SCHEMA_KEYS
    assert ex["has_vocals"] is False and ex["has_f0"] is False
    assert ex["vocals"].shape == mix.shape and not ex["vocals"].any()
    assert ex["f0_hz"].shape == (4,) and not ex["f0_hz"].any() and not ex["voicing"].any()
    assert ex["duration_s"] == 1000 / 16000
    check_example(ex)
    f0 = np.array([0, 100, 0, 200.0])
    ex = make_example(
        id="a", corpus="c", split="train", mixture=mix, vocals=mix, sampling_rate=16000, licence="x", f0_hz=f0
    )
    assert ex["has_f0"] and ex["has_vocals"]
    np.testing.assert_array_equal(ex["voicing"], [False, True, False, True])
    check_example(ex)


def test_make_example_rejects_off_grid_labels_and_shape_mismatch():
    mix = np.ones((1, 1000), np.float32)
    with pytest.raises(ValueError, match="grid needs"):
        make_example(id="a", corpus="c", split="t", mixture=mix, sampling_rate=16000, licence="x", f0_hz=np.zeros(5))
    with pytest.raises(ValueError, match="differs from mixture"):
        make_example(
            id="a", corpus="c", split="t", mixture=mix, vocals=np.ones((2, 1000)), sampling_rate=16000, licence="x"
        )
    ex = make_example(id="a", corpus="c", split="t", mixture=mix, sampling_rate=16000, licence="x")
    ex["f0_hz"] = ex["f0_hz"] + 1  # has_f0 False with non-zero f0
    with pytest.raises(ValueError):
        check_example(ex)


def test_assign_split_is_a_fixed_function_of_group_and_seed():
    # golden values: sha256 of "<seed>:<group>", the same on every machine and Python version
    assert [assign_split(g, seed=0) for g in ("amy", "stool", "Ani", "annar", "heycat")] == [
        "train",
        "train",
        "test",
        "test",
        "train",
    ]
    assert assign_split("amy", seed=1) == "test"
    assert assign_split("amy", test_fraction=0.0) == "train" and assign_split("amy", test_fraction=1.0) == "test"
    groups = [f"singer{i}" for i in range(2000)]
    frac = np.mean([assign_split(g) == "test" for g in groups])
    assert 0.17 < frac < 0.23
    with pytest.raises(ValueError):
        assign_split("amy", test_fraction=1.5)


def test_split_at_random_draws_an_exact_share_with_a_fixed_seed():
    ids = ["amy_1_01", "amy_1_02", "bob_1_01", "bob_2_01", "cat_1_01"]
    # golden values: the order of sha256("<seed>:<id>"), the same on every machine
    assert split_at_random(ids, seed=0, test_fraction=0.4) == {
        "amy_1_01": "train",
        "amy_1_02": "test",
        "bob_1_01": "test",
        "bob_2_01": "train",
        "cat_1_01": "train",
    }
    assert split_at_random(reversed(ids + ids), seed=0, test_fraction=0.4) == split_at_random(ids, test_fraction=0.4)
    assert split_at_random(ids, seed=1, test_fraction=0.4) != split_at_random(ids, seed=0, test_fraction=0.4)
    clips = [f"s{i % 19}_{i}" for i in range(1000)]
    for fraction, n_test in ((0.2, 200), (0.0, 0), (1.0, 1000), (0.3333, 333)):
        assert sum(v == "test" for v in split_at_random(clips, test_fraction=fraction).values()) == n_test
    with pytest.raises(ValueError, match="test_fraction"):
        split_at_random(ids, test_fraction=-0.1)


def test_read_audio_errors_name_the_file(tmp_path, wav_writer):
    with pytest.raises(CorpusError, match="not found") as err:
        read_audio(tmp_path / "nope.wav")
    assert err.value.path == tmp_path / "nope.wav"
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEgarbage" * 10)
    with pytest.raises(CorpusError, match="bad.wav: unreadable audio"):
        read_audio(bad)
    mono = wav_writer(tmp_path / "mono.wav", np.zeros((1, 100)), 16000)
    with pytest.raises(CorpusError, match="mono.wav: expected 2 audio channel"):
        read_audio(mono, channels=2)
    with pytest.raises(CorpusError, match="expected a sampling rate of 44100"):
        read_audio(mono, sampling_rate=44100)
    audio, sr = read_audio(mono, channels=1, sampling_rate=16000)
    assert audio.shape == (1, 100) and audio.dtype == np.float32 and sr == 16000
