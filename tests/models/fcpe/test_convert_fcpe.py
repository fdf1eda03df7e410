"""FCPE port vs torchfcpe 0.0.4's stored outputs (../shared/reference/fcpe/), with the bundled weights
converted from the wheel: mel features, raw latent, both decoders, frame alignment, chunked inference."""

import copy
import types

import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT, shared_path

CLIPS = ["80sRock_vocal", "NightOwl_resyn", "Beethoven_mix"]


def torchfcpe_wheel():
    import os
    from pathlib import Path

    from majl_hf.models.fcpe.convert_fcpe import WHEEL_NAME

    candidates = [
        os.environ.get("MAJL_TORCHFCPE_WHEEL"),
        REPO_ROOT / "wheels" / WHEEL_NAME,
        REPO_ROOT.parent / "wheels" / WHEEL_NAME,
    ]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.skip(f"needs {WHEEL_NAME} (pip download --no-deps torchfcpe==0.0.4 into wheels/)")


@pytest.fixture(scope="module")
def fcpe_native():
    from majl_hf.models.fcpe.convert_fcpe import convert_fcpe

    return convert_fcpe(torchfcpe_wheel(), hop_length=160)


@pytest.fixture(scope="module")
def fcpe_320():
    from majl_hf.models.fcpe.convert_fcpe import convert_fcpe

    return convert_fcpe(torchfcpe_wheel(), hop_length=320)


def reference(clip):
    return np.load(shared_path("reference", "fcpe", f"{clip}.npz"))


def test_mel_filterbank_and_bins_match_the_original():
    from majl_hf.models.fcpe import FcpeConfig
    from majl_hf.models.fcpe.modeling_fcpe import slaney_mel_filterbank

    const = np.load(shared_path("reference", "fcpe", "constants.npz"))
    fb = slaney_mel_filterbank(16000, 1024, 128, 0.0, 8000.0)
    err = np.abs(fb - const["mel_basis"]).max()
    print(f"mel filterbank max abs err {err:.2e}")
    assert fb.shape == (128, 513) and err <= 1e-7
    cents_err = np.abs(FcpeConfig().pitch_bins.cents - const["cent_table"].astype(np.float64)).max()
    print(f"bin layout vs cent_table: max {cents_err:.2e} cents")
    assert cents_err < 2e-3  # float32 torch.linspace rounding


@pytest.mark.parametrize("clip", CLIPS)
def test_mel_and_latent_match_torchfcpe(fcpe_native, clip):
    ref = reference(clip)
    x = torch.from_numpy(ref["waveform"])[None]
    with torch.no_grad():
        mel = fcpe_native.mel_spectrogram(x, fcpe_framing=True)[0].T.numpy()
        latent = torch.sigmoid(fcpe_native.native_logits(x, fcpe_framing=True))[0].numpy()
    assert mel.shape == ref["mel"].shape and latent.shape == ref["latent"].shape
    mel_err, lat_err = np.abs(mel - ref["mel"]).max(), np.abs(latent - ref["latent"]).max()
    print(f"{clip}: mel max abs err {mel_err:.2e}, latent max abs err {lat_err:.2e}")
    assert mel_err <= 1e-4
    assert lat_err <= 1e-4


@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize(
    "fcpe_decoder, window",
    [("local_argmax", 4), ("argmax", 359)],  # argmax = weighted mean over all 360 bins: a window covering them all
)
def test_decoders_reproduce_torchfcpe_f0(fcpe_native, clip, fcpe_decoder, window):
    """FCPE's decoders through decode_f0 ('weighted_average'), on our port's latent; threshold 0.006.
    local_argmax clamps its 9-bin window at the layout's edges (repeating edge bins) where decode_f0
    drops the bins outside: the same only when the argmax is 4+ bins from both edges, which the test
    asserts of every voiced frame."""
    from majl_hf.pitch import cents_difference, decode_f0

    ref = reference(clip)
    with torch.no_grad():
        x = torch.from_numpy(ref["waveform"])[None]
        latent = torch.sigmoid(fcpe_native.native_logits(x, fcpe_framing=True))[0]
    f0, confidence, voiced = decode_f0(
        latent, fcpe_native.pitch_bins, threshold=0.006, decoder="weighted_average", window=window
    )
    ref_f0 = ref[f"f0_{fcpe_decoder}"]
    ref_voiced = ref_f0 > 0
    assert ref_voiced.sum() > 100
    assert np.array_equal(voiced.numpy(), ref_voiced)
    am = ref["latent"].argmax(-1)[ref_voiced]
    assert am.min() >= 4 and am.max() <= 355
    err = np.abs(cents_difference(f0.numpy()[ref_voiced], ref_f0[ref_voiced]))
    print(f"{clip} {fcpe_decoder}: max {err.max():.2e} cents on {ref_voiced.sum()} voiced frames")
    assert err.max() < 1.0


