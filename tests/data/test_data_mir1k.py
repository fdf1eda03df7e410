"""MIR-1K on the real excerpt (amy_3_01), frame alignment of .pv labels, bad data, splits."""

import logging
import os

import numpy as np
import pytest
import soundfile as sf

from majl_hf.data import MIR1K, CorpusError, check_example
from majl_hf.data.mir1k import singer_of
from majl_hf.pitch.convert import midi_to_hz


def test_real_excerpt_mixture_vocals_and_cropped_label(shared_data):
    root = shared_data("MIR-1K")
    (ex,) = list(MIR1K(root))
    check_example(ex)
    raw, sr = sf.read(str(root / "Wavfile" / "amy_3_01.wav"), dtype="float32")
    assert (ex["corpus"], ex["id"], ex["sampling_rate"], sr) == ("mir1k", "amy_3_01", 16000, 16000)
    # mixing rule: mixture = left + right (0 dB, plain sum), vocals = right channel, both mono
    np.testing.assert_array_equal(ex["mixture"][0], raw[:, 0] + raw[:, 1])
    np.testing.assert_array_equal(ex["vocals"][0], raw[:, 1])
    assert ex["mixture"].shape == ex["vocals"].shape == (1, 31990)
    # the .pv covers 3.98 s (199 frames) but the audio stops at 2.0 s: cropped to the 100 grid frames
    assert len(ex["f0_hz"]) == 100 and ex["times_s"][-1] == pytest.approx(1.98)
    pv = np.loadtxt(root / "PitchLabel" / "amy_3_01.pv")
    first_voiced_line = int(np.flatnonzero(pv > 0)[0])
    assert 0.02 * first_voiced_line == pytest.approx(2.08)  # label frame starting at 2.08 s
    assert 0.02 * first_voiced_line + 0.02 > ex["times_s"][-1]  # its centre (2.10 s) is past the audio
    assert ex["has_f0"] and not ex["voicing"].any()
    # grid frame t carries .pv line t - 1 (all unvoiced here) ...
    np.testing.assert_array_equal(ex["f0_hz"][1:], midi_to_hz(pv[:99]))
    # ... and the audio agrees: the vocal channel is near-silent over the unvoiced 2 s
    assert np.sqrt(np.mean(raw[:, 1] ** 2)) < 0.1 * np.sqrt(np.mean(raw[:, 0] ** 2))


def test_pv_line_i_lands_on_grid_frame_i_plus_1(mir1k_copy, shared_data):
    # move the real label 100 frames earlier so that its voiced notes fall inside the 2 s audio
    pv = np.loadtxt(shared_data("MIR-1K", "PitchLabel", "amy_3_01.pv"))
    shifted = pv[100:]  # 99 lines: line j = original line j + 100
    (mir1k_copy / "PitchLabel" / "amy_3_01.pv").write_text("".join(f"{v:.4f}\n" for v in shifted))
    (ex,) = list(MIR1K(mir1k_copy))
    f0 = ex["f0_hz"]
    assert f0[0] == 0.0  # t = 0 has no MIR-1K frame (the first is centred at 20 ms)
    np.testing.assert_allclose(f0[1:100], midi_to_hz(np.round(shifted, 4)), rtol=1e-6)
    first = int(np.flatnonzero(f0)[0])
    assert first == int(np.flatnonzero(shifted > 0)[0]) + 1
    assert f0[first] == pytest.approx(midi_to_hz(59.4857), rel=1e-6)  # the real first sung note
    assert ex["times_s"][first] == pytest.approx(0.02 * first)


def test_separation_only_without_labels(shared_data):
    exs = list(MIR1K(shared_data("MIR-1K_wav_only"), with_f0=False))
    assert [e["id"] for e in exs] == ["amy_7_08", "stool_4_07"]
    for e in exs:
        check_example(e)
        assert e["has_vocals"] and not e["has_f0"] and not e["f0_hz"].any()


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("missing_pv", "pitch label .* not found"),
        ("malformed_pv", r"malformed \.pv file: .*line 3"),
        ("short_pv", "label ends at 1.00 s .*shortfall"),
        ("long_pv", "label runs to 12.00 s, .*excess"),
        ("mono_wav", "expected 2 audio channel"),
        ("unreadable_wav", "unreadable audio"),
    ],
)
def test_bad_data_raises_naming_the_file(mir1k_copy, wav_writer, breakage, message):
    wav = mir1k_copy / "Wavfile" / "amy_3_01.wav"
    pv = mir1k_copy / "PitchLabel" / "amy_3_01.pv"
    if breakage == "missing_pv":
        pv.unlink()
    elif breakage == "malformed_pv":
        pv.write_text("0\n0\nsixty\n0\n")
    elif breakage == "short_pv":
        pv.write_text("0\n" * 50)  # 1.0 s of labels for 2.0 s of audio
    elif breakage == "long_pv":
        pv.write_text("0\n" * 600)  # 12 s of labels
    elif breakage == "mono_wav":
        wav_writer(wav, np.zeros((1, 32000)), 16000)
    elif breakage == "unreadable_wav":
        wav.write_bytes(os.urandom(2000))
    with pytest.raises(CorpusError, match=message) as err:
        list(MIR1K(mir1k_copy))
    assert err.value.path.name in ("amy_3_01.wav", "amy_3_01.pv")
    assert err.value.path.name in str(err.value)


