"""Streamed inference (majl_hf.inference.stream): a file processed block by block gives the
pipeline's result — the same samples, sample-exact lengths, the same f0 and voicing — and each
streamed stage equals its whole-signal counterpart in apply.py whatever the block sizes."""

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from majl_hf import MajlConfig, MajlModel
from majl_hf.inference import apply
from majl_hf.inference.stream import (
    JuliusStream,
    OutputStream,
    PitchStream,
    _LevelMeter,
    iter_separate,
    separate_file,
    separate_stream,
)
from tests.conftest import EXAMPLE, TINY_SEPARATOR
from tests.models.test_backbone_contract import ToyWaveformConfig, ToyWaveformSeparator
from tests.models.test_backbones import TINY


def _odd_blocks(x: torch.Tensor, sizes=(1, 4097, 30011, 777)):
    """Views of x in blocks of varying, awkward sizes (a decoder's blocks are not chunk-aligned)."""
    s, i = 0, 0
    while s < x.shape[-1]:
        k = sizes[i % len(sizes)]
        yield x[:, s : s + k]
        s, i = s + k, i + 1


def _cents(a, b):
    return 1200 * np.abs(np.log2(a / b))


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    """A small random cascade (Spleeter's layout at toy size + CREPE tiny on a 64 ms grid: quick on
    minutes of audio) behind the real pipeline."""
    from transformers import pipeline

    import majl_hf.pipelines  # noqa: F401

    torch.manual_seed(0)
    model = MajlModel(MajlConfig(separator_config=dict(TINY_SEPARATOR),
                                 pitch_config={"model_type": "crepe", "capacity": "tiny", "hop_length": 1024}))
    path = tmp_path_factory.mktemp("fast_majl")
    model.eval().save_pretrained(path)
    return pipeline("majl-vocal", model=str(path))


def _compare(ref, got):
    for key in ("vocals", "accompaniment"):
        assert got[key].shape == ref[key].shape  # sample-exact length, same channels
        err = float(np.abs(got[key] - ref[key]).max())
        print(f"{key}: max abs diff {err:.2e}")
        assert err <= 1e-6
    assert np.array_equal(got["times_s"], ref["times_s"])
    assert np.array_equal(got["voiced"], ref["voiced"])  # identical voicing
    v = ref["voiced"]
    worst = float(_cents(got["f0_hz"][v], ref["f0_hz"][v]).max()) if v.any() else 0.0
    print(f"f0: {v.sum()} voiced frames, max diff {worst:.2e} cents")
    assert worst < 1.0
    assert np.abs(got["confidence"] - ref["confidence"]).max() <= 1e-6


def test_file_equals_the_pipeline_on_the_example(pipe):
    """The bundled MP3 (stereo 44.1 kHz): streamed from the file = the pipeline on the same file."""
    ref = pipe(str(EXAMPLE))
    got = separate_file(pipe.model, EXAMPLE, voicing=pipe.voicing_rule())
    _compare(ref, got)
    assert got["vocals"].shape == (2, 479832)


def test_two_minute_file_at_another_rate_and_mono(pipe, tmp_path):
    """A generated 2-minute mono 22.05 kHz file: soxr both ways (streamed = one-shot), mono → the
    model's stereo and back, julius' 30 s blocks at the pitch rate, several separation chunks."""
    sr = 22050
    t = np.arange(120 * sr + 123) / sr
    rng = np.random.default_rng(0)
    f = 220 * 2 ** (np.floor(t / 0.5) % 12 / 12)  # a note every 0.5 s
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(f) / sr) * (np.sin(2 * np.pi * t / 7) > -0.3) + 0.02 * rng.standard_normal(
        t.shape)
    path = tmp_path / "two_minutes.flac"
    sf.write(path, x.astype(np.float32), sr, subtype="PCM_24")
    ref = pipe(str(path))
    got = separate_file(pipe.model, path, voicing=pipe.voicing_rule(), frames_per_batch=48)
    _compare(ref, got)
    assert got["vocals"].shape == (1, len(t)) and got["sampling_rate"] == sr


def test_sinks_get_the_exact_length_in_blocks(pipe):
    got = {"vocals": [], "accompaniment": []}
    infos = []
    out = separate_file(pipe.model, EXAMPLE, {k: got[k].append for k in got}, on_info=infos.append,
                        chunk_length_s=2.0)
    assert infos[0].num_samples == 479832 and infos[0].channels == 2
    for key, blocks in got.items():
        assert len(blocks) > 1  # written block by block...
        assert sum(b.shape[-1] for b in blocks) == 479832 and all(b.shape[0] == 2 for b in blocks)  # ...exactly
    assert "vocals" not in out and len(out["f0_hz"]) == len(out["times_s"])


