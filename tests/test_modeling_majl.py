"""The MAJL cascade: all four separator × pitch combinations from config, forward and backward,
gradients of the pitch loss reaching the separator through the in-graph resampler."""

import pytest
import torch
from transformers import AutoConfig, AutoModel

from majl_hf import MajlConfig, MajlModel

SEPARATORS = {
    "unet": {  # 44.1 kHz stereo, like Spleeter, so the cascade must resample to 16 kHz
        "model_type": "unet", "sampling_rate": 44100, "audio_channels": 2, "n_fft": 1024, "hop_length": 256,
        "n_bins": 256, "patch_frames": 64, "conv_filters": [4, 8, 8, 16],
    },
    "resunet_decouple": {
        "model_type": "resunet_decouple", "sampling_rate": 16000, "audio_channels": 1, "n_fft": 512,
        "hop_length": 160, "channels": [4, 8, 16], "blocks_per_level": 1,
    },
}
PITCH = {
    "crepe": {"model_type": "crepe", "capacity": "tiny", "hop_length": 320},
    "harmof0": {"model_type": "harmof0", "channels": [4, 8, 8], "n_harmonics": 4},
}


def tiny_majl(sep="unet", pe="crepe", **kwargs):
    return MajlConfig(separator_config=dict(SEPARATORS[sep]), pitch_config=dict(PITCH[pe]), **kwargs)


def batch_for(model, seconds=0.6, batch=2):
    n = int(seconds * model.sampling_rate)
    x = torch.randn(batch, model.audio_channels, n) * 0.1
    frames = model.num_pitch_frames(n)
    f0 = torch.full((batch, frames), 220.0)
    f0[:, ::3] = 0.0
    return x, frames, f0


@pytest.mark.parametrize("sep", sorted(SEPARATORS))
@pytest.mark.parametrize("pe", sorted(PITCH))
@pytest.mark.parametrize("method", ["naive", "dwhs"])
def test_combinations_forward_backward(sep, pe, method):
    model = MajlModel(tiny_majl(sep, pe, joint_method=method)).train()
    assert model.separator.config.model_type == sep
    assert model.pitch_estimator.config.model_type == pe
    x, frames, f0 = batch_for(model)
    out = model(x, target_vocals=x * 0.5, target_f0_hz=f0)
    assert out.vocals.shape == x.shape
    assert out.pitch_logits.shape == (2, frames, model.pitch_bins.n_bins)
    assert out.times_s.shape == (frames,)
    assert out.loss_mss.shape == (2,) and out.loss_pe.shape == (2,)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    sep_grads = [p.grad for p in model.separator.parameters() if p.grad is not None]
    assert sep_grads and sum(g.abs().sum() for g in sep_grads) > 0
    if method == "dwhs":
        assert out.dwhs_weights.shape == (2, 2)
        assert set(out.dwhs_cases.tolist()) <= {1, 2, 3, 4}


@pytest.mark.parametrize("sep", sorted(SEPARATORS))
def test_pitch_loss_gradient_reaches_separator_through_resampler(sep):
    model = MajlModel(tiny_majl(sep, "crepe")).train()
    if sep == "unet":
        assert model.sampling_rate != model.pitch_estimator.config.sampling_rate
    x, _, f0 = batch_for(model)
    out = model(x, target_vocals=torch.zeros_like(x), target_f0_hz=f0)
    model.zero_grad()
    out.loss_pe.mean().backward()  # the pitch loss alone
    grads = [p.grad.abs().sum().item() for p in model.separator.parameters() if p.grad is not None]
    assert grads and sum(grads) > 0


def test_pipeline_method_keeps_modules_apart():
    model = MajlModel(tiny_majl("unet", "crepe", joint_method="pipeline")).train()
    x, _, f0 = batch_for(model)
    out = model(x, target_vocals=x * 0.5, target_f0_hz=f0)
    model.zero_grad()
    out.loss_pe.mean().backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.separator.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.pitch_estimator.parameters())
    assert out.target_pitch_probabilities is not None


def test_resampled_pitch_input_length_and_content():
    model = MajlModel(tiny_majl("unet", "crepe")).eval()
    sr = model.sampling_rate
    t = torch.arange(sr) / sr
    tone = torch.sin(2 * torch.pi * 440 * t)
    y = model.to_pitch_input(tone.expand(1, 2, -1))
    assert y.shape == (1, 16000)
    spec = torch.fft.rfft(y[0, 1000:-1000]).abs()
    peak_hz = spec.argmax().item() * 16000 / (y.shape[-1] - 2000)
    assert abs(peak_hz - 440) < 2


