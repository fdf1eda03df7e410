"""MUSDB18-HQ on the real excerpt, the .stem.mp4 path (needs ffmpeg), bad data and official splits."""

import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from majl_hf.data import MUSDB18, CorpusError, DecoderNotFoundError, check_example
from majl_hf.data import musdb18 as musdb_module

TRACK = "Music Delta - 80s Rock"


def test_hq_excerpt_values(shared_data):
    root = shared_data("MUSDB18-HQ")
    (ex,) = list(MUSDB18(root))
    check_example(ex)
    folder = root / "train" / TRACK
    assert (ex["id"], ex["split"], ex["corpus"], ex["sampling_rate"]) == (TRACK, "train", "musdb18", 44100)
    mix, _ = sf.read(str(folder / "mixture.wav"), dtype="float32")
    voc, _ = sf.read(str(folder / "vocals.wav"), dtype="float32")
    np.testing.assert_array_equal(ex["mixture"], mix.T)
    np.testing.assert_array_equal(ex["vocals"], voc.T)
    assert ex["has_vocals"] and not ex["has_f0"] and not ex["f0_hz"].any()
    # the stems add up to the mixture up to the AAC differences (README: up to ~0.054)
    stems = sum(sf.read(str(folder / f"{s}.wav"), dtype="float32")[0] for s in ("vocals", "drums", "bass", "other"))
    assert np.abs(stems.T - ex["mixture"]).max() < 0.06
    # and the vocals are the vocals: strongly correlated with the MedleyDB vocal stem of the same excerpt
    medley = shared_data(
        "MedleyDB", "Audio", "MusicDelta_80sRock", "MusicDelta_80sRock_STEMS", "MusicDelta_80sRock_STEM_04.wav"
    )
    stem, _ = sf.read(str(medley), dtype="float32")
    corr = np.corrcoef(stem.T.ravel(), ex["vocals"].ravel())[0, 1]
    assert corr > 0.9


def test_split_filters_and_validation_subset(shared_data, tmp_path):
    root = shared_data("MUSDB18-HQ")
    assert [e["id"] for e in MUSDB18(root, split="train")] == [TRACK]
    assert list(MUSDB18(root, split="test")) == []
    with pytest.raises(ValueError, match="split"):
        list(MUSDB18(root, split="validation"))
    # a track on musdb's validation list moves to "validation" with validation=True
    fake = tmp_path / "MUSDB18-HQ" / "train" / "Actions - One Minute Smile"
    shutil.copytree(root / "train" / TRACK, fake)
    shutil.copytree(root / "train" / TRACK, tmp_path / "MUSDB18-HQ" / "test" / TRACK)
    splits = {(e["id"], e["split"]) for e in MUSDB18(tmp_path / "MUSDB18-HQ", validation=True)}
    assert splits == {("Actions - One Minute Smile", "validation"), (TRACK, "test")}


def test_stem_mp4_without_ffmpeg_says_to_install_it(shared_data, monkeypatch):
    root = shared_data("MUSDB18")
    monkeypatch.setattr(musdb_module.shutil, "which", lambda name: None)
    with pytest.raises(DecoderNotFoundError, match="needs the ffmpeg program.*Install ffmpeg") as err:
        list(MUSDB18(root))
    assert f"{TRACK}.stem.mp4" in str(err.value)


@pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="decoding .stem.mp4 needs the ffmpeg program (not installed)"
)
def test_stem_mp4_decodes_like_the_hq_files(shared_data):
    (ex,) = list(MUSDB18(shared_data("MUSDB18"), fmt="stem"))
    check_example(ex)
    hq, _ = sf.read(str(shared_data("MUSDB18-HQ", "train", TRACK, "vocals.wav")), dtype="float32")
    n = min(hq.shape[0], ex["vocals"].shape[1])
    assert abs(ex["vocals"].shape[1] - hq.shape[0]) < 2048
    assert np.abs(ex["vocals"][:, :n] - hq[:n].T).max() < 1e-3  # HQ was decoded from this file


@pytest.mark.parametrize(
    "breakage, message, culprit",
    [
        ("missing_vocals", "audio file not found", "vocals.wav"),
        ("unreadable_mixture", "unreadable audio", "mixture.wav"),
        ("short_vocals", "300 samples but mixture.wav has 300032", "vocals.wav"),
        ("mono_vocals", "1 channel", "vocals.wav"),
        ("rate_vocals", "rate 22050 Hz differs", "vocals.wav"),
    ],
)
def test_bad_data_raises_naming_the_file(musdb_hq_copy, wav_writer, breakage, message, culprit):
    folder = musdb_hq_copy / "train" / TRACK
    if breakage == "missing_vocals":
        (folder / "vocals.wav").unlink()
    elif breakage == "unreadable_mixture":
        (folder / "mixture.wav").write_bytes(os.urandom(3000))
    elif breakage == "short_vocals":
        wav_writer(folder / "vocals.wav", np.zeros((2, 300)), 44100)
    elif breakage == "mono_vocals":
        wav_writer(folder / "vocals.wav", np.zeros((1, 300032)), 44100)
    elif breakage == "rate_vocals":
        wav_writer(folder / "vocals.wav", np.zeros((2, 300032)), 22050)
    with pytest.raises(CorpusError, match=message) as err:
        list(MUSDB18(musdb_hq_copy))
    assert err.value.path.name == culprit and TRACK in str(err.value)
    assert list(MUSDB18(musdb_hq_copy, on_error="skip")) == []


def test_empty_root_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no MUSDB18 tracks"):
        list(MUSDB18(tmp_path))
