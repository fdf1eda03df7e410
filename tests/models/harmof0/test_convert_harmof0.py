"""HarmoF0 port with both original checkpoints vs the original code's stored outputs
(../shared/reference/harmof0/, see its README), and its behaviour on the output grid.

Framing of the reference: the original ``PitchTracker.pred`` analyses frame i = waveform[160 i : 160 i + 1024]
(no padding) and labels it ``times[i] = i·10 ms`` — its *start*; the window is centred 512 samples (32 ms)
later, at ``frame_center_times[i]``, which is where the training code put the label. Our frames are centred:
with LEAD = 128 zeros put before the waveform, our frame i + 4 is centred at 160 (i + 4) − 128 = 160 i + 512
samples of the waveform and analyses waveform[160 i : 160 i + 1024]: it is the reference frame i. The
original's 3×3 convolutions zero-pad the feature map at its first and last frame, ours see the signal there,
so the forward comparisons leave out the EDGE frames at each end (the network's time receptive field); the
front-end + network comparison on the reference's own frames covers every frame.
"""

import hashlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.conftest import harmonic_tone, shared_path

CHECKPOINTS = ["mir-1k", "mdb-stem-synth"]
CLIPS = ["80sRock_vocal", "NightOwl_resyn", "Beethoven_mix"]
LEAD, OFFSET = 128, 4  # zeros before the waveform, frames: see the module doc
EDGE = 4  # frames: one per 3×3 conv along time


@pytest.fixture(scope="module")
def models():
    from majl_hf.models.harmof0.convert_harmof0 import convert_harmof0

    return {
        (ckpt, hop): convert_harmof0(shared_path("weights", "harmof0", f"{ckpt}.pth"), hop_length=hop)
        for ckpt in CHECKPOINTS
        for hop in (160, 320)
    }


def reference(ckpt, clip):
    return np.load(shared_path("reference", "harmof0", f"{ckpt}_{clip}.npz"))


@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize("ckpt", CHECKPOINTS)
def test_front_end_and_activations_match_the_original(models, ckpt, clip):
    """The original's own frames through our front-end and network: every frame, every bin."""
    model, ref = models[ckpt, 160], reference(ckpt, clip)
    wav = torch.from_numpy(ref["waveform"])
    frames = wav.unfold(0, int(ref["frame_len"]), int(ref["hop_length"]))[None]
    with torch.no_grad():
        spec = model.log_spectrogram_from_frames(frames)
        act = model.probabilities_from_logits(model.logits_from_spectrogram(spec))[0].numpy()
    spec = spec[0].numpy()
    assert spec.shape == ref["specgram_db"].shape and act.shape == ref["activation"].shape
    err_spec = np.abs(spec - ref["specgram_db"]).max()
    err_act = np.abs(act - ref["activation"]).max()
    print(f"{ckpt} {clip}: spectrum max abs err {err_spec:.2e} dB, activation max abs err {err_act:.2e}")
    assert err_spec <= 1e-4
    assert err_act <= 1e-4