def test_swap_is_a_config_change_and_round_trips(tmp_path):
    config = tiny_majl("resunet_decouple", "harmof0", joint_method="dwhs")
    model = MajlModel(config).eval()
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is MajlModel
    assert loaded.config.separator_config.model_type == "resunet_decouple"
    assert loaded.config.pitch_config.model_type == "harmof0"
    x, _, _ = batch_for(model)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert (a.vocals - b.vocals).abs().max() <= 1e-5
    assert (a.pitch_logits - b.pitch_logits).abs().max() <= 1e-5
    cfg = AutoConfig.from_pretrained(tmp_path)
    assert cfg.to_dict()["separator_config"]["model_type"] == "resunet_decouple"


def test_built_from_two_backbones():
    from majl_hf import CrepeConfig, CrepeModel, UNetSeparatorConfig, UNetSeparatorModel

    sep = UNetSeparatorModel(UNetSeparatorConfig(**{k: v for k, v in SEPARATORS["unet"].items() if k != "model_type"}))
    pe = CrepeModel(CrepeConfig(capacity="tiny"))
    model = MajlModel(separator=sep, pitch_estimator=pe)
    assert model.separator is sep and model.pitch_estimator is pe
    assert model.config.pitch_config.capacity == "tiny"


def test_label_frame_mismatch_is_a_clear_error():
    model = MajlModel(tiny_majl()).train()
    x, frames, f0 = batch_for(model)
    with pytest.raises(ValueError, match="num_pitch_frames"):
        model(x, target_vocals=x, target_f0_hz=f0[:, :-1])


def test_confidence_threshold_masks_frames():
    model = MajlModel(tiny_majl(pseudo_label_threshold=0.7)).eval()  # eval: no dropout noise between runs
    with torch.no_grad():  # low activations everywhere: voiced and unvoiced frames then differ in BCE
        model.pitch_estimator.classifier.bias.fill_(-3.0)
    x, frames, f0 = batch_for(model)
    conf = torch.ones(2, frames)
    full = model(x, target_vocals=x * 0.5, target_f0_hz=f0, confidence_pe=conf)
    conf2 = conf.clone()
    conf2[:, frames // 2 :] = 0.5  # below th: those frames must not count
    half = model(x, target_vocals=x * 0.5, target_f0_hz=f0, confidence_pe=conf2)
    assert not torch.allclose(full.loss_pe, half.loss_pe)
    f0_changed = f0.clone()
    f0_changed[:, frames // 2 :] = 440.0  # labels of masked frames no longer matter
    half2 = model(x, target_vocals=x * 0.5, target_f0_hz=f0_changed, confidence_pe=conf2)
    torch.testing.assert_close(half.loss_pe, half2.loss_pe)


@pytest.mark.parametrize(
    "field,value",
    [
        ("joint_method", "magic"), ("label_sigma_cents", -1.0), ("voicing_threshold", 1.5),
        ("correct_frame_ratio", 2.0), ("w_max", 0.5), ("pseudo_label_threshold", -0.1),
        ("dwm_pool_size", [4]), ("resampler_zeros", 1),
    ],
)
def test_invalid_majl_config_names_field(field, value):
    with pytest.raises(ValueError, match=field.split("[")[0]):
        MajlConfig(**{field: value})


@pytest.mark.parametrize(
    "cls_name,field,value",
    [
        ("UNetSeparatorConfig", "n_bins", 1000), ("UNetSeparatorConfig", "mask_mode", "softmax"),
        ("UNetSeparatorConfig", "dropout", 1.0), ("UNetSeparatorConfig", "vocals_stem", "drums"),
        ("UNetSeparatorConfig", "patch_frames", 100), ("ResUNetDecoupleConfig", "hop_length", 0),
        ("CrepeConfig", "capacity", "huge"), ("CrepeConfig", "hop_length", 0), ("CrepeConfig", "frame_length", 2048),
        ("HarmoF0Config", "n_bins", 600), ("HarmoF0Config", "time_kernel", 4),
    ],
)
def test_invalid_backbone_config_names_field(cls_name, field, value):
    import majl_hf

    with pytest.raises(ValueError, match=field):
        getattr(majl_hf, cls_name)(**{field: value})


def test_sub_config_must_be_the_right_kind():
    with pytest.raises(ValueError, match="separator_config"):
        MajlConfig(separator_config={"model_type": "crepe"})
