"""The majl-vocal command line: files, folders, globs, templates, formats, failures, exit codes; no
silent overwrite, checks before any work, partial and clipped files reported, progress, help."""

import json
import os
import shlex
import shutil

import numpy as np
import pytest
import soundfile as sf

from majl_hf import cli
from majl_hf.cli import build_parser, main
from tests.conftest import EXAMPLE, shared_path


@pytest.fixture
def songs(tmp_path):
    d = tmp_path / "songs"
    (d / "album").mkdir(parents=True)
    shutil.copy(EXAMPLE, d / "album" / "one.mp3")
    t = np.arange(22050) / 22050
    sf.write(d / "two.flac", 0.2 * np.sin(2 * np.pi * 330 * t), 22050)
    (d / "album" / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav")
    return d


@pytest.fixture(scope="module")
def example_wav(tmp_path_factory):
    """The first 2 s of the bundled example as a 16-bit WAV (real audio, quick to process)."""
    x, sr = sf.read(EXAMPLE, dtype="float32")
    path = tmp_path_factory.mktemp("example") / "example.wav"
    sf.write(path, x[: 2 * sr], sr, subtype="PCM_16")
    return path


def _outputs(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


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
    raw = (out / "one_f0.csv").read_bytes()
    assert b"\r" not in raw  # LF line ends (csv's default CRLF made Unix tools miscount)
    rows = raw.decode().split("\n")[:-1]
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
    assert "no file matches" in capsys.readouterr().err
    assert main([str(EXAMPLE), "--model", str(tmp_path / "no_model"), "-q", "-o", str(tmp_path)]) == 2
    assert "cannot load model" in capsys.readouterr().err
    assert main([str(EXAMPLE), "--threshold", "3", "-q"]) == 2


def test_colliding_names_keep_their_sub_path(tmp_path, tiny_model_dir, capsys):
    """Issue 15.1: a MUSDB-style tree (A/mixture.wav, B/mixture.wav) and Song.wav + Song.flac gave
    "N/N done" and one output set. Each input now gets its own outputs."""
    mix, sr = sf.read(shared_path("data", "MUSDB18-HQ", "train", "Music Delta - 80s Rock", "mixture.wav"),
                      dtype="float32")
    tree = tmp_path / "musdb"
    for i, song in enumerate(("A - Song1", "B - Song2")):
        (tree / song).mkdir(parents=True)
        sf.write(tree / song / "mixture.wav", mix[i * 2 * sr: (i + 1) * 2 * sr], sr)  # two different 2 s excerpts
    sf.write(tree / "Song.wav", mix[: sr], sr)
    sf.write(tree / "Song.flac", mix[sr: 2 * sr], sr)
    out = tmp_path / "out"
    assert main([str(tree), "-o", str(out), "--model", str(tiny_model_dir), "-q", "--no-plot"]) == 0
    assert capsys.readouterr().err == ""  # -q and all went well: nothing printed
    got = _outputs(out)
    for stem in ("A - Song1/mixture", "B - Song2/mixture", "Song_wav", "Song_flac"):
        assert f"{stem}_vocals.wav" in got and f"{stem}_f0.json" in got
    assert len(got) == 4 * 4
    a, _ = sf.read(out / "A - Song1" / "mixture_accompaniment.wav")
    b, _ = sf.read(out / "B - Song2" / "mixture_accompaniment.wav")
    assert a.shape == b.shape and np.abs(a - b).max() > 0.01  # B did not overwrite A
    assert json.loads((out / "Song_flac_f0.json").read_text())["source"].endswith("Song.flac")
    # a template that cannot tell the inputs apart is refused before any work
    code = main([str(tree), "-o", str(tmp_path / "o2"), "--model", str(tiny_model_dir), "-q",
                 "--template", "{part}.{ext}"])
    err = capsys.readouterr().err
    assert code == 2 and "would write the same output files" in err and "mixture.wav" in err


def test_never_overwrites_and_resumes(example_wav, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out"
    args = [str(example_wav), "-o", str(out), "--model", str(tiny_model_dir), "-q", "--no-plot"]
    assert main(args) == 0
    vocals = out / "example_vocals.wav"
    vocals.write_bytes(b"user's own file")  # anything there must survive a re-run
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "exist already" in err and "--overwrite" in err and "--skip-existing" in err
    assert vocals.read_bytes() == b"user's own file"
    assert main(args + ["--skip-existing"]) == 0  # complete set: skipped
    assert vocals.read_bytes() == b"user's own file"
    assert main(args + ["--skip-existing"]) == 0 and capsys.readouterr().err == ""
    (out / "example_f0.json").unlink()  # an interrupted run: incomplete set → processed again
    assert main(args + ["--skip-existing"]) == 0
    assert (out / "example_f0.json").is_file() and sf.info(str(vocals)).frames == 88200
    vocals.write_bytes(b"x")
    assert main(args + ["--overwrite"]) == 0 and sf.info(str(vocals)).frames == 88200
    assert main([a for a in args if a != "-q"] + ["--skip-existing"]) == 0  # not quiet: the summary says it
    assert "0/1 done, 1 skipped" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(args + ["--overwrite", "--skip-existing"])


def test_own_outputs_are_not_inputs(example_wav, tmp_path, tiny_model_dir, capsys):
    """Issue 17.6: with -o inside the input folder, the next run took song_vocals.wav as a song."""
    folder = tmp_path / "songs"
    folder.mkdir()
    shutil.copy(example_wav, folder / "song.wav")
    args = [str(folder), "-o", str(folder), "--model", str(tiny_model_dir), "--no-plot"]
    assert main(args + ["-q"]) == 0
    assert main(args + ["--skip-existing"]) == 0
    err = capsys.readouterr().err
    assert "left out 2 file(s) written by majl-vocal" in err and "1 skipped" in err
    assert not any("vocals_vocals" in p for p in _outputs(folder))
    # also when named one by one (a shell glob), and when moved elsewhere (the tag in the file)
    moved = tmp_path / "moved.wav"
    shutil.copy(folder / "song_vocals.wav", moved)
    assert main([str(folder / "song_vocals.wav"), str(moved), "-o", str(tmp_path / "o"), "-q",
                 "--model", str(tiny_model_dir)]) == 2
    assert "nothing to do" in capsys.readouterr().err


def test_missing_named_input_is_a_failure(example_wav, tmp_path, tiny_model_dir, capsys):
    """Issue 17.4: `majl-vocal good.wav typo.wav` printed "1/1 done" and exit 0."""
    out = tmp_path / "out"
    code = main([str(example_wav), str(tmp_path / "typo.wav"), "-o", str(out), "--model", str(tiny_model_dir),
                 "-q", "--no-plot"])
    err = capsys.readouterr().err
    assert code == 1 and "1/2 done" in err and "typo.wav: no such file" in err
    assert (out / "example_vocals.wav").is_file()


@pytest.fixture
def no_model(monkeypatch):
    """Fails the test if the model gets loaded: the checks must come before any work."""
    def load(args):
        raise AssertionError("the model was loaded before the bad option was refused")

    monkeypatch.setattr(cli, "load_pipeline", load)


def test_output_problems_found_before_any_work(example_wav, tmp_path, no_model, capsys, monkeypatch):
    """Issue 17.5: these surfaced only after the song was processed, with unclear messages."""
    base = [str(example_wav), "-q"]
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main(base + ["-o", str(blocker)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(base + ["-o", str(blocker / "sub")]) == 2
    assert "cannot create the output folder" in capsys.readouterr().err
    assert main(base + ["-o", str(tmp_path / "o"), "--format", "flac", "--subtype", "float"]) == 2
    assert "FLAC cannot store samples as FLOAT" in capsys.readouterr().err
    assert main(base + ["-o", str(tmp_path / "o"), "--format", "flac", "--clip", "float"]) == 2
    assert "clip='float'" in capsys.readouterr().err
    assert main(base + ["-o", str(tmp_path / "o"), "--template", "{title}_{part}.{ext}"]) == 2
    assert "unknown field {title}" in capsys.readouterr().err
    assert main(base + ["-o", str(tmp_path / "o"), "--template", "{name}.{ext}"]) == 2  # issue 17.6
    assert "vocals and accompaniment to the same file" in capsys.readouterr().err

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "mkstemp", denied)
    assert main(base + ["-o", str(tmp_path / "ro")]) == 2
    assert "cannot write in the output folder" in (err := capsys.readouterr().err) and "permission denied" in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write in a read-only folder")
def test_read_only_output_folder(example_wav, tmp_path, no_model, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert main([str(example_wav), "-q", "-o", str(ro)]) == 2
        assert "permission denied" in capsys.readouterr().err
    finally:
        ro.chmod(0o700)


def test_partial_input_in_the_summary(tmp_path, tiny_model_dir, capsys):
    """Issue 17.3: a WAV cut in half (header 2.0 s, 1.0 s present) gave 1.0 s of output, exit 0, no word."""
    x, sr = sf.read(EXAMPLE, dtype="float32")
    full = tmp_path / "full.wav"
    sf.write(full, x[: 2 * sr], sr, subtype="PCM_16")
    data = full.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: 44 + (len(data) - 44) // 2])
    half_mp3 = tmp_path / "half.mp3"
    half_mp3.write_bytes(EXAMPLE.read_bytes()[: EXAMPLE.stat().st_size // 2])
    code = main([str(cut), str(half_mp3), "-o", str(tmp_path / "out"), "--model", str(tiny_model_dir), "-q",
                 "--no-plot"])
    err = capsys.readouterr().err
    print(err)
    assert code == 0  # the outputs are written...
    assert "2 warning(s)" in err  # ...and the summary says what is wrong, even with -q
    assert "cut.wav: partial file: the header announces 2.00 s but only 1.00 s" in err
    assert "half.mp3: partial file: the header announces 10.88 s" in err


def test_text_file_named_mp3(tmp_path, tiny_model_dir, capsys):
    fake = tmp_path / "song.mp3"
    fake.write_text("<html>not found</html>\n")
    assert main([str(fake), str(EXAMPLE), "-o", str(tmp_path / "o"), "--model", str(tiny_model_dir), "-q",
                 "--no-plot", "--no-accompaniment"]) == 1
    err = capsys.readouterr().err
    assert f"{fake}: not an audio file we can decode" in err and "text file" in err
    assert "File does not exist" not in err.split("libsndfile says")[0]


class StubPipe:
    """Stands in for the pipeline: outputs a scaled copy of the input, reports progress if it can."""

    def __init__(self, gain=1.0, progress=True):
        self.gain, self.with_progress, self.calls = gain, progress, []

    def _sanitize_parameters(self, progress=None, voicing_threshold=None, decoder=None, chunk_length_s=None,
                             frames_per_batch=None, vocal_gate_db=None, return_accompaniment=None):
        return {}, {}, {}

    def __call__(self, inputs, **kwargs):
        if "progress" in kwargs and not self.with_progress:
            raise TypeError("majl-vocal got unknown option(s) ['progress']")
        self.calls.append(kwargs)
        if isinstance(inputs, dict):
            x, sr = inputs["array"], inputs["sampling_rate"]
        else:
            x, sr = sf.read(inputs, dtype="float32", always_2d=True)
            x = x.T
        n = x.shape[-1] // 512
        progress = kwargs.get("progress")
        for stage in ("separation", "pitch"):
            for done in range(0, n + 1, max(1, n // 4)):
                if progress is not None:
                    progress(stage, min(done, n), n)
        times = np.arange(0, x.shape[-1] / sr, 0.02)
        return {"vocals": x * self.gain, "accompaniment": x * 0.1, "sampling_rate": sr, "times_s": times,
                "f0_hz": np.full(times.shape, 220.0, np.float32), "confidence": np.ones(times.shape, np.float32),
                "voiced": np.ones(times.shape, bool)}


def test_progress_inside_a_song(example_wav, tmp_path, monkeypatch, capsys):
    pipe = StubPipe()
    monkeypatch.setattr(cli, "load_pipeline", lambda args: pipe)
    seen = []

    class Spy(cli.SongProgress):
        def __call__(self, stage, done, total):
            super().__call__(stage, done, total)
            seen.append((stage, self.bar.n, self.bar.total))

    monkeypatch.setattr(cli, "SongProgress", Spy)
    assert main([str(example_wav), "-o", str(tmp_path / "o"), "--no-plot"]) == 0
    err = capsys.readouterr().err
    assert callable(pipe.calls[0]["progress"])
    # the song's bar follows the callback, stage by stage, in frames (tqdm redraws at most every 0.1 s)
    assert ("separation", 172, 172) in seen and seen[-1] == ("pitch", 172, 172)
    assert seen.index(("separation", 172, 172)) < seen.index(("pitch", 0, 172))
    assert "separation" in err and "frame" in err
    assert "2/2 s of audio" in err  # the overall bar, in seconds of audio
    # a pipeline that does not take progress= still works (a bar without a count)
    pipe = StubPipe(progress=False)
    pipe._sanitize_parameters = lambda voicing_threshold=None: ({}, {}, {})
    monkeypatch.setattr(cli, "load_pipeline", lambda args: pipe)
    assert main([str(example_wav), "-o", str(tmp_path / "o2"), "--no-plot"]) == 0
    assert "progress" not in pipe.calls[0] and "1/1 done" in capsys.readouterr().err
    assert cli.SongProgress("x", disable=True, live=True).bar.disable


def test_clipping_is_never_silent(example_wav, tmp_path, monkeypatch, capsys):
    """Issue 17.7: outputs beyond ±1 were clipped in 16-bit files without a word."""
    monkeypatch.setattr(cli, "load_pipeline", lambda args: StubPipe(gain=4.0))  # the example peaks ~0.6 → ~2.4
    base = [str(example_wav), "--no-plot", "-q"]
    assert main(base + ["-o", str(tmp_path / "warn")]) == 0
    err = capsys.readouterr().err
    assert "1 warning(s)" in err and "vocals: " in err and "%) beyond ±1 clipped" in err
    assert main(base + ["-o", str(tmp_path / "scale"), "--clip", "scale"]) == 0
    doc = json.loads((tmp_path / "scale" / "example_f0.json").read_text())
    v, _ = sf.read(tmp_path / "scale" / "example_vocals.wav")
    assert doc["output_gain"] < 0.5 and 0.99 < np.abs(v).max() <= 1.0
    assert "scaled by" in capsys.readouterr().err
    assert main(base + ["-o", str(tmp_path / "float"), "--clip", "float"]) == 0
    assert sf.info(str(tmp_path / "float" / "example_vocals.wav")).subtype == "FLOAT"
    assert sf.info(str(tmp_path / "float" / "example_accompaniment.wav")).subtype == "PCM_16"


def test_help_is_honest(tmp_path, tiny_model_dir, capsys, monkeypatch):
    """Issue 15.3: the help's example failed (--subtype PCM_24), showed RST backticks, no -o help, no defaults."""
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text
    for shown in ("-o DIR, --output-dir DIR", "(default: majl_output)", "(default: viterbi)", "(default: 12.0)",
                  "(default: cpu)", "(default: {name}_{part}.{ext})", "(default: 16)", "(default: warn)"):
        assert shown in text, shown
    examples = [line.strip().split("  #")[0] for line in text.splitlines() if line.strip().startswith("majl-vocal ")]
    assert len(examples) >= 3
    for line in examples:  # every example parses
        build_parser().parse_args(shlex.split(line)[1:])
    assert build_parser().parse_args(["x", "--subtype", "PCM_24"]).subtype == "24"  # soundfile's name works too
    # and the first one runs (on a copy of the example named as in the help)
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLE, tmp_path / "song.mp3")
    assert main(shlex.split(examples[0])[1:] + ["--model", str(tiny_model_dir), "-q"]) == 0
    assert (tmp_path / "out" / "song_vocals.wav").is_file() and (tmp_path / "out" / "song_f0.png").is_file()


def test_quiet_run_prints_nothing(example_wav, tmp_path, tiny_model_dir, capfd):
    """Issue 15.4: -q prints only problems — nothing at all from a good run, at the file-descriptor
    level too (decoder notes, Hub messages, progress bars)."""
    half = tmp_path / "half.mp3"  # mpg123 prints notes on fd 2 while decoding this one
    half.write_bytes(EXAMPLE.read_bytes()[: EXAMPLE.stat().st_size // 2])
    assert main([str(example_wav), "-o", str(tmp_path / "o"), "--model", str(tiny_model_dir), "-q"]) == 0
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert main([str(half), "-o", str(tmp_path / "o2"), "--model", str(tiny_model_dir), "-q", "--no-plot"]) == 0
    err = capfd.readouterr().err
    lines = err.strip().splitlines()
    assert "Illegal Audio-MPEG-Header" not in err and "Xing" not in err
    assert len([ln for ln in lines if "partial file" in ln]) == 1  # one clear line for the one problem


def test_streamed_path_writes_what_the_pipeline_gives(example_wav, tmp_path, tiny_model_dir, monkeypatch):
    """Issue 13: files are processed block by block (majl_hf.inference.stream); the outputs are
    those of the pipeline on the whole file + save_result, byte for byte, lengths sample-exact."""
    import majl_hf.inference.stream as stream
    from majl_hf.audio import save_result

    calls = []
    real = stream.separate_file
    monkeypatch.setattr(stream, "separate_file", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    out = tmp_path / "out"
    assert main([str(example_wav), "-o", str(out), "--model", str(tiny_model_dir), "-q"]) == 0
    assert calls == [example_wav]  # the streamed path was taken
    pipe = cli.load_pipeline(build_parser().parse_args([str(example_wav), "--model", str(tiny_model_dir)]))
    # the CLI's defaults are the pipeline's: its voicing rule and decoder
    result = pipe(str(example_wav), chunk_length_s=12.0, frames_per_batch=64, vocal_gate_db=None,
                  return_accompaniment=True)
    ref = save_result(result, tmp_path / "ref", "example", subtype="PCM_16", source=example_wav,
                      metadata={"model": str(tiny_model_dir), "voicing_threshold": None, "decoder": "viterbi"})
    for key, path in ref.paths.items():
        got = out / path.name
        if key == "f0.png":  # same pixels (the PNG's metadata may differ)
            from PIL import Image

            assert np.array_equal(np.asarray(Image.open(got)), np.asarray(Image.open(path)))
        else:
            assert got.read_bytes() == path.read_bytes(), key
    assert sf.info(str(out / "example_vocals.wav")).frames == 88200


def test_streamed_clip_modes(tmp_path, tiny_model_dir, capsys):
    """--clip scale needs the peak of both parts before the first sample is written: the streamed
    path spools them as float beside their targets, then converts; --clip float picks the subtype
    per part the same way; nothing temporary is left behind."""
    x, sr = sf.read(EXAMPLE, dtype="float32")
    loud = tmp_path / "loud.wav"
    sf.write(loud, 4 * x[: 2 * sr], sr, subtype="FLOAT")  # peaks ~2.4: the outputs go beyond ±1
    base = [str(loud), "--model", str(tiny_model_dir), "-q", "--no-plot"]
    assert main(base + ["-o", str(tmp_path / "scale"), "--clip", "scale"]) == 0
    assert "scaled by" in capsys.readouterr().err
    doc = json.loads((tmp_path / "scale" / "loud_f0.json").read_text())
    v, _ = sf.read(tmp_path / "scale" / "loud_vocals.wav")
    a, _ = sf.read(tmp_path / "scale" / "loud_accompaniment.wav")
    assert doc["output_gain"] < 1 and max(np.abs(v).max(), np.abs(a).max()) > 0.99
    assert np.abs(v).max() <= 1.0 and np.abs(a).max() <= 1.0 and v.shape == a.shape == (2 * sr, 2)
    assert main(base + ["-o", str(tmp_path / "float"), "--clip", "float"]) == 0
    subtypes = {p: sf.info(str(tmp_path / "float" / f"loud_{p}.wav")).subtype for p in ("vocals", "accompaniment")}
    assert "FLOAT" in subtypes.values()
    for folder in ("scale", "float"):
        assert not [p for p in (tmp_path / folder).iterdir() if p.name.startswith(".")]


def test_notes_write_csv_and_midi_equal_to_the_segmented_f0(tmp_path):
    """--notes: {name}_notes.csv and {name}_notes.mid hold the notes segmented from the written f0."""
    pytest.importorskip("pretty_midi")
    import json

    import majl_hf
    from majl_hf.hub import is_cached
    from majl_hf.notes import read_midi, read_notes_csv, segment_notes

    if not is_cached(majl_hf.DEFAULT_MODEL_TINY):
        pytest.skip("the tiny default is not in the HF cache: run python scripts/build_default.py")
    out = tmp_path / "out"
    assert main([str(EXAMPLE), "-o", str(out), "--model", majl_hf.DEFAULT_MODEL_TINY, "-q", "--notes",
                 "--no-plot"]) == 0
    track = json.loads((out / f"{EXAMPLE.stem}_f0.json").read_text())
    want = segment_notes(np.array(track["times_s"]), np.array(track["f0_hz"], dtype=np.float32),
                         np.array(track["voiced"]))
    from_csv = read_notes_csv(out / f"{EXAMPLE.stem}_notes.csv")
    from_midi = read_midi(out / f"{EXAMPLE.stem}_notes.mid")
    assert len(want) >= 3 and len(from_csv) == len(from_midi) == len(want)
    for a, b, c in zip(want, from_csv, from_midi):
        assert a.pitch == b.pitch == c.pitch
        assert abs(a.onset_s - b.onset_s) < 1e-3 and abs(a.onset_s - c.onset_s) < 1e-3
    # without --overwrite a second run refuses to replace them (exit 2), with it, it does
    assert main([str(EXAMPLE), "-o", str(out), "--model", majl_hf.DEFAULT_MODEL_TINY, "-q", "--notes",
                 "--no-plot"]) == 2