@pytest.mark.parametrize("sep_name", ["tiny_spleeter", "resunet_decouple", "toy_waveform"])
def test_streamed_separation_equals_separate_long(sep_name):
    """iter_separate on odd blocks = separate_long / separate_waveform_long on the whole tensor, bit for bit."""
    torch.manual_seed(0)
    if sep_name == "tiny_spleeter":
        model = MajlModel(MajlConfig(separator_config=dict(TINY_SEPARATOR),
                                     pitch_config={"model_type": "crepe", "capacity": "tiny"})).separator.eval()
        chunk, ctx = 64, None
    elif sep_name == "toy_waveform":
        model = ToyWaveformSeparator(ToyWaveformConfig()).eval()
        chunk, ctx = 3000, None
    else:
        cls, cfg = TINY[sep_name]
        model = cls(cfg).eval()
        chunk, ctx = 16 * max(1, model.frame_alignment), None
    sr = model.config.sampling_rate
    x = 0.1 * torch.randn(model.config.audio_channels, int(2.3 * sr))
    with torch.no_grad():
        if model.is_spectral:
            ref_v, ref_a = apply.separate_long(model, x, chunk, ctx)
        else:
            ref_v, ref_a = apply.separate_waveform_long(model, x, chunk, ctx)
        parts = list(iter_separate(model, _odd_blocks(x), x.shape[-1], chunk, ctx))
    assert len(parts) > 2
    starts = [p[0] for p in parts]
    assert starts[0] == 0 and all(b == a + p[1].shape[-1] for a, b, p in zip(starts, starts[1:], parts))
    v = torch.cat([p[1] for p in parts], -1)
    a = torch.cat([p[2] for p in parts], -1)
    m = torch.cat([p[3] for p in parts], -1)
    assert v.shape == x.shape and torch.equal(v, ref_v) and torch.equal(a, ref_a) and torch.equal(m, x)
    if not model.is_spectral:  # and the black box's chunking is exact for a receptive field within the fade
        with torch.no_grad():
            whole = model(x[None]).vocals[0]
        print(f"waveform chunks vs one forward: {(v - whole).abs().max():.2e}")
        assert (v - whole).abs().max() < 1e-6


def test_julius_stream_equals_resample_long():
    torch.manual_seed(0)
    for n, block_s in ((44100 * 3 + 17, 0.5), (44100 + 5, 30.0)):  # several blocks; one call
        x = torch.randn(2, n)
        ref = apply.resample_long(x, 44100, 16000, block_s=block_s)
        js = JuliusStream(44100, 16000, n, block_s=block_s)
        got = torch.cat([js.push(b) for b in _odd_blocks(x)] + [js.finish()])
        assert got.shape == ref.shape and torch.equal(got, ref)
    js = JuliusStream(16000, 16000, 100)
    assert torch.equal(js.push(torch.ones(2, 100)), torch.ones(100))


def test_level_meter_equals_gated_level():
    torch.manual_seed(0)
    x = torch.randn(2, 44100 * 5 + 333) * torch.linspace(0, 1, 44100 * 5 + 333)
    meter = _LevelMeter(44100)
    for b in _odd_blocks(x):
        meter.push(b)
    assert meter.gain() == apply.level_gain(x, 44100)


@pytest.mark.parametrize("decoder", ["viterbi", "weighted_average"])
@pytest.mark.parametrize("pe_name", ["crepe", "fcpe", "swiftf0"])
def test_pitch_stream_equals_apply_majl(pe_name, decoder):
    """PitchStream inside separate_stream = apply_majl's activations (frame-local CREPE and the
    segment-wise estimators), decoded; with a gate so that silent frames are skipped."""
    from majl_hf.pitch.decode import decode_cents

    torch.manual_seed(0)
    _, pcfg = TINY[pe_name]
    model = MajlModel(MajlConfig(separator_config=dict(TINY_SEPARATOR), pitch_config=pcfg.to_dict())).eval()
    n = int(4.2 * 44100)
    x = 0.2 * torch.randn(2, n)
    x[:, 44100:88200] = 0  # a silent second: gated frames
    ref = apply.apply_majl(model, x.clone(), chunk_length_s=1.0, frames_per_batch=8, gate_db=-60.0)
    got_audio = {"vocals": [], "accompaniment": []}
    got = separate_stream(model, lambda: _odd_blocks(x), None, {k: got_audio[k].append for k in got_audio},
                          chunk_length_s=1.0, frames_per_batch=8, gate_db=-60.0, keep_probabilities=True,
                          decoder=decoder)
    assert got.level_gain == ref.level_gain
    for key in got_audio:
        assert torch.equal(torch.cat(got_audio[key], -1), getattr(ref, key)[0])
    probs = ref.pitch_probabilities[0]
    print(f"{pe_name}: activations max abs diff {(got.probabilities - probs).abs().max():.2e}")
    assert (got.probabilities - probs).abs().max() <= 1e-6
    assert np.array_equal(got.gated, ref.gated[0].numpy()) and got.gated.any() and not got.gated.all()
    assert torch.equal(got.vocals_db, ref.vocals_db[0]) and torch.equal(got.mixture_db, ref.mixture_db[0])
    cents = decode_cents(probs, model.pitch_bins, decoder, window=model.pitch_estimator.decode_window)
    assert (got.cents - cents).abs().max() < 1e-3 and torch.equal(got.confidence, probs.amax(-1))


