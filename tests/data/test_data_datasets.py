"""``Corpus.to_dataset()``: ``datasets`` objects with the one schema, built from the same
iteration, cached, with empty splits handled and the same splits on every run."""

import json
import shutil

import numpy as np
import pytest

datasets = pytest.importorskip("datasets", reason="the datasets package (extra 'train') is not installed")

from majl_hf.data import MIR1K, MIRST500, MUSDB18, CorpusError, MedleyDB, check_example, features  # noqa: E402


def test_mir1k_dataset_dict_with_an_empty_split(shared_data, tmp_path):
    dd = MIR1K(shared_data("MIR-1K")).to_dataset(cache_dir=tmp_path / "cache")
    assert set(dd) == {"train", "test"}
    # one singer only: "amy" falls in train, the test split is empty but present with the schema
    assert dd["train"].num_rows == 1 and dd["test"].num_rows == 0
    assert dd["test"].features == features() == dd["train"].features
    row = dd["train"].with_format("numpy")[0]
    check_example(row)
    assert row["mixture"].dtype == np.float32 and row["mixture"].shape == (1, 31990)
    assert row["id"] == "amy_3_01" and row["has_f0"] and row["has_vocals"]


def test_values_equal_the_plain_iterator_and_the_cache_is_reused(shared_data, tmp_path):
    root = shared_data("MedleyDB")
    tracks = ["MusicDelta_80sRock", "MusicDelta_Beethoven"]
    ds = MedleyDB(root, split="train", tracks=tracks).to_dataset(cache_dir=tmp_path / "cache")
    again = MedleyDB(root, split="train", tracks=tracks).to_dataset(cache_dir=tmp_path / "cache")
    assert ds._fingerprint == again._fingerprint  # built once, then read from the cache
    rows = {r["id"]: r for r in ds.with_format("numpy")}
    plain = {r["id"]: r for r in ds}  # python lists: float64 stays float64
    for ex in MedleyDB(root, tracks=tracks):
        row = rows[ex["id"]]
        check_example(row)
        for key in ("mixture", "vocals", "f0_hz", "voicing"):
            np.testing.assert_array_equal(row[key], ex[key])
        # numpy formatting casts floats to float32 (datasets' default); the table keeps float64
        np.testing.assert_array_equal(np.asarray(plain[ex["id"]]["times_s"]), ex["times_s"])
        for key in ("has_vocals", "has_f0", "sampling_rate", "split", "licence"):
            assert row[key] == ex[key]


def test_corpora_share_features_and_concatenate(shared_data, tmp_path):
    cache = tmp_path / "cache"
    parts = [
        MIR1K(shared_data("MIR-1K"), split="train").to_dataset(cache_dir=cache),
        MUSDB18(shared_data("MUSDB18-HQ"), split="train", fmt="wav").to_dataset(cache_dir=cache),
        MedleyDB(shared_data("MedleyDB"), split="train", tracks=["MusicDelta_Beethoven"]).to_dataset(cache_dir=cache),
    ]
    both = datasets.concatenate_datasets(parts)
    assert both.num_rows == 3 and both.features == features()
    assert both["corpus"] == ["mir1k", "musdb18", "medleydb"]
    assert both["has_f0"] == [True, False, True]


def test_errors_come_out_unwrapped(mir1k_copy, tmp_path):
    (mir1k_copy / "PitchLabel" / "amy_3_01.pv").write_text("0\nx\n")
    with pytest.raises(CorpusError, match="amy_3_01.pv: malformed"):
        MIR1K(mir1k_copy, split="train").to_dataset(cache_dir=tmp_path / "cache")
    ds = MIR1K(mir1k_copy, split="train", on_error="skip").to_dataset(cache_dir=tmp_path / "cache")
    assert ds.num_rows == 0


def test_cache_follows_changes_on_disk(mir1k_copy, tmp_path):
    cache = tmp_path / "cache"
    first = MIR1K(mir1k_copy, split="train").to_dataset(cache_dir=cache).with_format("numpy")[0]["f0_hz"]
    pv = mir1k_copy / "PitchLabel" / "amy_3_01.pv"
    pv.write_text("60\n" * 199)  # edited label: the dataset must be rebuilt, not read from the cache
    second = MIR1K(mir1k_copy, split="train").to_dataset(cache_dir=cache).with_format("numpy")[0]["f0_hz"]
    assert not first.any() and second[1:].min() == pytest.approx(261.6256, rel=1e-5)


def test_splits_identical_across_runs_and_leak_free(tmp_path, shared_data):
    import os

    src = shared_data("MIR-1K")
    root = tmp_path / "MIR-1K"
    for sub in ("Wavfile", "PitchLabel"):
        (root / sub).mkdir(parents=True)
    for s in range(12):
        for song in (1, 2):
            name = f"sing{s}_{song}_01"
            os.symlink(src / "Wavfile" / "amy_3_01.wav", root / "Wavfile" / f"{name}.wav")
            os.symlink(src / "PitchLabel" / "amy_3_01.pv", root / "PitchLabel" / f"{name}.pv")
    a = MIR1K(root).to_dataset(cache_dir=tmp_path / "cache_a")
    b = MIR1K(root).to_dataset(cache_dir=tmp_path / "cache_b")  # an independent build
    for split in ("train", "test"):
        assert a[split]["id"] == b[split]["id"]
    train = {i.split("_")[0] for i in a["train"]["id"]}
    test = {i.split("_")[0] for i in a["test"]["id"]}
    assert train and test and not train & test
    assert a["test"]["split"] == ["test"] * a["test"].num_rows


def test_mirst500_dataset(tmp_path, shared_data):
    audio = tmp_path / "audio" / "test" / "401"
    audio.mkdir(parents=True)
    shutil.copy(shared_data("MIR-1K", "Wavfile", "amy_3_01.wav"), audio / "Mixture.wav")
    notes = tmp_path / "notes.DERIVED.json"
    notes.write_text(json.dumps({"401": [[0.5, 1.0, 69]]}))
    dd = MIRST500(tmp_path / "audio", notes_path=notes).to_dataset(cache_dir=tmp_path / "cache")
    assert dd["train"].num_rows == 0 and dd["test"].num_rows == 1
    row = dd["test"].with_format("numpy")[0]
    check_example(row)
    np.testing.assert_allclose(row["f0_hz"][(row["times_s"] >= 0.5) & (row["times_s"] < 1.0)], 440.0)
    assert row["voicing"].sum() == 25
