"""Writing a result that arrives in blocks (majl_hf.audio.ResultWriter / BlockAudioWriter, the
command line's streamed path): the same files, byte for byte, as save_result on the whole arrays,
for every clip mode (scale and float spool the audio until the peaks are known)."""

import json
import warnings

import numpy as np
import pytest
import soundfile as sf

from majl_hf.audio import BlockAudioWriter, ClippingWarning, ResultWriter, _dump_json, save_result


def _result(n=22050 * 3 + 11, sr=22050, peak=1.6):
    rng = np.random.default_rng(0)
    t = np.arange(n) / sr
    v = np.stack([np.sin(2 * np.pi * 220 * t), 0.5 * np.sin(2 * np.pi * 330 * t)]).astype(np.float32)
    v[:, n // 2] = [peak, -peak]
    times = np.arange(0, n / sr, 0.02)
    return {"vocals": v, "accompaniment": (0.3 * rng.standard_normal((2, n))).astype(np.float32),
            "sampling_rate": sr, "times_s": times, "f0_hz": np.where(np.arange(len(times)) % 5, 220.0, 0.0),
            "confidence": rng.random(len(times)).astype(np.float32), "voiced": np.arange(len(times)) % 5 > 0}


def _streamed(result, folder, name, block=5000, **kw):
    v = result["vocals"]
    w = ResultWriter(folder, name, sampling_rate=result["sampling_rate"], channels=v.shape[0], num_frames=v.shape[-1],
                     **kw)
    for s in range(0, v.shape[-1], block):
        for key in ("vocals", "accompaniment"):
            w.write(key, result[key][:, s : s + block])
    return w.close(result["times_s"], result["f0_hz"], result["confidence"], result["voiced"])


@pytest.mark.parametrize("clip,subtype,fmt", [("warn", "16", "wav"), ("scale", "16", "wav"), ("float", "24", "wav"),
                                               ("scale", "24", "flac"), ("warn", "float", "wav")])
def test_blocks_write_the_same_files(tmp_path, clip, subtype, fmt):
    result = _result()
    with warnings.catch_warnings(record=True) as ref_w:
        warnings.simplefilter("always")
        ref = save_result(result, tmp_path / "one", "song", clip=clip, subtype=subtype, format=fmt,
                          metadata={"model": "m"})
    with warnings.catch_warnings(record=True) as got_w:
        warnings.simplefilter("always")
        got = _streamed(result, tmp_path / "blocks", "song", clip=clip, subtype=subtype, format=fmt,
                        metadata={"model": "m"})
    assert got.paths.keys() == ref.paths.keys() and got.messages == ref.messages and got.gain == ref.gain
    assert [str(w.message) for w in got_w] == [str(w.message) for w in ref_w]
    for key in ref.paths:
        if key in ("vocals", "accompaniment") and sf.info(str(ref.paths[key])).subtype == "FLOAT":
            # float WAVs carry a PEAK chunk with a time stamp: compare what they hold
            a, b = sf.read(ref.paths[key], dtype="float32")[0], sf.read(got.paths[key], dtype="float32")[0]
            assert sf.info(str(got.paths[key])).subtype == "FLOAT" and np.array_equal(a, b), key
        else:
            assert got.paths[key].read_bytes() == ref.paths[key].read_bytes(), key
    print(f"{clip}/{subtype}/{fmt}: {len(ref.messages)} message(s), gain {ref.gain:.3f}: files identical")
    assert not [p for p in (tmp_path / "blocks").iterdir() if p.name.startswith(".")]  # no temporary left


def test_save_result_matches_the_formulas(tmp_path):
    """The one-shot writer still does what it did: scale to the louder peak, float when it must."""
    result = _result(peak=2.0)
    with pytest.warns(ClippingWarning, match="scaled by 0.500"):
        saved = save_result(result, tmp_path, "s", clip="scale", plot=False)
    v, _ = sf.read(saved.paths["vocals"], dtype="float32")
    assert abs(np.abs(v).max() - 1.0) < 1e-4 and json.loads(saved.paths["f0.json"].read_text())["output_gain"] == 0.5
    with pytest.warns(ClippingWarning, match="written as float"):
        saved = save_result(result, tmp_path / "f", "s", clip="float", plot=False)
    back, _ = sf.read(saved.paths["vocals"], dtype="float32")
    assert sf.info(str(saved.paths["vocals"])).subtype == "FLOAT" and np.array_equal(back.T, result["vocals"])


def test_json_is_json_dumps_text(tmp_path):
    import io

    values = np.linspace(0, 1, 200003)
    head = {"source": None, "sampling_rate": 44100, "hop_s": 0.02, "model": "x"}
    f = io.StringIO()
    _dump_json(f, head, {"times_s": (values, lambda t: round(float(t), 4)), "voiced": (values > 0.5, bool)})
    want = json.dumps({**head, "times_s": [round(float(t), 4) for t in values],
                       "voiced": [bool(x) for x in values > 0.5]})
    assert f.getvalue() == want
    f = io.StringIO()
    _dump_json(f, {}, {"a": (np.zeros(0), float)})
    assert f.getvalue() == json.dumps({"a": []})


def test_abort_and_overwrite_rules(tmp_path):
    target = tmp_path / "v.wav"
    target.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        BlockAudioWriter(target, 22050, 2)
    w = BlockAudioWriter(target, 22050, 2, clip="scale", overwrite=True)  # spooled: the peak is unknown
    w.write(np.ones((2, 100), np.float32) * 3)
    assert w.peak == 3.0 and any(p.name.startswith(".v.wav.spool") for p in tmp_path.iterdir())
    w.abort()
    assert target.read_bytes() == b"mine" and sorted(p.name for p in tmp_path.iterdir()) == ["v.wav"]
    w = BlockAudioWriter(target, 22050, 2, clip="scale", overwrite=True)
    w.write(np.ones((2, 100), np.float32) * 3)
    report = w.close()
    x, _ = sf.read(target, dtype="float32")
    assert report.gain == pytest.approx(1 / 3) and np.allclose(x, 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="block must be"):
        BlockAudioWriter(tmp_path / "w.wav", 22050, 2).write(np.zeros((3, 10), np.float32))