def test_skip_logs_and_keeps_the_good_clips(mir1k_copy, caplog):
    (mir1k_copy / "Wavfile" / "amy_3_02.wav").write_bytes((mir1k_copy / "Wavfile" / "amy_3_01.wav").read_bytes())
    (mir1k_copy / "PitchLabel" / "amy_3_02.pv").write_text("0\n0\nsixty\n")
    with caplog.at_level(logging.WARNING, logger="majl_hf.data"):
        exs = list(MIR1K(mir1k_copy, on_error="skip"))
    assert [e["id"] for e in exs] == ["amy_3_01"]
    assert any("amy_3_02.pv" in r.getMessage() and "malformed" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="on_error"):
        list(MIR1K(mir1k_copy, on_error="ignore"))


def _many_singers(root, shared_data, n_singers=40):
    """A MIR-1K folder of links to the real clip under many singer names (3 songs each)."""
    src = shared_data("MIR-1K")
    for sub in ("Wavfile", "PitchLabel"):
        (root / sub).mkdir(parents=True)
    for s in range(n_singers):
        for song in (1, 2, 3):
            name = f"singer{s:02d}_{song}_01"
            os.symlink(src / "Wavfile" / "amy_3_01.wav", root / "Wavfile" / f"{name}.wav")
            os.symlink(src / "PitchLabel" / "amy_3_01.pv", root / "PitchLabel" / f"{name}.pv")
    return root


def test_split_by_singer_is_deterministic_and_leak_free(tmp_path, shared_data):
    root = _many_singers(tmp_path / "MIR-1K", shared_data)
    run1 = {e["id"]: e["split"] for e in MIR1K(root)}
    run2 = {e["id"]: e["split"] for e in MIR1K(root)}
    assert run1 == run2 and len(run1) == 120
    train = {singer_of(i) for i, s in run1.items() if s == "train"}
    test = {singer_of(i) for i, s in run1.items() if s == "test"}
    assert train and test and not train & test
    assert 0.05 < len(test) / 40 < 0.4
    assert [e["id"] for e in MIR1K(root, split="test")] == sorted(i for i, s in run1.items() if s == "test")
    other_seed = {e["id"]: e["split"] for e in MIR1K(root, seed=1)}
    assert other_seed != run1


def test_split_by_clip_is_the_papers_80_20_at_random(tmp_path, shared_data):
    root = _many_singers(tmp_path / "MIR-1K", shared_data)
    run1 = {e["id"]: e["split"] for e in MIR1K(root, split_by="clip")}
    run2 = {e["id"]: e["split"] for e in MIR1K(root, split_by="clip")}
    assert run1 == run2 and len(run1) == 120
    test = sorted(i for i, s in run1.items() if s == "test")
    assert len(test) == 24  # exactly 20 % of the clips, not of the singers
    # singers straddle the split (the paper's split is not leak-free), unlike split_by="singer"
    sides = {}
    for i, s in run1.items():
        sides.setdefault(singer_of(i), set()).add(s)
    assert sum(len(v) == 2 for v in sides.values()) >= 5
    assert [e["id"] for e in MIR1K(root, split_by="clip", split="test")] == test
    assert {e["id"]: e["split"] for e in MIR1K(root, split_by="clip", seed=1)} != run1
    assert run1 != {e["id"]: e["split"] for e in MIR1K(root)}  # the default is split_by="singer"
    with pytest.raises(ValueError, match="split_by"):
        MIR1K(root, split_by="song")
    with pytest.raises(ValueError, match="test_fraction"):
        MIR1K(root, split_by="clip", test_fraction=1.2)


def test_label_longer_than_its_audio_warns(shared_data):
    """A .pv running past its audio (amy_3_01: 2.0 s of audio, 3.98 s of label) is cropped with a warning."""
    from majl_hf.data.mir1k import MIR1K

    root = shared_data("MIR-1K")
    with pytest.warns(UserWarning, match="past the audio"):
        examples = list(MIR1K(root))
    assert examples