def test_centred_framing_is_fcpe_framing_half_a_hop_earlier(fcpe_native):
    """Our native frame i (centred at 160 i) equals FCPE's frame i of the input delayed by 80 samples
    (centred at 160 i + 80 of that input) on every frame clear of the padding."""
    x = torch.from_numpy(reference("80sRock_vocal")["waveform"])[None]
    delayed = torch.cat([torch.zeros(1, 80), x], 1)
    with torch.no_grad():
        ours = fcpe_native.mel_spectrogram(x)[0]
        theirs = fcpe_native.mel_spectrogram(delayed, fcpe_framing=True)[0]
    inner = slice(4, x.shape[-1] // 160 - 4)
    err = (ours[:, inner] - theirs[:, inner]).abs().max().item()
    print(f"centred vs delayed FCPE framing: max abs mel diff {err:.2e}")
    assert err < 1e-4
    assert (ours[:, inner] - fcpe_native.mel_spectrogram(x, fcpe_framing=True)[0][:, inner]).abs().max() > 0.1


def tone_jump(f_a, f_b, t_jump, seconds, sr=16000, n_harmonics=8):
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(np.where(t < t_jump, f_a, f_b)) / sr
    x = sum(np.sin(h * phase) / h for h in range(1, n_harmonics + 1))
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


@pytest.mark.parametrize("f_a, f_b", [(220.0, 330.0), (330.0, 220.0)])
def test_frame_alignment_on_the_20ms_grid(fcpe_320, f_a, f_b):
    """A harmonic tone jumping at 1.01 s (between the frames centred at 1.00 and 1.02 s): every frame
    reads the pitch sounding at its centre, t·20 ms. The same estimates one frame late or early fail."""
    from majl_hf.pitch import cents_difference, decode_f0

    t_jump = 1.01
    with torch.no_grad():
        out = fcpe_320(torch.from_numpy(tone_jump(f_a, f_b, t_jump, 2.0))[None])
    f0, _, voiced = decode_f0(out.probabilities[0], fcpe_320.pitch_bins, threshold=0.5)
    times = out.times_s.numpy()
    assert len(times) == 101 and times[50] == pytest.approx(1.0) and times[51] == pytest.approx(1.02)
    keep = slice(2, -2)  # the first/last frames see the reflect-padded signal edge

    def misses(shift):
        expected = np.where(times + shift * 0.02 < t_jump, f_a, f_b)
        est = np.where(voiced.numpy(), f0.numpy(), 1.0)
        return int((np.abs(cents_difference(est, expected)) > 50)[keep].sum())

    print(
        f"{f_a}->{f_b}: frames off by > 50 cents: aligned {misses(0)}, one frame late {misses(1)}, early {misses(-1)}"
    )
    assert misses(0) == 0
    assert misses(1) >= 1 and misses(-1) >= 1


def test_chunked_inference_matches_whole_forward(fcpe_320):
    """apply.pitch_long (segments of ``segment_frames`` = 60 s with ``context_frames`` of real signal
    each side, clipped at the ends) vs one forward on ~73 s of real vocals (14.6 s tiled 5×: two
    segments, one seam). FCPE's input group norm takes its statistics over the whole input in time,
    so a seam is not exact; short inputs (one segment) are."""
    import julius
    import soundfile as sf

    from majl_hf.inference.apply import pitch_long
    from majl_hf.pitch import cents_difference, decode_f0

    parts = []
    for rel, ch in [
        ("MUSDB18-HQ/train/Music Delta - 80s Rock/vocals.wav", None),
        ("MIR-1K_wav_only/Wavfile/amy_7_08.wav", 1),
    ]:
        a, sr = sf.read(shared_path("data", *rel.split("/")), dtype="float32", always_2d=True)
        mono = torch.from_numpy(np.ascontiguousarray(a.mean(1) if ch is None else a[:, ch]))
        parts.append(julius.resample_frac(mono, sr, 16000) if sr != 16000 else mono)
    y = torch.cat(parts * 5)
    pe = fcpe_320
    assert pe.context_frames >= pe.receptive_field_frames * pe.native_hop_length // pe.config.hop_length
    host = types.SimpleNamespace(
        pitch_estimator=pe,
        sampling_rate=16000,
        config=types.SimpleNamespace(resampler_zeros=24, resampler_rolloff=0.945),
    )
    chunked, times, gated = pitch_long(host, y[None], frames_per_batch=64)
    with torch.no_grad():
        whole = pe(y[None]).probabilities[0]
    n = whole.shape[0]
    assert n > pe.segment_frames  # the seam is exercised
    assert chunked.shape == whole.shape and np.allclose(times, pe.frame_times(n).numpy())
    diff = (chunked - whole).abs().amax(-1).numpy()[~gated]
    f_w, _, v_w = decode_f0(whole, pe.pitch_bins, threshold=0.5)
    f_c, _, v_c = decode_f0(chunked, pe.pitch_bins, threshold=0.5)
    both = (v_w & v_c).numpy()
    cents = np.abs(cents_difference(f_c.numpy()[both], f_w.numpy()[both]))
    flips = int((v_w != v_c).numpy().sum())
    print(
        f"chunked vs whole, {n} frames: max abs activation diff {diff.max():.3f} (p99 {np.quantile(diff, 0.99):.3f}), "
        f"f0 p99 {np.quantile(cents, 0.99):.2f} / max {cents.max():.2f} cents, voicing flips {flips}"
    )
    assert diff.max() < 0.2 and np.quantile(diff, 0.99) < 0.05
    assert np.quantile(cents, 0.99) < 3.0 and cents.max() < 15.0
    assert flips <= 0.01 * n

    short = y[: 10 * 16000]  # one segment: exact
    chunked_short, _, _ = pitch_long(host, short[None], frames_per_batch=64)
    with torch.no_grad():
        np.testing.assert_allclose(chunked_short.numpy(), pe(short[None]).probabilities[0].numpy(), atol=1e-5)


def test_bf16_runs_and_tracks_the_float32_result(fcpe_320):
    from majl_hf.pitch import cents_difference, decode_f0

    x = torch.from_numpy(reference("NightOwl_resyn")["waveform"])[None]
    model = copy.deepcopy(fcpe_320).to(torch.bfloat16)
    assert model.dtype == torch.bfloat16
    with torch.no_grad():
        ref = fcpe_320(x).probabilities[0]
        out = model(x.to(torch.bfloat16))
    assert out.logits.dtype == torch.float32 and torch.isfinite(out.logits).all()
    f_32, _, v_32 = decode_f0(ref, fcpe_320.pitch_bins, threshold=0.5)
    f_16, _, v_16 = decode_f0(out.probabilities[0], fcpe_320.pitch_bins, threshold=0.5)
    both = (v_32 & v_16).numpy()
    err = np.abs(cents_difference(f_16.numpy()[both], f_32.numpy()[both]))
    print(f"bf16 vs fp32: median {np.median(err):.2f} cents, voicing agreement {(v_32 == v_16).float().mean():.3f}")
    assert both.sum() > 50 and np.median(err) < 10.0
    assert (v_32 == v_16).float().mean() > 0.9


def test_converted_weights_round_trip(fcpe_320, tmp_path):
    from majl_hf.models.fcpe import FcpeModel

    fcpe_320.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = FcpeModel.from_pretrained(tmp_path).eval()
    x = torch.from_numpy(reference("Beethoven_mix")["waveform"])[None]
    with torch.no_grad():
        err = (fcpe_320(x).logits - loaded(x).logits).abs().max().item()
    assert err == 0.0


def test_wrong_wheel_is_refused(tmp_path):
    from majl_hf.models.fcpe.convert_fcpe import load_fcpe_checkpoint

    fake = tmp_path / "torchfcpe-0.0.4-py3-none-any.whl"
    fake.write_bytes(b"not a wheel")
    with pytest.raises(ValueError, match="sha256"):
        load_fcpe_checkpoint(fake)


def test_state_dict_mapping_is_complete_and_strict():
    from majl_hf.models.fcpe.convert_fcpe import load_fcpe_checkpoint, map_state_dict

    state = load_fcpe_checkpoint(torchfcpe_wheel())["model"]
    mapped = map_state_dict(state, 6)
    assert len(mapped) == len(state) - 2 - 12  # less the two derived buffers and six unused layer norms (×2)
    with pytest.raises(ValueError, match="unexpected keys"):
        map_state_dict({**state, "net.encoder_layers.0.attn.to_q.weight": torch.zeros(1)}, 6)
