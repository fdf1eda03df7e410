"""MIR-ST500 with a derived note file: notes segmented from the real MedleyDB 80sRock vocal-stem
pitch annotation, with the real 80sRock mix as the song audio (no real MIR-ST500 note file or audio
is available here). Checks note → frame f0, the official split, metadata ids and bad data."""

import json
import logging
import os
import shutil

import numpy as np
import pytest

pytest.importorskip("yaml", reason="MedleyDB metadata needs pyyaml (extra 'train')")

from majl_hf.data import MIRST500, CorpusError, MedleyDB, check_example  # noqa: E402
from majl_hf.data.medleydb import read_pitch_csv  # noqa: E402
from majl_hf.data.mirst500 import notes_to_f0, official_split  # noqa: E402
from majl_hf.pitch.convert import midi_to_hz  # noqa: E402
from tests.conftest import derive_notes  # noqa: E402

ROCK = "MusicDelta_80sRock"
HOP = 256 / 44100


@pytest.fixture
def mirst500(tmp_path, shared_data):
    """``MIR-ST500_corrected.DERIVED-from-MedleyDB-80sRock.json`` (songs 1 and 401 share the notes)
    beside the real ``metadata.csv``; audio in the official layout (train/1, test/401)."""
    t, f = read_pitch_csv(shared_data("MedleyDB", "Annotations", "Pitch", f"{ROCK}_STEM_04.csv"))
    notes = derive_notes(t, f)
    index = tmp_path / "MIR-ST500_20210206"
    index.mkdir()
    shutil.copy(shared_data("MIR-ST500", "MIR-ST500_20210206", "metadata.csv"), index / "metadata.csv")
    notes_path = index / "MIR-ST500_corrected.DERIVED-from-MedleyDB-80sRock.json"
    notes_path.write_text(json.dumps({"1": notes, "401": notes}))
    audio_root = tmp_path / "audio"
    mix = shared_data("MedleyDB", "Audio", ROCK, f"{ROCK}_MIX.wav")
    for split, sid in (("train", "1"), ("test", "401")):
        (audio_root / split / sid).mkdir(parents=True)
        shutil.copy(mix, audio_root / split / sid / "Mixture.wav")
    return audio_root, notes_path, notes


def test_notes_become_frame_f0(mirst500, shared_data):
    audio_root, notes_path, notes = mirst500
    assert len(notes) > 15
    exs = list(MIRST500(audio_root, notes_path=notes_path))
    assert [(e["id"], e["split"]) for e in exs] == [("1", "train"), ("401", "test")]
    ex = exs[0]
    check_example(ex)
    assert ex["corpus"] == "mirst500" and ex["has_f0"] and not ex["has_vocals"] and not ex["vocals"].any()
    assert ex["mixture"].shape == (2, 300032) and ex["sampling_rate"] == 44100
    t, f0 = ex["times_s"], ex["f0_hz"]
    inside = np.zeros(len(t), bool)
    for onset, offset, pitch in notes:
        m = (t >= onset) & (t < offset)
        inside |= m
        np.testing.assert_allclose(f0[m], midi_to_hz(pitch), rtol=1e-6)
    assert inside.any() and not f0[~inside].any()
    # the derived notes follow the singer: within a semitone of the MedleyDB labels on co-voiced frames
    (medley,) = list(MedleyDB(shared_data("MedleyDB"), tracks=[ROCK]))
    both = (f0 > 0) & (medley["f0_hz"] > 0)
    assert both.sum() > 150
    cents = 1200 * np.abs(np.log2(f0[both] / medley["f0_hz"][both]))
    assert np.mean(cents < 100) > 0.9


def test_note_boundaries_are_half_open():
    f0 = notes_to_f0(np.array([[0.02, 0.06, 69.0], [0.06, 0.07, 81.0]]), np.arange(6) * 0.02)
    np.testing.assert_allclose(f0, [0, 440, 440, 880, 0, 0])
    assert official_split("400") == "train" and official_split("401") == "test"


def test_split_and_missing_audio_log(mirst500, caplog):
    audio_root, notes_path, notes = mirst500
    data = json.loads(notes_path.read_text())
    data["7"] = notes  # a song without audio (dead link): left out with an info log
    notes_path.write_text(json.dumps(data))
    with caplog.at_level(logging.INFO, logger="majl_hf.data"):
        assert [e["id"] for e in MIRST500(audio_root, notes_path=notes_path, split="test")] == ["401"]
    assert any("1 songs" in r.getMessage() for r in caplog.records)
    assert [e["id"] for e in MIRST500(audio_root, notes_path=notes_path, split="train")] == ["1"]


@pytest.mark.parametrize(
    "breakage, message, culprit",
    [
        ("json_syntax", "malformed JSON", "json"),
        ("two_values", "song 1, note 0: expected \\[onset_s, offset_s, midi_pitch\\]", "json"),
        ("offset_before_onset", "song 1, note 0: needs 0 <= onset < offset", "json"),
        ("pitch_zero", "MIDI pitch 0.0 outside", "json"),
        ("missing_song", "no notes for song 401", "Mixture.wav"),
        ("notes_past_audio", "song 1: notes run to 30.00 s but Mixture.wav lasts 6.80 s", "json"),
        ("unreadable_audio", "unreadable audio", "Mixture.wav"),
        ("not_in_metadata", "song id 777 is not in", "Mixture.wav"),
        ("missing_note_file", "note file .* not found", "json"),
    ],
)
def test_bad_data_raises_naming_the_file(mirst500, breakage, message, culprit):
    audio_root, notes_path, notes = mirst500
    data = json.loads(notes_path.read_text())
    if breakage == "json_syntax":
        notes_path.write_text(notes_path.read_text()[:-5])
    elif breakage == "two_values":
        data["1"][0] = [0.1, 0.2]
    elif breakage == "offset_before_onset":
        data["1"][0] = [0.5, 0.4, 60]
    elif breakage == "pitch_zero":
        data["1"][0] = [0.1, 0.2, 0]
    elif breakage == "missing_song":
        del data["401"]
    elif breakage == "notes_past_audio":
        data["1"].append([29.0, 30.0, 60])
    elif breakage == "unreadable_audio":
        (audio_root / "train" / "1" / "Mixture.wav").write_bytes(os.urandom(4000))
    elif breakage == "not_in_metadata":
        shutil.copytree(audio_root / "train" / "1", audio_root / "777")
        data["777"] = notes
    elif breakage == "missing_note_file":
        notes_path.unlink()
    if breakage not in ("json_syntax", "missing_note_file", "unreadable_audio"):
        notes_path.write_text(json.dumps(data))
    with pytest.raises(CorpusError, match=message) as err:
        list(MIRST500(audio_root, notes_path=notes_path))
    assert err.value.path.name.endswith(culprit) and err.value.path.name in str(err.value)


def test_skip_mode_keeps_the_good_song(mirst500, caplog):
    audio_root, notes_path, _ = mirst500
    (audio_root / "test" / "401" / "Mixture.wav").write_bytes(os.urandom(4000))
    with caplog.at_level(logging.WARNING, logger="majl_hf.data"):
        assert [e["id"] for e in MIRST500(audio_root, notes_path=notes_path, on_error="skip")] == ["1"]
    assert any("unreadable audio" in r.getMessage() for r in caplog.records)