@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize("ckpt", CHECKPOINTS)
def test_forward_and_decoded_f0_match_the_original_at_frame_centres(models, ckpt, clip):
    """``forward`` (centred frames, native grid) on the waveform after LEAD zeros: our frame i + OFFSET is
    the original's frame i, centred at its ``frame_center_times`` (not at its ``times``). The original's
    f0 is the bare argmax bin (``onehot_to_hz``, threshold 0): our ``decode_f0(decoder="argmax")`` —
    the window is unused — gives it within 1 cent on every frame the original calls voiced
    (confidence > 0). Our default decoder (weighted average, window 4) is not the original's."""
    from majl_hf.pitch import cents_difference, decode_f0

    model, ref = models[ckpt, 160], reference(ckpt, clip)
    wav = torch.from_numpy(ref["waveform"])
    with torch.no_grad():
        out = model(torch.nn.functional.pad(wav, (LEAD, 0))[None])
    T = ref["activation"].shape[0]
    ours = slice(OFFSET, OFFSET + T)
    # the frame-time bookkeeping: our centres are the reference's centres, 32 ms after its labels
    np.testing.assert_allclose(out.times_s[ours].numpy() - LEAD / 16000, ref["frame_center_times"], atol=1e-12)
    np.testing.assert_allclose(ref["frame_center_times"] - ref["times"], 0.032, atol=1e-12)

    inner = slice(EDGE, T - EDGE)
    act = out.probabilities[0, ours].numpy()
    err_act = np.abs(act[inner] - ref["activation"][inner]).max()
    f0, conf, voiced = decode_f0(out.probabilities[0, ours], model.pitch_bins, threshold=0.0, decoder="argmax")
    sel = np.zeros(T, dtype=bool)
    sel[inner] = ref["confidence"][inner] > 0
    assert voiced.numpy()[sel].all()
    cents = np.abs(cents_difference(f0.numpy()[sel], ref["f0_hz"][sel]))
    print(f"{ckpt} {clip}: forward activation max abs err {err_act:.2e} on {T - 2 * EDGE} frames; "
          f"f0 max err {cents.max():.2e} cents on {sel.sum()} voiced frames")
    assert err_act <= 1e-4
    assert sel.sum() > 0.5 * T
    assert cents.max() <= 1.0
    np.testing.assert_allclose(conf.numpy()[sel], ref["confidence"][sel], atol=1e-4)


def jump_tone(jump: int) -> torch.Tensor:
    """A harmonic tone at 220 Hz up to sample ``jump``, 330 Hz from there (16 kHz)."""
    x = np.concatenate([harmonic_tone(220.0, jump / 16000), harmonic_tone(330.0, 1.0)])
    return torch.from_numpy(x)[None]


