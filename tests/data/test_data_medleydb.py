"""MedleyDB on the real excerpts: vocals from the metadata's singer stems, Pitch annotations on the
20 ms grid checked against an independent pitch track of the vocal stem, the silent-vocal rule,
bad data and splits."""

import logging
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("yaml", reason="MedleyDB metadata needs pyyaml (extra 'train')")

from majl_hf.data import CorpusError, MedleyDB, check_example  # noqa: E402
from majl_hf.data.medleydb import read_pitch_csv, voiced_rows_to_dense  # noqa: E402

ROCK = "MusicDelta_80sRock"


def _rock(root):
    (ex,) = list(MedleyDB(root, tracks=[ROCK]))
    return ex


def test_80srock_mixture_and_vocals_are_the_files(shared_data):
    root = shared_data("MedleyDB")
    ex = _rock(root)
    check_example(ex)
    mix, sr = sf.read(str(root / "Audio" / ROCK / f"{ROCK}_MIX.wav"), dtype="float32")
    stem, _ = sf.read(str(root / "Audio" / ROCK / f"{ROCK}_STEMS" / f"{ROCK}_STEM_04.wav"), dtype="float32")
    assert (ex["corpus"], ex["sampling_rate"], ex["mixture"].shape) == ("medleydb", 44100, (2, 300032))
    np.testing.assert_array_equal(ex["mixture"], mix.T)
    np.testing.assert_array_equal(ex["vocals"], stem.T)  # the only singer stem (S04, "male singer")
    assert ex["has_vocals"] and ex["has_f0"]
    assert len(ex["f0_hz"]) == 1 + 300032 // 882 == 341
    assert 0.6 < ex["voicing"].mean() < 0.9


def test_grid_labels_match_the_raw_annotation_rows(shared_data):
    root = shared_data("MedleyDB")
    ex = _rock(root)
    t, f = read_pitch_csv(root / "Annotations" / "Pitch" / f"{ROCK}_STEM_04.csv")
    hop = 256 / 44100
    for i, (ti, fi) in enumerate(zip(ex["times_s"], ex["f0_hz"])):
        d = np.abs(t - ti)
        j = int(np.argmin(d))
        if d[j] <= hop / 2:  # a voiced row lies within half an annotation hop: voiced, close in pitch
            assert fi > 0, f"frame {i} at {ti:.2f} s should be voiced"
            assert abs(1200 * np.log2(fi / f[j])) < 30
        elif d[j] > hop:  # nothing annotated near: unvoiced (a missing row = unvoiced)
            assert fi == 0, f"frame {i} at {ti:.2f} s should be unvoiced"


def _crepe_check(times_s, f0_hz, crepe_f0, crepe_periodicity):
    """An independent check of label timing: the fraction of voiced label frames within 50 cents of
    torchcrepe's pitch of the vocal stem (10 ms hop) at the same instants, and the time lag (s,
    1 ms steps within ±30 ms) at which the labels fit the CREPE track best."""
    ct = 0.01 * np.arange(len(crepe_f0))
    conf = (crepe_periodicity > 0.5) & (crepe_f0 > 0)
    cents = 1200 * np.log2(np.where(conf, crepe_f0, 1.0) / 10.0)

    def compare(lag):
        q = times_s + lag
        ok = np.interp(q, ct, conf.astype(float)) > 0.99
        m = (f0_hz > 0) & ok
        diff = np.abs(1200 * np.log2(f0_hz[m] / 10.0) - np.interp(q[m], ct, cents))
        return np.mean(diff < 50), np.mean(np.minimum(diff, 200)), int(m.sum())

    lags = np.arange(-30, 31) * 1e-3
    best_lag = lags[int(np.argmin([compare(x)[1] for x in lags]))]
    within_50, _, n = compare(0.0)
    return within_50, best_lag, n


