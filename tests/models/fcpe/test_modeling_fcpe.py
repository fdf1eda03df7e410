"""FcpeModel at toy size (no weights needed): output grid, save/load, bf16, gradients, the MAJL cascade."""

import pytest
import torch
from transformers import AutoConfig, AutoModel

from majl_hf.models.fcpe import FcpeConfig, FcpeModel

TINY = dict(num_mels=32, hidden_size=16, num_layers=2, conv_kernel_size=7, group_norm_groups=4, n_bins=64)


def _register():
    # what majl_hf/models/__init__.py will do once fcpe is listed in PITCH_ESTIMATORS
    AutoConfig.register("fcpe", FcpeConfig, exist_ok=True)
    AutoModel.register(FcpeConfig, FcpeModel, exist_ok=True)


def tiny(hop_length=320, **kwargs):
    torch.manual_seed(0)
    return FcpeModel(FcpeConfig(hop_length=hop_length, **TINY, **kwargs)).eval()


@pytest.mark.parametrize("hop", [320, 160, 240, 480])
def test_output_grid(hop):
    model = tiny(hop)
    x = torch.randn(2, 12345) * 0.1
    with torch.no_grad():
        out = model(x)
        native = model.native_logits(x)
    n = 1 + 12345 // hop
    assert out.logits.shape == (2, n, 64) and out.probabilities.shape == (2, n, 64)
    assert out.times_s.shape == (n,) and out.times_s[1].item() == pytest.approx(hop / 16000)
    assert native.shape == (2, 1 + 12345 // 160, 64)
    pos = torch.arange(n, dtype=torch.float64) * hop / 160
    lo = pos.floor().long()
    hi = (lo + 1).clamp_max(native.shape[1] - 1)
    w = (pos - lo).float()[None, :, None]
    expected = native[:, lo] * (1 - w) + native[:, hi] * w  # native frame at the same centre time
    assert (out.logits - expected).abs().max().item() < 1e-5


def test_native_grid_is_the_network_output_and_frames_are_centred():
    model = tiny(160)
    assert model.native_hop_length == 160 and model.frame_length == 1024
    x = torch.randn(1, 8000) * 0.1
    with torch.no_grad():
        assert torch.equal(model(x).logits, model.native_logits(x))
        mel = model.mel_spectrogram(x)
        mel_fcpe = model.mel_spectrogram(x, fcpe_framing=True)
    assert mel.shape == mel_fcpe.shape == (1, 32, 51)
    assert torch.equal(mel_fcpe[..., -1], mel_fcpe[..., -2])  # the original repeats its last frame


def test_short_inputs_use_constant_padding():
    model = tiny()
    for n in (1, 100, 512, 513):
        with torch.no_grad():
            out = model(torch.randn(1, n) * 0.1)
        assert out.logits.shape[1] == 1 + n // 320 and torch.isfinite(out.logits).all()


def test_context_frames_cover_the_receptive_field():
    model = tiny(320)
    assert model.receptive_field_frames == 4 + 2 + 2 * 3
    assert model.context_frames == 6
    assert FcpeModel(FcpeConfig()).context_frames == 48  # bundled size at 20 ms: 96 native frames


def test_save_load_round_trip(tmp_path):
    model = tiny()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)  # away from the initial values
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = FcpeModel.from_pretrained(tmp_path).eval()
    x = torch.randn(2, 9000) * 0.1
    with torch.no_grad():
        assert torch.equal(model(x).logits, loaded(x).logits)
    strip = lambda d: {k: v for k, v in d.items() if k != "_name_or_path"}  # noqa: E731
    assert strip(loaded.config.to_dict()) == strip(model.config.to_dict())
    _register()
    auto = AutoModel.from_pretrained(tmp_path)
    assert type(auto) is FcpeModel


def test_weight_norm_is_initialised_to_the_plain_weight():
    model = tiny()
    g = model.output_proj.parametrizations.weight.original0
    v = model.output_proj.parametrizations.weight.original1
    assert torch.allclose(g, v.norm(dim=1, keepdim=True))
    assert v.abs().max() > 0 and v.std() > 0


def test_bf16_runs():
    model = tiny().to(torch.bfloat16)
    x = torch.randn(2, 8000) * 0.1
    with torch.no_grad():
        out = model(x.to(torch.bfloat16))
        ref = tiny()(x)
    assert out.logits.dtype == torch.float32 and torch.isfinite(out.logits).all()
    assert (out.probabilities - ref.probabilities).abs().max() < 0.05


def test_loss_and_gradient_to_the_input():
    model = tiny().train()
    x = (torch.randn(2, 8000) * 0.1).requires_grad_()
    out = model(x, target_f0_hz=torch.full((2, 1 + 8000 // 320), 220.0))
    assert out.loss.ndim == 0 and out.loss.item() > 0
    out.loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())


def test_inside_majl_gradient_reaches_the_separator():
    from majl_hf import MajlConfig, MajlModel
    from tests.conftest import TINY_SEPARATOR

    _register()
    config = MajlConfig(separator_config=dict(TINY_SEPARATOR), pitch_config={"model_type": "fcpe", **TINY})
    model = MajlModel(config).train()
    assert isinstance(model.pitch_estimator, FcpeModel)
    n = int(0.6 * model.sampling_rate)
    x = torch.randn(2, model.audio_channels, n) * 0.1
    frames = model.num_pitch_frames(n)
    f0 = torch.full((2, frames), 220.0)
    f0[:, ::3] = 0.0
    out = model(x, target_vocals=x * 0.5, target_f0_hz=f0)
    assert out.pitch_logits.shape == (2, frames, 64) and torch.isfinite(out.loss)
    model.zero_grad()
    out.loss_pe.mean().backward()  # the pitch loss alone
    grads = [p.grad.abs().sum().item() for p in model.separator.parameters() if p.grad is not None]
    assert grads and sum(grads) > 0


@pytest.mark.parametrize(
    "field, value",
    [("hidden_size", 0), ("conv_kernel_size", 4), ("group_norm_groups", 3), ("mel_fmax_hz", 9000.0),
     ("f0_max_hz", 20.0), ("hop_length", 0)],
)
def test_invalid_config_names_field(field, value):
    with pytest.raises(ValueError, match=field):
        FcpeConfig(**{**TINY, field: value})


def test_pitch_bins_are_linear_in_cents_between_f0_min_and_max():
    bins = FcpeConfig().pitch_bins
    assert bins.n_bins == 360
    assert bins.fmin_hz == pytest.approx(32.7) and bins.fmax_hz == pytest.approx(1975.5)
    assert bins.cents_per_bin == pytest.approx(19.7775, abs=1e-4)