@pytest.mark.parametrize("hop", [320, 160])
def test_frames_are_centred_on_the_output_grid(models, hop):
    """mdb-stem-synth (the tracker's default, trained on exact resynthesis labels at frame centres): a
    pitch jump half-way between two output frames. The first frame centred after the jump reads 330 Hz,
    the last one centred before it does not, frames further out read their tone — so an output grid off
    by one frame (or the original's 32 ms start-of-frame labels) fails."""
    from majl_hf.pitch import cents_difference, decode_f0

    model = models["mdb-stem-synth", hop]
    first_after = 25
    jump = first_after * hop - hop // 2
    with torch.no_grad():
        out = model(jump_tone(jump))
    f0, _, voiced = decode_f0(out.probabilities[0], model.pitch_bins, threshold=0.5)
    f0, voiced = f0.numpy(), voiced.numpy()
    is_330 = voiced & (np.abs(cents_difference(np.maximum(f0, 1.0), 330.0)) < 50)
    is_220 = voiced & (np.abs(cents_difference(np.maximum(f0, 1.0), 220.0)) < 50)
    centres = out.times_s.numpy() * 16000
    assert centres[first_after] > jump > centres[first_after - 1]
    assert is_330[first_after] and not is_330[first_after - 1]
    far = (1024 // 2 + 4 * 160) // hop + 1  # frames whose whole receptive field holds one tone
    assert is_220[3 : first_after - far].all()
    assert is_330[first_after + far : first_after + 40].all()


def test_mir1k_checkpoint_leads_by_one_output_frame(models):
    """The mir-1k checkpoint reads a new pitch about 20 ms early — one 20 ms frame before the jump (its
    training labels, MIR-1K's .pv frames, were placed at i·20 ms by the original's data preparation). A
    property of those weights, kept as is: the frame after the jump reads 330 Hz, and so does the one before."""
    from majl_hf.pitch import cents_difference, decode_f0

    model = models["mir-1k", 320]
    first_after = 25
    with torch.no_grad():
        out = model(jump_tone(first_after * 320 - 160))
    f0, _, voiced = decode_f0(out.probabilities[0], model.pitch_bins, threshold=0.5)
    near_330 = voiced.numpy() & (np.abs(cents_difference(np.maximum(f0.numpy(), 1.0), 330.0)) < 50)
    assert near_330[first_after] and near_330[first_after - 1] and not near_330[first_after - 3]


def short_segments(model, seconds):
    """The same weights with segment-wise inference every ``seconds`` (default: 10 s, one segment here)."""
    from majl_hf.models.harmof0 import HarmoF0Config, HarmoF0Model

    config = HarmoF0Config(hop_length=model.config.hop_length, segment_length_s=seconds)
    short = HarmoF0Model(config)
    short.load_state_dict(model.state_dict())
    return short.eval()


def _host(pe):
    """What pitch_long needs of a cascade when the vocals are already at the PE's rate."""
    return SimpleNamespace(pitch_estimator=pe, sampling_rate=pe.config.sampling_rate,
                           config=SimpleNamespace(resampler_zeros=24, resampler_rolloff=0.945))


def test_chunked_pitch_long_equals_forward_when_the_db_floor_is_shared(models):
    """apply.pitch_long (segments of 0.32 or 1.28 s with context_frames of margin each side) equals the
    whole forward to float rounding when every segment's loudest bin is the same: a gliding harmonic
    voice plus a steady 4 kHz pilot tone on an FFT bin (the loudest bin of every frame, so the top_db
    floor is the same for every segment)."""
    from majl_hf.inference.apply import pitch_long

    sr, n = 16000, 3 * 16000
    t = np.arange(n) / sr
    phase = 2 * np.pi * np.cumsum(150 * 2 ** (0.8 * np.sin(2 * np.pi * 0.4 * t))) / sr
    x = 0.05 * sum(np.sin(h * phase) / h for h in range(1, 9)) + 0.3 * np.sin(2 * np.pi * 4000.0 * t)
    x = torch.from_numpy((x + 1e-5 * np.random.default_rng(0).standard_normal(n)).astype(np.float32))
    with torch.no_grad():
        whole = models["mdb-stem-synth", 320](x[None]).probabilities[0]
    for seconds in (0.32, 1.28):
        model = short_segments(models["mdb-stem-synth", 320], seconds)
        probs, times, gated = pitch_long(_host(model), x[None], frames_per_batch=8)
        err = (probs - whole).abs().max().item()
        print(f"pitch_long ({model.segment_frames} frames/segment) vs forward: max abs err {err:.2e}")
        assert probs.shape == whole.shape and not gated.any()
        assert err <= 1e-5
        np.testing.assert_allclose(times, model.frame_times(whole.shape[0]).numpy())


def test_chunked_pitch_long_on_a_real_vocal(models):
    """On a real vocal the original's dB floor (max of the analysed map − 80 dB) is relative to each
    segment's loudest bin — the original tracker itself does this per 1000-frame chunk, and our default
    segments are as long (10 s: a 3 s clip is one segment, exact) — so short segments change the
    activations where a bin lies below the whole clip's floor, while argmax f0 and voicing stay
    (measured on the 3 s: 100 % / 100 % with 1.28 s segments). Without the floor (top_db=None)
    chunking is exact."""
    from majl_hf.inference.apply import pitch_long
    from majl_hf.pitch import decode_f0

    model = models["mdb-stem-synth", 320]
    wav = torch.from_numpy(reference("mdb-stem-synth", "80sRock_vocal")["waveform"][: 3 * 16000])
    with torch.no_grad():
        whole = model(wav[None]).probabilities[0]
    probs, _, _ = pitch_long(_host(model), wav[None])
    assert (probs - whole).abs().max().item() <= 1e-6  # one segment
    probs, _, _ = pitch_long(_host(short_segments(model, 1.28)), wav[None])
    f_w, _, v_w = decode_f0(whole, model.pitch_bins, 0.5, "argmax")
    f_c, _, v_c = decode_f0(probs, model.pitch_bins, 0.5, "argmax")
    both = v_w & v_c
    same = (f_w[both] == f_c[both]).float().mean().item()
    frames_off = ((probs - whole).abs().amax(-1) > 1e-4).float().mean().item()
    print(f"real vocal, 1.28 s segments: {frames_off:.1%} frames differ by > 1e-4; argmax f0 identical on "
          f"{same:.1%} of {both.sum()} voiced frames; voicing agrees on {(v_w == v_c).float().mean():.1%}")
    assert frames_off > 0  # the floor's effect is real (else this test would show nothing)
    assert same >= 0.98 and (v_w == v_c).float().mean() >= 0.98

    no_floor = short_segments(model, 1.28)
    no_floor.config.top_db = None
    with torch.no_grad():
        whole = no_floor(wav[None]).probabilities[0]
    probs, _, _ = pitch_long(_host(no_floor), wav[None])
    err = (probs - whole).abs().max().item()
    print(f"real vocal, top_db=None, 1.28 s segments: pitch_long vs forward max abs err {err:.2e}")
    assert err <= 1e-5


def test_bf16_follows_float32(models):
    """The converted network in bfloat16: decoded f0 within 25 cents of float32 on a harmonic tone."""
    from majl_hf.models.harmof0 import HarmoF0Model
    from majl_hf.pitch import cents_difference, decode_f0

    ref_model = models["mdb-stem-synth", 320]
    model = HarmoF0Model(ref_model.config)
    model.load_state_dict(ref_model.state_dict())
    model = model.to(torch.bfloat16).eval()
    x = torch.from_numpy(harmonic_tone(196.0, 0.6))[None]
    with torch.no_grad():
        p32 = ref_model(x).probabilities[0, 3:-3]
        out = model(x.to(torch.bfloat16))
    assert model.conv_6.weight.dtype == torch.bfloat16 and out.logits.dtype == torch.float32
    f32, _, v32 = decode_f0(p32, model.pitch_bins)
    f16, _, v16 = decode_f0(out.probabilities[0, 3:-3], model.pitch_bins)
    assert v32.all() and v16.all()
    assert np.abs(cents_difference(f16.numpy(), f32.numpy())).max() < 25
    assert np.abs(cents_difference(f32.numpy(), 196.0)).max() < 10


def test_converted_model_round_trips_as_safetensors(tmp_path):
    from majl_hf.models.harmof0 import HarmoF0Model
    from majl_hf.models.harmof0.convert_harmof0 import convert_harmof0

    model = convert_harmof0(shared_path("weights", "harmof0", "mir-1k.pth"), output_dir=tmp_path, hop_length=320)
    assert (tmp_path / "model.safetensors").is_file() and not list(tmp_path.glob("*.bin"))
    loaded, info = HarmoF0Model.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert sum(p.numel() for p in loaded.parameters()) == 372865
    x = torch.from_numpy(harmonic_tone(330.0, 0.5))[None]
    with torch.no_grad():
        a, b = model(x).logits, loaded.eval()(x).logits
    assert torch.equal(a, b)
    assert loaded.config.hop_length == 320 and loaded.config.native_hop_length == 160


def test_checkpoint_with_another_hash_is_refused(tmp_path):
    from majl_hf.models.harmof0.convert_harmof0 import CHECKPOINT_SHA256, load_harmof0_state_dict

    src = shared_path("weights", "harmof0", "mdb-stem-synth.pth")
    assert hashlib.sha256(src.read_bytes()).hexdigest() == CHECKPOINT_SHA256["mdb-stem-synth.pth"]
    tampered = tmp_path / "mdb-stem-synth.pth"
    tampered.write_bytes(src.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="sha256"):
        load_harmof0_state_dict(tampered)
    with pytest.raises(ValueError, match="not an original"):
        load_harmof0_state_dict(tmp_path / "other.pth")