def test_80srock_f0_agrees_with_an_independent_pitch_track_and_a_one_frame_shift_fails(
    shared_data, shared_reference
):
    ex = _rock(shared_data("MedleyDB"))
    ref = np.load(shared_reference("crepe", "80srock_stem04.npz"))
    crepe_f0, crepe_p = ref["f0_hz_full"], ref["periodicity_full"]
    assert len(crepe_f0) == 681  # 10 ms frames of the same 6.8 s stem, centred at 0.01 i s
    times, f0 = ex["times_s"], ex["f0_hz"].astype(np.float64)

    def passes(labels):
        within_50, best_lag, n = _crepe_check(times, labels, crepe_f0, crepe_p)
        return n > 200 and within_50 >= 0.95 and abs(best_lag) <= 0.010

    within_50, best_lag, n = _crepe_check(times, f0, crepe_f0, crepe_p)
    assert n > 200 and within_50 >= 0.95, (within_50, n)
    # the excerpt offset is known to ±5 ms (EXCERPT_OFFSET.txt): the best lag must stay within 10 ms
    assert abs(best_lag) <= 0.010, best_lag
    # the raw annotation rows (5.8 ms hop, no grid conversion) fit best at the same lag
    t_raw, f_raw = read_pitch_csv(shared_data("MedleyDB", "Annotations", "Pitch", f"{ROCK}_STEM_04.csv"))
    assert abs(_crepe_check(t_raw, f_raw, crepe_f0, crepe_p)[1] - best_lag) <= 0.002
    assert passes(f0)
    # a deliberate one-frame (20 ms) error either way is caught
    late = np.concatenate([[0.0], f0[:-1]])
    early = np.concatenate([f0[1:], [0.0]])
    assert not passes(late) and not passes(early)


def test_instrumental_track_has_known_silent_vocals(shared_data):
    root = shared_data("MedleyDB")
    (ex,) = list(MedleyDB(root, tracks=["MusicDelta_Beethoven"]))
    check_example(ex)
    assert ex["has_vocals"] and not ex["vocals"].any()
    assert ex["has_f0"] and not ex["voicing"].any()
    assert ex["mixture"].shape == (2, 88200) and np.abs(ex["mixture"]).max() > 0.01
    excluded = list(MedleyDB(root, tracks=["MusicDelta_Beethoven"], include_instrumental=False, on_error="skip"))
    assert excluded == []


def test_real_track_without_mix_is_reported(shared_data, caplog):
    root = shared_data("MedleyDB")
    with pytest.raises(CorpusError, match="NightOwl_MIX.wav: audio file not found"):
        list(MedleyDB(root, tracks=["AClassicEducation_NightOwl"]))
    with caplog.at_level(logging.WARNING, logger="majl_hf.data"):
        exs = list(MedleyDB(root, on_error="skip"))
    assert sorted(e["id"] for e in exs) == ["MusicDelta_80sRock", "MusicDelta_Beethoven"]
    assert any("NightOwl_MIX.wav" in r.getMessage() for r in caplog.records)


def test_voiced_only_rows_get_explicit_gaps():
    hop = 256 / 44100
    t = np.r_[np.arange(5), np.arange(20, 23)] * hop
    tt, ff = voiced_rows_to_dense(t, np.full(8, 200.0))
    assert np.all(np.diff(tt) > 0)
    np.testing.assert_allclose(tt[ff == 0], np.r_[-1, 5, 19, 23] * hop)


def _replace_line(path, old, new):
    path.write_text(path.read_text().replace(old, new, 1))


