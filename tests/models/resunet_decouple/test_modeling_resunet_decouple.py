"""ResUNetDecouple+ (ResUNet143 Decouple+, Kong et al. 2021): the published size, the decoupled
output, the chunking contract, bf16, save/load and training inside the MAJL cascade."""

import math

import pytest
import torch

from majl_hf import MajlConfig, MajlModel
from majl_hf.inference.apply import separate_long
from majl_hf.models.resunet_decouple import ResUNetDecoupleConfig, ResUNetDecoupleModel
from majl_hf.models.resunet_decouple.configuration_resunet_decouple import PRESETS

# Counted from the authors' code (bytesep 0.1.1, ResUNet143_DecouplePlusInplaceABN_ISMIR2021 with
# InPlaceABNSync replaced by BatchNorm2d + LeakyReLU, one target source); test_original_resunet_decouple.py
# recounts it from the wheel.
ORIGINAL_PARAMETERS = {2: 102_571_278, 1: 102_570_824}  # audio channels → trainable parameters
CREPE_TINY = {"model_type": "crepe", "capacity": "tiny", "hop_length": 320}
DEEPER = {"encoder_channels": [2, 4, 4, 4], "time_downsample_levels": 3, "blocks_per_stage": 2, "bottleneck_stages": 2}


def count(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def tiny(**overrides):
    return ResUNetDecoupleModel(ResUNetDecoupleConfig.from_preset("tiny", **overrides)).eval()


def randomize_batch_norms(model):
    """Non-trivial BN statistics and affine parameters (else eval-mode BN is the identity)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model


def test_presets():
    cfg = ResUNetDecoupleConfig.from_preset("ismir2021")
    assert (cfg.sampling_rate, cfg.audio_channels, cfg.n_fft, cfg.hop_length) == (44100, 2, 2048, 441)
    cfg = ResUNetDecoupleConfig.from_preset("majl", hop_length=160)
    assert (cfg.sampling_rate, cfg.audio_channels, cfg.n_fft, cfg.hop_length) == (16000, 1, 2048, 160)
    default = ResUNetDecoupleConfig()
    majl = ResUNetDecoupleConfig.from_preset("majl")
    assert default.to_dict() == majl.to_dict()  # the defaults are the MAJL paper's setting
    assert default.encoder_channels == [32, 64, 128, 256, 384, 384]
    assert (default.time_downsampling, default.frequency_downsampling) == (32, 64)
    assert set(PRESETS) == {"ismir2021", "majl", "tiny"}
    with pytest.raises(ValueError, match="preset"):
        ResUNetDecoupleConfig.from_preset("huge")
    with pytest.raises(ValueError, match="time_downsample_levels"):
        ResUNetDecoupleConfig(encoder_channels=[4, 8], time_downsample_levels=3)
    with pytest.raises(ValueError, match="n_fft"):
        ResUNetDecoupleConfig(n_fft=511)


@pytest.mark.parametrize("preset", ["ismir2021", "majl"])
def test_full_size_parameter_count_and_forward(preset):
    """The published size, and one forward on a short input (0.25 s: 30 / 22 STFT frames, padded to 32)."""
    config = ResUNetDecoupleConfig.from_preset(preset)
    model = ResUNetDecoupleModel(config).eval()
    n_params = count(model)
    print(f"{preset}: ours {n_params:,} trainable parameters, original {ORIGINAL_PARAMETERS[config.audio_channels]:,}")
    assert n_params == ORIGINAL_PARAMETERS[config.audio_channels]
    n = config.sampling_rate // 4
    x = torch.randn(1, config.audio_channels, n) * 0.1
    with torch.no_grad():
        out = model(x)
    frames = math.ceil((n + config.n_fft) / config.hop_length)
    assert out.vocals.shape == x.shape and out.accompaniment.shape == x.shape
    assert out.vocals_spectrogram.shape == (1, config.audio_channels, frames, config.n_fft // 2 + 1)
    assert out.vocals_spectrogram.is_complex()
    assert torch.isfinite(out.vocals).all() and out.vocals.abs().max() > 0


def test_tiny_parameter_count_and_shapes():
    model = tiny()
    assert count(model) == 9208
    stereo = tiny(audio_channels=2)
    x = torch.randn(2, 2, 4000) * 0.1
    with torch.no_grad():
        out = stereo(x)
    assert out.vocals.shape == x.shape
    torch.testing.assert_close(out.accompaniment, x - out.vocals)


def test_decoupled_output_formula():
    """With a constant output layer the maps are (m, a, b, q) everywhere: |Ŝ| = relu(sigmoid(m)|X| + q),
    ∠Ŝ = ∠X + atan2(tanh b, tanh a); the Nyquist bin (dropped on the way in) comes out 0."""
    model = tiny()
    m, a, b, q = 0.7, -0.4, 1.3, -0.05
    with torch.no_grad():
        model.output_conv.weight.zero_()
        model.output_conv.bias.copy_(torch.tensor([m, a, b, q]))
    spec = torch.randn(1, 1, 40, 257, dtype=torch.complex64)
    with torch.no_grad():
        voc, acc = model.separate_spectrogram(spec)
    assert acc is None
    mag = spec.abs()
    want_mag = torch.relu(torch.sigmoid(torch.tensor(m)) * mag + q)
    rot = math.atan2(math.tanh(b), math.tanh(a))
    want = want_mag * torch.polar(torch.ones_like(mag), spec.angle() + rot)
    err = (voc[..., :-1] - want[..., :-1]).abs().max().item()
    print(f"max abs err {err:.2e}")
    assert err < 1e-5
    assert voc[..., -1].abs().max().item() == 0.0
    assert (want_mag[..., :-1] == 0).any() and (want_mag[..., :-1] > 0).any()  # both sides of the relu seen


def test_frequency_bins_not_divisible_are_padded():
    """n_fft = 200: 100 bins after the Nyquist one is dropped, padded to 104 for 3 halvings, cropped back."""
    model = tiny(n_fft=200, hop_length=50)
    x = torch.randn(1, 1, 3000) * 0.1
    with torch.no_grad():
        out = model(x)
    assert out.vocals_spectrogram.shape[-1] == 101
    assert torch.isfinite(out.vocals).all()


# the tiny preset, and a deeper toy: 4 stages (3 halving time), 2 blocks per stage, 2 bottleneck stages
SHAPES = {"tiny": {}, "deeper": DEEPER}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_receptive_field_bounds_the_measured_dependence(shape):
    """The gradient of output frames w.r.t. the input magnitude is zero beyond ``receptive_field``
    frames, and the bound is tight to within one alignment step."""
    model = randomize_batch_norms(tiny(**SHAPES[shape])).double()
    assert model.receptive_field == {"tiny": 44, "deeper": 202}[shape]
    t = 4 * model.receptive_field
    mag = (torch.rand(1, 1, t, 257, dtype=torch.float64) + 0.1).requires_grad_(True)
    left = right = 0
    for t0 in range(t // 2, t // 2 + model.frame_alignment):  # every pooling phase
        (g,) = torch.autograd.grad(model.feature_maps(mag)[..., t0, :].sum(), mag)
        hit = torch.nonzero(g.abs().sum((0, 1, 3)) > 0).flatten()
        left, right = max(left, t0 - hit.min().item()), max(right, hit.max().item() - t0)
    rf = model.receptive_field
    print(f"receptive field: measured {left} left / {right} right, declared {rf}, "
          f"context_frames {model.context_frames}")
    assert max(left, right) <= rf
    assert max(left, right) > rf - model.frame_alignment
    assert model.context_frames % model.frame_alignment == 0 and model.context_frames >= rf


@pytest.mark.parametrize(("shape", "channels"), [("tiny", 1), ("tiny", 2), ("deeper", 1)])
def test_chunked_equals_whole(shape, channels):
    """separate_long with chunks (and context) aligned on ``frame_alignment`` frames == one forward."""
    model = randomize_batch_norms(tiny(audio_channels=channels, **SHAPES[shape]))
    sr = model.config.sampling_rate
    seconds = 3 if shape == "tiny" else 8  # several chunks beyond the context (44 / 208 frames each side)
    t = torch.arange(seconds * sr) / sr
    x = 0.3 * torch.sin(2 * math.pi * 220 * t)[None].repeat(channels, 1) + 0.05 * torch.randn(channels, t.numel())
    chunk = 64  # frames: a multiple of frame_alignment (4 / 8)
    assert model.context_frames % model.frame_alignment == 0
    with torch.no_grad():
        whole = model(x[None]).vocals[0]
        vocals, accomp = separate_long(model, x, chunk_frames=chunk)
    err = (vocals - whole).abs().max().item()
    scale = whole.abs().max().item()
    print(f"chunked vs whole: max abs err {err:.2e} (signal peak {scale:.2e})")
    assert scale > 1e-3
    assert err <= 1e-5 * scale
    torch.testing.assert_close(accomp, x - vocals)


def test_bf16_forward_and_backward():
    model = tiny()
    x = torch.randn(2, 1, 8000) * 0.1
    with torch.no_grad():
        ref = model(x).vocals
        model = model.to(torch.bfloat16)
        low = model(x.to(torch.bfloat16)).vocals
    assert low.dtype == torch.bfloat16 and torch.isfinite(low.float()).all()
    err = (low.float() - ref).norm().item() / ref.norm().item()
    print(f"bf16 vs float32: relative RMS error {err:.2e}")
    assert err < 0.05
    model.train()
    out = model(x.to(torch.bfloat16), target_vocals=(0.5 * x).to(torch.bfloat16))
    out.loss.backward()
    assert model.output_conv.weight.grad.dtype == torch.bfloat16
    assert model.encoder[0].blocks[0].conv1.weight.grad.abs().sum() > 0


def test_save_load_round_trip(tmp_path):
    from transformers import AutoConfig, AutoModel

    model = randomize_batch_norms(tiny(audio_channels=2))
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = ResUNetDecoupleModel.from_pretrained(tmp_path).eval()
    auto = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(auto, ResUNetDecoupleModel)
    assert AutoConfig.from_pretrained(tmp_path).encoder_channels == [4, 8, 8]
    x = torch.randn(1, 2, 6000) * 0.1
    with torch.no_grad():
        a, b, c = model(x).vocals, loaded(x).vocals, auto(x).vocals
    err = max((a - b).abs().max().item(), (a - c).abs().max().item())
    print(f"round trip max abs err {err:.2e}")
    assert err <= 1e-6
    strip = lambda d: {k: v for k, v in d.items() if k != "_name_or_path"}  # noqa: E731
    assert strip(loaded.config.to_dict()) == strip(model.config.to_dict())


def _cascade():
    separator_config = dict(PRESETS["tiny"], model_type="resunet_decouple")
    config = MajlConfig(separator_config=separator_config, pitch_config=dict(CREPE_TINY))
    model = MajlModel(config).train()
    assert isinstance(model.separator, ResUNetDecoupleModel)
    n = 16000 // 2
    x = torch.randn(2, 1, n) * 0.1
    f0 = torch.full((2, model.num_pitch_frames(n)), 220.0)
    f0[:, ::3] = 0.0
    return model, x, f0


def test_one_adam_step_lowers_the_cascade_loss():
    model, x, f0 = _cascade()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss():
        torch.manual_seed(1)  # the same dropout masks in CREPE for both evaluations
        return model(x, target_vocals=0.5 * x, target_f0_hz=f0).loss

    before = loss()
    before.backward()
    opt.step()
    opt.zero_grad()
    with torch.no_grad():
        after = loss()
    print(f"cascade loss {before.item():.5f} -> {after.item():.5f}")
    assert after.item() < before.item()


def test_pitch_loss_gradient_reaches_the_separator():
    model, x, f0 = _cascade()
    out = model(x, target_vocals=0.5 * x, target_f0_hz=f0)
    out.loss_pe.mean().backward()
    first = model.separator.encoder[0].blocks[0].conv1.weight.grad
    last = model.separator.output_conv.weight.grad
    assert first is not None and last is not None
    print(f"|grad| of L_pe: first conv {first.abs().sum().item():.2e}, output conv {last.abs().sum().item():.2e}")
    assert first.abs().sum() > 0 and last.abs().sum() > 0
