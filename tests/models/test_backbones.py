"""Shared checks for every backbone, each with a tiny config: shapes, save/load round trip,
Auto* construction from the config alone, determinism in eval mode, tuple vs ModelOutput."""

import pytest
import torch
from transformers import AutoConfig, AutoModel

import majl_hf  # noqa: F401  (registers the backbones)
from majl_hf import (
    CrepeConfig,
    CrepeModel,
    FcpeConfig,
    FcpeModel,
    HarmoF0Config,
    HarmoF0Model,
    ResUNetDecoupleConfig,
    ResUNetDecoupleModel,
    SwiftF0Config,
    SwiftF0Model,
    UNetSeparatorConfig,
    UNetSeparatorModel,
)

TINY = {
    "unet": (
        UNetSeparatorModel,
        UNetSeparatorConfig(
            sampling_rate=16000, audio_channels=2, n_fft=512, hop_length=128, n_bins=256, patch_frames=64,
            conv_filters=[4, 8, 8, 16],
        ),
    ),
    "unet_direct": (
        UNetSeparatorModel,
        UNetSeparatorConfig(
            sampling_rate=16000, audio_channels=1, n_fft=2048, hop_length=320, n_bins=1024, patch_frames=64,
            conv_filters=[4, 8, 8, 16, 16, 32], stems=["vocals"], mask_mode="direct",
        ),
    ),
    "resunet_decouple": (
        ResUNetDecoupleModel,
        ResUNetDecoupleConfig.from_preset("tiny", hop_length=128, audio_channels=2),
    ),
    "crepe": (CrepeModel, CrepeConfig(capacity="tiny", hop_length=320)),
    "harmof0": (HarmoF0Model, HarmoF0Config.tiny()),
    "fcpe": (FcpeModel, FcpeConfig(num_mels=32, hidden_size=16, num_layers=2, conv_kernel_size=7, n_bins=64)),
    "swiftf0": (SwiftF0Model, SwiftF0Config()),  # the published network is tiny already (18,558 parameters)
}
SEPARATORS = {"unet", "unet_direct", "resunet_decouple"}


def make_input(name, config, seconds=0.75):
    n = int(seconds * config.sampling_rate)
    if name in SEPARATORS:
        return torch.randn(2, config.audio_channels, n) * 0.1
    return torch.randn(2, n) * 0.1


def check_output(name, config, out, x):
    if name in SEPARATORS:
        assert out.vocals.shape == x.shape
        assert out.accompaniment.shape == x.shape
        assert torch.isfinite(out.vocals).all()
    else:
        frames = 1 + x.shape[-1] // config.hop_length
        assert out.logits.shape == (2, frames, config.n_bins)
        assert ((out.probabilities >= 0) & (out.probabilities <= 1)).all()
        assert out.times_s.shape == (frames,)
        assert out.times_s[1].item() == pytest.approx(config.hop_length / config.sampling_rate)


@pytest.mark.parametrize("name", sorted(TINY))
def test_shapes_and_output_types(name):
    cls, config = TINY[name]
    model = cls(config).eval()
    x = make_input(name, config)
    with torch.no_grad():
        out = model(x)
        as_tuple = model(x, return_dict=False)
    check_output(name, config, out, x)
    assert isinstance(as_tuple, tuple)
    first = out.vocals if name in SEPARATORS else out.logits
    torch.testing.assert_close(as_tuple[0], first)


@pytest.mark.parametrize("name", sorted(TINY))
def test_save_load_round_trip(name, tmp_path):
    cls, config = TINY[name]
    model = cls(config).eval()
    # make BN statistics non-trivial so that buffers are part of the check
    model.train()
    with torch.no_grad():
        model(make_input(name, config))
    model.eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = cls.from_pretrained(tmp_path).eval()
    x = make_input(name, config)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    key = "vocals" if name in SEPARATORS else "logits"
    assert (a[key] - b[key]).abs().max().item() <= 1e-5
    strip = lambda d: {k: v for k, v in d.items() if k != "_name_or_path"}  # noqa: E731
    assert strip(loaded.config.to_dict()) == strip(model.config.to_dict())


@pytest.mark.parametrize("name", sorted(TINY))
def test_auto_classes_build_from_config_alone(name, tmp_path):
    cls, config = TINY[name]
    config.save_pretrained(tmp_path)
    auto_config = AutoConfig.from_pretrained(tmp_path)
    assert type(auto_config) is type(config)
    model = AutoModel.from_config(auto_config)
    assert type(model) is cls
    assert model.config.model_type == config.model_type


@pytest.mark.parametrize("name", sorted(TINY))
def test_deterministic_in_eval_mode(name):
    cls, config = TINY[name]
    model = cls(config).eval()
    x = make_input(name, config)
    with torch.no_grad():
        a, b = model(x), model(x)
    key = "vocals" if name in SEPARATORS else "logits"
    assert torch.equal(a[key], b[key])


def test_model_types_are_unique():
    from majl_hf.models import BACKBONES

    types = [config.model_type for _, config in TINY.values()]
    assert len(set(types)) == len(BACKBONES) == 6  # every registered backbone has a tiny config here


@pytest.mark.parametrize("name", ["unet", "resunet_decouple"])
def test_separator_loss_and_gradient(name):
    cls, config = TINY[name]
    model = cls(config).train()
    x = make_input(name, config)
    out = model(x, target_vocals=x * 0.5)
    assert out.loss.ndim == 0 and out.loss.item() > 0
    out.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_separator_rejects_wrong_channels():
    cls, config = TINY["unet"]
    with pytest.raises(ValueError, match="expects input_values of shape"):
        cls(config)(torch.zeros(1, 3, 1000))


def test_stft_istft_perfect_reconstruction():
    from majl_hf.models.common import istft, stft

    x = torch.randn(2, 3, 5000, dtype=torch.float64)
    for n_fft, hop in ((4096, 1024), (2048, 320), (512, 128)):
        y = istft(stft(x, n_fft, hop), n_fft, hop, x.shape[-1])
        assert (x - y).abs().max().item() < 1e-9


def test_pitch_label_loss_from_f0():
    cls, config = TINY["crepe"]
    model = cls(config)
    x = make_input("crepe", config)
    frames = 1 + x.shape[-1] // config.hop_length
    out = model(x, target_f0_hz=torch.full((2, frames), 220.0))
    assert out.loss.item() > 0