@pytest.mark.parametrize(
    "breakage, message, culprit",
    [
        ("missing_mix", "audio file not found", f"{ROCK}_MIX.wav"),
        ("unreadable_mix", "unreadable audio", f"{ROCK}_MIX.wav"),
        ("missing_stem", "vocal stem S04 .* missing", f"{ROCK}_STEM_04.wav"),
        ("mono_stem", "expected 2 audio channel", f"{ROCK}_STEM_04.wav"),
        ("short_stem", "vocal stem has 255932 samples but 300032", f"{ROCK}_STEM_04.wav"),
        ("missing_csv", "pitch annotation .* not found", f"{ROCK}_STEM_04.csv"),
        ("malformed_csv", "line 3: non-numeric", f"{ROCK}_STEM_04.csv"),
        ("unordered_csv", "line 2: time .* does not increase", f"{ROCK}_STEM_04.csv"),
        ("full_length_csv", "past the end of the 6.80 s audio", f"{ROCK}_STEM_04.csv"),
        ("missing_metadata", "metadata file not found", f"{ROCK}_METADATA.yaml"),
        ("malformed_metadata", "malformed metadata", f"{ROCK}_METADATA.yaml"),
        ("no_vocal_stem", "not marked instrumental but lists no vocal stem", f"{ROCK}_METADATA.yaml"),
    ],
)
def test_bad_data_raises_naming_the_file(medleydb_copy, shared_data, wav_writer, breakage, message, culprit):
    root = medleydb_copy
    mix = root / "Audio" / ROCK / f"{ROCK}_MIX.wav"
    stem = root / "Audio" / ROCK / f"{ROCK}_STEMS" / f"{ROCK}_STEM_04.wav"
    csv = root / "Annotations" / "Pitch" / f"{ROCK}_STEM_04.csv"
    meta = root / "Metadata" / f"{ROCK}_METADATA.yaml"
    if breakage == "missing_mix":
        mix.unlink()
    elif breakage == "unreadable_mix":
        mix.write_bytes(os.urandom(5000))
    elif breakage == "missing_stem":
        stem.unlink()
    elif breakage == "mono_stem":
        wav_writer(stem, np.zeros((1, 300032)), 44100)
    elif breakage == "short_stem":
        audio, _ = sf.read(str(stem))
        wav_writer(stem, audio[:-44100].T, 44100)  # 1 s shorter than the mix
    elif breakage == "missing_csv":
        csv.unlink()
    elif breakage == "malformed_csv":
        lines = csv.read_text().splitlines()
        lines[2] = "0.337156462,high"
        csv.write_text("\n".join(lines))
    elif breakage == "unordered_csv":
        lines = csv.read_text().splitlines()
        lines[0], lines[1] = lines[1], lines[0]
        csv.write_text("\n".join(lines))
    elif breakage == "full_length_csv":  # the official annotation of the whole track, not the excerpt
        shutil.copy(shared_data("MedleyDB", "_official_full_annotations", "Pitch", f"{ROCK}_STEM_04.csv"), csv)
    elif breakage == "missing_metadata":
        meta.unlink()
    elif breakage == "malformed_metadata":
        meta.write_text("stems: [unclosed\n  - x: {")
    elif breakage == "no_vocal_stem":
        _replace_line(meta, "instrument: male singer", "instrument: kazoo")
    with pytest.raises(CorpusError, match=message) as err:
        list(MedleyDB(root, tracks=[ROCK]))
    assert err.value.path.name == culprit and culprit in str(err.value)


def test_third_column_is_ignored(shared_data):
    # NightOwl's Pitch CSV has rows with a third column ("1.735691609,223.005,[2]")
    path = shared_data("MedleyDB", "Annotations", "Pitch", "AClassicEducation_NightOwl_STEM_08.csv")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    three = [line.split(",") for line in lines if line.count(",") == 2]
    assert len(three) == 34
    t, f = read_pitch_csv(path)
    assert len(t) == len(lines) == 267 and np.all(f > 0) and np.all(np.diff(t) > 0)
    for row in three:
        assert f[np.argmin(np.abs(t - float(row[0])))] == float(row[1])


def test_skip_mode_logs_and_keeps_good_tracks(medleydb_copy, caplog):
    (medleydb_copy / "Annotations" / "Pitch" / f"{ROCK}_STEM_04.csv").write_text("0.1,abc\n")
    with caplog.at_level(logging.WARNING, logger="majl_hf.data"):
        exs = list(MedleyDB(medleydb_copy, on_error="skip"))
    assert [e["id"] for e in exs] == ["MusicDelta_Beethoven"]
    assert any(f"{ROCK}_STEM_04.csv" in r.getMessage() for r in caplog.records)


