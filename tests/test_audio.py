"""majl_hf.audio: reading (partial and non-audio files), the channel rule, writing (layout, clipping,
no overwrite, own-output tag) and save_result (the CLI's writer)."""

import json
import warnings

import numpy as np
import pytest
import soundfile as sf

from majl_hf import audio
from majl_hf.audio import (
    AudioInputError,
    ClippingWarning,
    PartialAudioWarning,
    check_output_format,
    check_template,
    convert_channels,
    is_own_output,
    probe_audio_file,
    read_audio,
    save_result,
    write_audio,
)
from tests.conftest import EXAMPLE


def _sine(seconds, sr=22050, f=220.0, amp=0.3, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    x = (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)
    return np.stack([x] * channels) if channels > 1 else x


@pytest.fixture
def cut_wav(tmp_path):
    """A WAV whose data was cut in half: the header says 2.0 s, 1.0 s is present."""
    full = tmp_path / "full.wav"
    sf.write(full, _sine(2.0), 22050, subtype="PCM_16")
    data = full.read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: 44 + (len(data) - 44) // 2])
    return path


def test_reader_is_a_drop_in_for_the_feature_extractor():
    """Same array, bit for bit, as soundfile's whole-file read used by feature_extraction_majl today."""
    from majl_hf import feature_extraction_majl as fe

    ref, sr_ref = sf.read(str(EXAMPLE), dtype="float32", always_2d=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete file: no warning
        got, sr, info = read_audio(EXAMPLE)
    old, sr_old = fe.read_audio_file(EXAMPLE)
    assert sr == sr_ref == sr_old == 44100 and got.shape == (2, 479832) and got.dtype == np.float32
    assert np.array_equal(got, ref.T) and np.array_equal(got, old)
    assert not info.partial and info.frames == info.expected_frames == 479832


def test_partial_wav_warns(cut_wav):
    # soundfile alone reports the shortened length and says nothing: the header's promise is lost
    assert sf.info(str(cut_wav)).frames == 22050
    with pytest.warns(PartialAudioWarning, match=r"announces 2\.00 s but only 1\.00 s"):
        x, sr, info = read_audio(cut_wav)
    assert x.shape == (1, 22050) and info.partial and info.expected_frames == 44100
    assert probe_audio_file(cut_wav).partial  # the header check alone (no decoding) sees it too


def test_truncated_mp3_warns(tmp_path):
    """The bundled example cut at half its bytes: it decodes ~half its samples."""
    path = tmp_path / "half.mp3"
    data = EXAMPLE.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.warns(PartialAudioWarning, match="partial file") as rec:
        x, sr, info = read_audio(path)
    frac = x.shape[-1] / 479832
    print(f"truncated mp3: {x.shape[-1]} of 479832 frames decoded ({100 * frac:.1f} %)")
    assert 0.4 < frac < 0.6 and info.partial and "10.88 s" in str(rec[0].message)


def test_truncated_flac_keeps_what_decodes(tmp_path):
    full = tmp_path / "full.flac"
    sf.write(full, _sine(2.0), 22050)
    data = full.read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(sf.LibsndfileError):  # what soundfile does today: nothing at all
        sf.read(str(path))
    with pytest.warns(PartialAudioWarning, match="decoder stopped"):
        x, _, info = read_audio(path)
    ref, _ = sf.read(full, dtype="float32")
    print(f"truncated flac: {x.shape[-1]} of 44100 frames kept")
    assert 0 < x.shape[-1] < 44100 and np.array_equal(x[0], ref[: x.shape[-1]])


def test_text_file_named_mp3(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("this is not audio\n" * 20)
    with pytest.raises(sf.LibsndfileError, match="does not exist"):  # libsndfile's misleading message
        sf.read(str(path))
    with pytest.raises(AudioInputError) as err:
        read_audio(path)
    msg = str(err.value)
    assert msg.startswith(f"not an audio file we can decode: {path}") and "libsndfile says" in msg
    assert "looks like a text file" in msg
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioInputError, match="empty"):
        read_audio(empty)
    with pytest.raises(AudioInputError, match="no such file"):
        read_audio(tmp_path / "missing.wav")


def test_channel_rule():
    mono = np.arange(6, dtype=np.float32)[None]
    stereo = np.stack([mono[0], -mono[0] + 2])
    assert np.array_equal(convert_channels(mono, 2), np.repeat(mono, 2, 0))
    assert np.array_equal(convert_channels(stereo, 1), stereo.mean(0, keepdims=True))
    assert convert_channels(stereo) is stereo and convert_channels(mono) is mono
    five = np.stack([mono[0] * k for k in range(5)])
    with pytest.warns(UserWarning, match="5 channels downmixed to mono"):
        out = convert_channels(five, source="surround.wav")
    assert np.array_equal(out, five.mean(0, keepdims=True))
    with pytest.warns(UserWarning):
        assert convert_channels(five, 2).shape == (2, 6)


def test_write_audio_layout_and_no_overwrite(tmp_path):
    x = _sine(0.5, channels=2)
    x[1] *= 0.5
    path = tmp_path / "v.wav"
    with pytest.raises(sf.LibsndfileError):  # the obvious call fails on (channels, samples)
        sf.write(tmp_path / "plain.wav", x, 22050)
    report = write_audio(path, x, 22050, subtype="24")
    back, sr = sf.read(path, dtype="float32", always_2d=True)
    assert sr == 22050 and back.shape == (11025, 2) and sf.info(str(path)).subtype == "PCM_24"
    assert np.abs(back.T - x).max() < 1e-6 and report.clipped_fraction == 0
    assert is_own_output(path) and not is_own_output(tmp_path / "plain.wav")
    with pytest.raises(FileExistsError, match="would overwrite"):
        write_audio(path, x, 22050)
    write_audio(path, x[:1], 22050, overwrite=True)
    assert sf.info(str(path)).channels == 1
    with pytest.raises(ValueError, match="pass audio.T"):
        write_audio(tmp_path / "t.wav", x.T, 22050)
    assert not list(tmp_path.glob(".*part*"))  # no temporary left behind


def test_write_audio_never_clips_silently(tmp_path):
    x = np.linspace(-1.5, 1.5, 1000, dtype=np.float32)[None]  # |x| > 1 on 1/3 of the samples
    expected = float((np.abs(x) > 1).mean())
    with pytest.warns(ClippingWarning, match=r"334 samples \(33 %\) beyond ±1 clipped") as rec:
        report = write_audio(tmp_path / "warn.wav", x, 8000)
    print(f"clipped fraction {report.clipped_fraction:.4f} (expected {expected:.4f}); {rec[0].message}")
    assert report.clipped_fraction == pytest.approx(expected)
    back, _ = sf.read(tmp_path / "warn.wav")
    assert back.max() <= 1.0 and back.max() > 0.99
    report = write_audio(tmp_path / "scale.wav", x, 8000, clip="scale")
    back, _ = sf.read(tmp_path / "scale.wav")
    assert report.gain == pytest.approx(1 / 1.5) and np.abs(back - x[0] / 1.5).max() < 1e-4
    report = write_audio(tmp_path / "float.wav", x, 8000, clip="float")
    back, _ = sf.read(tmp_path / "float.wav", dtype="float32")
    assert report.subtype == "FLOAT" and sf.info(str(tmp_path / "float.wav")).subtype == "FLOAT"
    assert np.array_equal(back, x[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_audio(tmp_path / "f.wav", x, 8000, subtype="float")  # float output: nothing to clip, no warning


def test_format_checks_name_the_problem():
    assert check_output_format("flac", "24") == ("FLAC", "PCM_24")
    with pytest.raises(ValueError, match="FLAC cannot store samples as FLOAT.*integer-only"):
        check_output_format("flac", "float")
    with pytest.raises(ValueError, match="clip='float'"):
        check_output_format("flac", "16", clip="float")
    with pytest.raises(ValueError, match="unknown audio format"):
        check_output_format("mp4", "16")


def test_template_checks():
    check_template("{parent}/{name}.{part}.{ext}")
    with pytest.raises(ValueError, match="vocals and accompaniment to the same file.*include \\{part\\}"):
        check_template("{name}.{ext}")
    with pytest.raises(ValueError, match="f0.csv and f0.json.*include \\{ext\\}"):
        check_template("{name}_{part}")
    with pytest.raises(ValueError, match="unknown field \\{song\\}"):
        check_template("{song}_{part}.{ext}")
    with pytest.raises(ValueError, match="relative path"):
        check_template("../{name}_{part}.{ext}")


def _result(seconds=1.0, sr=22050, peak=0.5):
    t = np.arange(int(seconds * sr)) / sr
    vocals = (peak * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None].repeat(2, 0)
    times = np.arange(0, seconds, 0.02)
    return {"vocals": vocals, "accompaniment": -vocals, "sampling_rate": sr, "times_s": times,
            "f0_hz": np.full(times.shape, 220.0, np.float32), "confidence": np.full(times.shape, 0.9, np.float32),
            "voiced": np.ones(times.shape, bool)}


def test_save_result_writes_what_the_cli_writes(tmp_path):
    result = _result()
    saved = save_result(result, tmp_path / "out", "song", subtype="24", source="music/album/song.mp3",
                        metadata={"model": "tiny"})
    names = sorted(p.name for p in saved)
    assert names == ["song_accompaniment.wav", "song_f0.csv", "song_f0.json", "song_f0.png", "song_vocals.wav"]
    raw = saved.paths["f0.csv"].read_bytes()
    assert b"\r\n" not in raw and raw.startswith(b"time_s,f0_hz,confidence,voiced\n")  # LF only
    assert len(raw.decode().splitlines()) == len(result["times_s"]) + 1
    doc = json.loads(saved.paths["f0.json"].read_text())
    assert doc["model"] == "tiny" and doc["source"] == "music/album/song.mp3" and len(doc["f0_hz"]) == 50
    back, sr = sf.read(saved.paths["vocals"], dtype="float32", always_2d=True)
    assert sr == 22050 and back.shape == (22050, 2) and np.abs(back.T - result["vocals"]).max() < 1e-6
    with pytest.raises(FileExistsError):  # nothing is replaced unless asked
        save_result(result, tmp_path / "out", "song")
    # a path template, with {parent} from the source; no plot
    saved = save_result(result, tmp_path / "t" / "{parent}" / "{name}.{part}.{ext}", "song", format="flac",
                        plot=False, source="music/album/song.mp3")
    assert saved.paths["vocals"] == tmp_path / "t" / "album" / "song.vocals.flac" and "f0.png" not in saved.paths
    with pytest.raises(ValueError, match="same file"):
        save_result(result, tmp_path / "{name}.{ext}", "song")


def test_save_result_clipping_modes(tmp_path):
    loud = _result(peak=1.6)
    loud["accompaniment"] = loud["accompaniment"] * 0.5
    with pytest.warns(ClippingWarning, match="beyond ±1 clipped"):
        saved = save_result(loud, tmp_path / "warn", "loud", plot=False)
    assert len(saved.messages) == 1 and "vocals" in saved.messages[0]  # only the part that clips
    with pytest.warns(ClippingWarning, match="scaled by 0.625"):
        saved = save_result(loud, tmp_path / "scale", "loud", plot=False, clip="scale")
    v, _ = sf.read(saved.paths["vocals"])
    a, _ = sf.read(saved.paths["accompaniment"])
    # one gain for both parts: they still sum to the scaled mixture
    assert np.abs(v.T - loud["vocals"] / 1.6).max() < 1e-4 and np.abs(a.T - loud["accompaniment"] / 1.6).max() < 1e-4
    assert json.loads(saved.paths["f0.json"].read_text())["output_gain"] == pytest.approx(0.625)
    with pytest.warns(ClippingWarning, match="written as float"):
        saved = save_result(loud, tmp_path / "float", "loud", plot=False, clip="float")
    assert sf.info(str(saved.paths["vocals"])).subtype == "FLOAT"
    assert sf.info(str(saved.paths["accompaniment"])).subtype == "PCM_16"  # peaks at 0.8: fits


def test_module_is_light():
    """audio.py imports neither torch nor transformers (the feature extractor and data code can use it)."""
    import subprocess
    import sys

    code = "import sys, majl_hf.audio; print(any(m in sys.modules for m in ('torch', 'transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", audio.__file__