def test_viterbi_decoder_streams_too():
    from majl_hf.pitch.decode import decode_cents

    torch.manual_seed(0)
    model = MajlModel(MajlConfig(separator_config=dict(TINY_SEPARATOR),
                                 pitch_config={"model_type": "crepe", "capacity": "tiny"})).eval()
    x = 0.2 * torch.randn(2, 2 * 44100)
    ref = apply.apply_majl(model, x.clone())
    got = separate_stream(model, lambda: _odd_blocks(x), x.shape[-1], decoder="viterbi")
    want = decode_cents(ref.pitch_probabilities[0], model.pitch_bins, "viterbi")
    assert (got.cents - want).abs().max() < 1e-3
    with pytest.raises(ValueError, match="decoder must be one of"):
        PitchStream(model, 100, decoder="nope")


def test_output_stream_equals_from_model_output():
    from majl_hf.feature_extraction_majl import AudioInfo, from_model_output

    rng = np.random.default_rng(0)
    y = rng.standard_normal((2, 44100 * 2 + 7)).astype(np.float32)
    for out_sr, channels, frames in ((48000, 1, 96007), (22050, 2, 44100 + 3), (44100, 2, 88207)):
        ref = from_model_output(y, 44100, AudioInfo(out_sr, channels, channels, frames))
        got = []
        o = OutputStream(44100, 2, out_sr, channels, frames, got.append)
        for b in _odd_blocks(torch.from_numpy(y)):
            o.write(b)
        o.close()
        got = np.concatenate(got, -1)
        assert got.shape == ref.shape and np.array_equal(got, ref), out_sr
    # soxr's stream is its one-shot resampling (what makes the above exact)
    s = soxr.ResampleStream(44100, 16000, 2, dtype="float32", quality="HQ")
    parts = [s.resample_chunk(np.ascontiguousarray(y[:, i : i + 9999].T)) for i in range(0, y.shape[1], 9999)]
    parts.append(s.resample_chunk(np.zeros((0, 2), np.float32), last=True))
    assert np.array_equal(np.concatenate(parts), soxr.resample(y.T, 44100, 16000, quality="HQ"))


def test_file_checks_before_any_output(pipe, tmp_path):
    from majl_hf.audio import AudioInputError, PartialAudioWarning

    bad = tmp_path / "nan.wav"
    x = np.zeros((2, 22050), np.float32)
    x[0, 20000] = np.nan
    sf.write(bad, x.T, 22050, subtype="FLOAT")
    written = []
    with pytest.raises(AudioInputError, match="NaN/Inf"):
        separate_file(pipe.model, bad, {"vocals": written.append})
    assert written == []
    cut = tmp_path / "cut.wav"
    sf.write(tmp_path / "full.wav", 0.1 * np.ones(44100, np.float32), 22050, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    cut.write_bytes(data[: 44 + (len(data) - 44) // 2])
    with pytest.warns(PartialAudioWarning) as rec:
        out = separate_file(pipe.model, cut)
    assert len([w for w in rec if issubclass(w.category, PartialAudioWarning)]) == 1  # once, not per pass
    assert out["vocals"].shape == (1, 22050)
    loud = tmp_path / "surround.wav"
    sf.write(loud, 0.1 * np.ones((22050, 4), np.float32), 22050)
    with pytest.warns(UserWarning, match="4 channels downmixed to mono"):
        assert separate_file(pipe.model, loud)["vocals"].shape == (1, 22050)


@pytest.mark.parametrize("c,n,length,hop", [(2, 300, 4096, 1024), (1, 5, 512, 128), (2, 3, 400, 160), (1, 1, 8, 4)])
def test_fold_frames_equals_fold_bit_for_bit(c, n, length, hop):
    """The overlap-add of the inverse STFT (shifted slice sums when hop divides the frame length, ``fold``
    otherwise) gives exactly col2im's values, so outputs stay bit-identical to the fold-based code."""
    from majl_hf.inference.apply import _fold_frames

    torch.manual_seed(0)
    frames = torch.randn(c, n, length) * torch.logspace(0, -5, length)  # spread magnitudes: rounding shows
    span = (n - 1) * hop + length
    ref = torch.nn.functional.fold(
        frames.transpose(1, 2), output_size=(1, span), kernel_size=(1, length), stride=(1, hop)
    ).reshape(c, span)
    assert torch.equal(_fold_frames(frames, hop), ref)
