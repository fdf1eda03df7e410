"""The majl-vocal command line: files, folders, globs, templates, formats, failures, exit codes."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from majl_hf.cli import main
from tests.pipelines.conftest import EXAMPLE


@pytest.fixture
def songs(tmp_path):
    d = tmp_path / "songs"
    (d / "album").mkdir(parents=True)
    shutil.copy(EXAMPLE, d / "album" / "one.mp3")
    t = np.arange(22050) / 22050
    sf.write(d / "two.flac", 0.2 * np.sin(2 * np.pi * 330 * t), 22050)
    (d / "album" / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav")
    return d


def test_folder_with_one_bad_file(songs, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out"
    code = main([str(songs), "-o", str(out), "--model", str(tiny_model_dir), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "2/3 done" in err and "broken.wav" in err and "1 failed" in err
    for name in ("one", "two"):
        for part, ext in (("vocals", "wav"), ("accompaniment", "wav"), ("f0", "csv"), ("f0", "json"), ("f0", "png")):
            assert (out / f"{name}_{part}.{ext}").is_file()
    two, sr = sf.read(out / "two_vocals.wav")
    assert sr == 22050 and two.shape == (22050,)
    assert sf.info(str(out / "two_vocals.wav")).subtype == "PCM_16"
    track = json.loads((out / "one_f0.json").read_text())
    assert len(track["f0_hz"]) == len(track["times_s"]) == len(track["voiced"])
    rows = (out / "one_f0.csv").read_text().splitlines()
    assert rows[0] == "time_s,f0_hz,confidence,voiced" and len(rows) == len(track["f0_hz"]) + 1


def test_glob_template_flac_24_bit(songs, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    code = main([str(songs / "**" / "*.mp3"), "-o", str(out), "--model", str(tiny_model_dir), "-q",
                 "--template", "{parent}/{name}.{part}.{ext}", "--format", "flac", "--subtype", "24", "--no-plot",
                 "--no-accompaniment"])
    assert code == 0
    assert (out / "album" / "one.vocals.flac").is_file()
    assert sf.info(str(out / "album" / "one.vocals.flac")).subtype == "PCM_24"
    assert not (out / "album" / "one.accompaniment.flac").exists()
    assert not (out / "album" / "one.f0.png").exists()


def test_nothing_found_and_bad_model_exit_2(tmp_path, tiny_model_dir, capsys):
    assert main([str(tmp_path / "nothing*.wav"), "-q"]) == 2
    assert "no audio found" in capsys.readouterr().err
    assert main([str(EXAMPLE), "--model", str(tmp_path / "no_model"), "-q", "-o", str(tmp_path)]) == 2
    assert "cannot load model" in capsys.readouterr().err
    assert main([str(EXAMPLE), "--threshold", "3", "-q"]) == 2