def test_split_by_singer_or_clip_is_deterministic_and_leak_free(tmp_path, shared_data):
    src = shared_data("MedleyDB")
    root = tmp_path / "MedleyDB"
    (root / "Metadata").mkdir(parents=True)
    (root / "Audio").mkdir()
    text = (src / "Metadata" / "MusicDelta_Beethoven_METADATA.yaml").read_text()
    # 30 instrumental tracks by 10 artists, all pointing at the real Beethoven mix
    for a in range(10):
        for s in range(3):
            name = f"Artist{a}_Song{s}"
            meta = text.replace("artist: Music Delta Multitracks", f"artist: Artist {a}")
            (root / "Metadata" / f"{name}_METADATA.yaml").write_text(meta.replace("MusicDelta_Beethoven", name))
            (root / "Audio" / name).mkdir()
            os.symlink(src / "Audio" / "MusicDelta_Beethoven" / "MusicDelta_Beethoven_MIX.wav",
                       root / "Audio" / name / f"{name}_MIX.wav")
    runs = {}
    for split_by, group in (("singer", lambda n: n.split("_")[0]), ("clip", lambda n: n)):
        run1 = {e["id"]: e["split"] for e in MedleyDB(root, split_by=split_by, test_fraction=0.3)}
        run2 = {e["id"]: e["split"] for e in MedleyDB(root, split_by=split_by, test_fraction=0.3)}
        assert run1 == run2 and len(run1) == 30
        train = {group(i) for i, s in run1.items() if s == "train"}
        test = {group(i) for i, s in run1.items() if s == "test"}
        assert train and test and not train & test, split_by
        runs[split_by] = run1
    # singer (the default) keeps every artist on one side; clip is the paper's: exactly 30 % of the
    # tracks at random, so artists straddle the split
    assert runs["singer"] == {e["id"]: e["split"] for e in MedleyDB(root, test_fraction=0.3)}
    assert sum(s == "test" for s in runs["clip"].values()) == 9
    by_artist = {}
    for i, s in runs["clip"].items():
        by_artist.setdefault(i.split("_")[0], set()).add(s)
    assert any(len(sides) == 2 for sides in by_artist.values())
    # `tracks` does not move a track's clip split (drawn over every listed track)
    some = sorted(runs["clip"])[:5]
    assert {e["id"]: e["split"] for e in MedleyDB(root, split_by="clip", test_fraction=0.3, tracks=some)} == {
        t: runs["clip"][t] for t in some
    }
    with pytest.raises(ValueError, match="split_by"):
        MedleyDB(root, split_by="artist")


def test_official_pitch_annotations_folder_name_is_found(medleydb_copy):
    pitch = medleydb_copy / "Annotations" / "Pitch"
    pitch.rename(medleydb_copy / "Annotations" / "Pitch_Annotations")
    (ex,) = list(MedleyDB(medleydb_copy, tracks=[ROCK]))
    assert ex["has_f0"] and ex["voicing"].sum() > 200


def test_several_vocal_stems_sum_and_melody_stem_has_pitch_priority(medleydb_copy, caplog):
    root = medleydb_copy
    name = "Duo_Song"
    stem_dir = root / "Audio" / name / f"{name}_STEMS"
    stem_dir.mkdir(parents=True)
    rock = root / "Audio" / ROCK
    shutil.copy(rock / f"{ROCK}_MIX.wav", root / "Audio" / name / f"{name}_MIX.wav")
    for i in (1, 2, 3):
        shutil.copy(rock / f"{ROCK}_STEMS" / f"{ROCK}_STEM_04.wav", stem_dir / f"{name}_STEM_0{i}.wav")
    (root / "Metadata" / f"{name}_METADATA.yaml").write_text(
        "artist: Duo\ninstrumental: 'no'\nstems:\n"
        f"  S01: {{component: '', filename: {name}_STEM_01.wav, instrument: female singer}}\n"
        f"  S02: {{component: melody, filename: {name}_STEM_02.wav, instrument: male singer}}\n"
        f"  S03: {{component: '', filename: {name}_STEM_03.wav, instrument: vocalists}}\n"
    )
    pitch = root / "Annotations" / "Pitch"
    shutil.copy(pitch / f"{ROCK}_STEM_04.csv", pitch / f"{name}_STEM_02.csv")  # the lead: real pitch
    hop = 256 / 44100
    (pitch / f"{name}_STEM_01.csv").write_text("".join(f"{k * hop:.9f},500.0\n" for k in range(1, 1150)))
    # S03 ("vocalists") has no annotation: it counts in the vocals only, with a log line
    with caplog.at_level(logging.INFO, logger="majl_hf.data"):
        (duo,) = list(MedleyDB(root, tracks=[name]))
    (rock_ex,) = list(MedleyDB(root, tracks=[ROCK]))
    np.testing.assert_allclose(duo["vocals"], 3 * rock_ex["vocals"], atol=1e-6)
    lead = rock_ex["f0_hz"] > 0
    np.testing.assert_array_equal(duo["f0_hz"][lead], rock_ex["f0_hz"][lead])  # melody stem wins
    assert np.all(duo["f0_hz"][~lead][1:-1] == 500.0)  # the other singer fills the lead's gaps
    assert any("STEM_03" in r.getMessage() for r in caplog.records)
