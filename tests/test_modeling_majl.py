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
        "hop_length": 160, "encoder_channels": [4, 8, 8], "time_downsample_levels": 2, "blocks_per_stage": 1,
        "bottleneck_stages": 1,  # the "tiny" preset of ResUNetDecoupleConfig.from_preset
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
        ("HarmoF0Config", "n_bins", 600), ("HarmoF0Config", "top_db", -1.0),
    ],
)
def test_invalid_backbone_config_names_field(cls_name, field, value):
    import majl_hf

    with pytest.raises(ValueError, match=field):
        getattr(majl_hf, cls_name)(**{field: value})


def test_sub_config_must_be_the_right_kind():
    with pytest.raises(ValueError, match="separator_config"):
        MajlConfig(separator_config={"model_type": "crepe"})


# ----------------------------------------------------------------------------- training fidelity (issue 14)
def _pe_buffers(model):
    return {k: v.clone() for k, v in model.pitch_estimator.named_buffers()}


@pytest.mark.parametrize("method", ["dwhs", "pipeline"])
def test_passes_that_do_not_learn_leave_running_statistics_untouched(method):
    """Item 1: PE(s) on the true vocals (dwhs) and PE(ŝ) without gradient (pipeline) leave every
    running statistic of the PE as it was; only the learning pass updates them, once per step."""
    import copy

    torch.manual_seed(0)
    cfg = MajlConfig(separator_config=dict(SEPARATORS["resunet_decouple"]),
                     pitch_config={**PITCH["crepe"], "dropout": 0.0}, joint_method=method)
    model = MajlModel(cfg).train()
    model.separator.eval()  # a deterministic ŝ for the reference below
    reference = copy.deepcopy(model)
    x, _, f0 = batch_for(model)
    target = torch.randn_like(x) * 0.3
    model(x, target_vocals=target, target_f0_hz=f0)
    with torch.no_grad():  # the one pass that learns, alone
        if method == "dwhs":
            reference(x)  # PE(ŝ)
        else:
            reference.pitch_of(target)  # PE(s)
    got, want = _pe_buffers(model), _pe_buffers(reference)
    tracked = [v for k, v in got.items() if k.endswith("num_batches_tracked")]
    print(f"{method}: num_batches_tracked {sorted({int(v) for v in tracked})} (one learning pass: 1)")
    assert tracked and all(int(v) == 1 for v in tracked)
    err = max(float((got[k].double() - want[k].double()).abs().max()) for k in got)
    print(f"max abs difference of the running statistics from one learning pass alone: {err:.2e}")
    for k in got:
        torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=1e-7, msg=k)


def _per_frame_bce(logits, labels):
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(-1)


def test_stage2_masks_weigh_frames_as_the_paper():
    """Item 2: Eq. 8/15 weigh frames — Σ confi·L over frames divided by all frames (a crop with 1
    confident frame of n weighs 1/n of its unmasked loss); ``kept_frames`` is the per-sample mean."""
    from majl_hf.pitch.convert import f0_to_targets

    torch.manual_seed(0)
    model = MajlModel(tiny_majl(pseudo_label_threshold=0.7)).eval()
    x, frames, f0 = batch_for(model)
    conf = torch.ones(2, frames)
    conf[0, 1:] = 0.0  # sample 0: 1 confident frame of `frames`
    conf[1, : frames // 2] = 0.0  # sample 1: half
    labels = f0_to_targets(f0, model.pitch_bins)
    with torch.no_grad():
        out = model(x, target_vocals=x * 0.5, target_f0_hz=f0, confidence_pe=conf)
        per_frame = _per_frame_bce(out.pitch_logits, labels)
        expected = (per_frame * conf).sum(-1) / frames
        torch.testing.assert_close(out.loss_pe, expected, rtol=1e-5, atol=1e-7)
        ratio = float(out.loss_pe[0] / per_frame[0, 0])
        print(f"1 of {frames} frames kept: loss_pe = {ratio:.4f} × that frame's loss (1/{frames} = {1 / frames:.4f})")
        assert ratio == pytest.approx(1 / frames, rel=1e-5)
        # L_mss the same way, over the waveform samples of the kept frames
        conf_mss = torch.ones(2, frames)
        conf_mss[:, frames // 4 :] = 0.0
        out_m = model(x, target_vocals=x * 0.5, target_f0_hz=f0, confidence_mss=conf_mss)
        mask = model._sample_mask(conf_mss, x.shape[-1]).expand_as(x)
        err = (out_m.vocals - x * 0.5).abs()
        torch.testing.assert_close(out_m.loss_mss, (err * mask).flatten(1).sum(1) / err[0].numel())
        # the former behaviour, as a named option
        model.config.confidence_normalization = "kept_frames"
        kept = model(x, target_vocals=x * 0.5, target_f0_hz=f0, confidence_pe=conf)
        torch.testing.assert_close(kept.loss_pe, (per_frame * conf).sum(-1) / conf.sum(-1), rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(kept.loss_pe[0], per_frame[0, 0], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="confidence_normalization"):
        tiny_majl(confidence_normalization="per_sample")


def test_samples_without_label_or_fully_masked_take_no_dwhs_case():
    """Item 3: a sample without pitch label, or with every frame masked, gets case 0 and adds
    nothing to L_dwhs; its losses are weighted by 1."""
    from majl_hf.dwhs import dwhs_loss

    torch.manual_seed(0)
    model = MajlModel(tiny_majl(joint_method="dwhs")).eval()
    x, frames, f0 = batch_for(model, batch=3)
    has_f0 = torch.tensor([True, False, True])
    conf = torch.ones(3, frames)
    conf[2] = 0.1  # every frame below th
    with torch.no_grad():
        out = model(x, target_vocals=x * 0.5, target_f0_hz=f0, has_f0=has_f0, confidence_pe=conf)
    print(f"cases {out.dwhs_cases.tolist()} (0 = no case)")
    assert out.dwhs_cases[0] in (1, 2, 3, 4)
    assert out.dwhs_cases[1:].tolist() == [0, 0]
    torch.testing.assert_close(out.loss_dwhs, dwhs_loss(out.dwhs_weights[:1], out.dwhs_cases[:1]))


def test_train_pe_on_target_adds_a_weighted_pitch_loss_on_the_true_vocals():
    """Item 4: ``train_pe_on_target`` adds target_pe_loss_weight · mean_b L_pe(PE(s), y), and that
    pass gives the PE a gradient; pipeline refuses the flag (its PE learns from PE(s) already)."""
    from majl_hf.pitch.convert import f0_to_targets

    torch.manual_seed(0)
    model = MajlModel(tiny_majl(joint_method="naive", train_pe_on_target=True, target_pe_loss_weight=0.5)).eval()
    x, _, f0 = batch_for(model)
    target = torch.randn_like(x) * 0.3
    out = model(x, target_vocals=target, target_f0_hz=f0)
    labels = f0_to_targets(f0, model.pitch_bins)
    with torch.no_grad():
        expected = model.pitch_estimator.pitch_loss(model.pitch_of(target).logits, labels)
    torch.testing.assert_close(out.loss_pe_target, expected)
    term = out.loss - out.loss_mss.mean() - out.loss_pe.mean()
    print(f"target term {float(term.detach()):.6f} = 0.5 × {float(expected.mean()):.6f}")
    torch.testing.assert_close(term, 0.5 * expected.mean())
    model.zero_grad()
    out.loss_pe_target.mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.pitch_estimator.parameters())
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.separator.parameters())
    with pytest.raises(ValueError, match="train_pe_on_target"):
        tiny_majl(joint_method="pipeline", train_pe_on_target=True)


def test_correct_rule_is_a_config_choice():
    """Item 8: "correct" is OA-style (voicing included) or RPA-style (pitch only) by config."""
    from majl_hf.dwhs import frame_accuracy
    from majl_hf.pitch.convert import PitchBins, f0_to_targets

    bins = PitchBins()
    f0 = torch.full((1, 10), 220.0)
    f0[:, :5] = 0.0
    probs = 0.3 * f0_to_targets(f0, bins)  # right pitch, below the voicing threshold
    oa = frame_accuracy(probs, f0, bins, rule="overall_accuracy")
    rpa = frame_accuracy(probs, f0, bins, rule="raw_pitch_accuracy")
    print(f"overall-accuracy rule {float(oa):.2f}, pitch-only rule {float(rpa):.2f}")
    assert float(oa) == pytest.approx(0.5) and float(rpa) == pytest.approx(1.0)
    # pitch-only: a sample without voiced frames cannot be judged and takes no case
    model = MajlModel(tiny_majl(joint_method="dwhs", correct_rule="raw_pitch_accuracy")).eval()
    x, _, f0 = batch_for(model)
    with torch.no_grad():
        out = model(x, target_vocals=x * 0.5, target_f0_hz=torch.zeros_like(f0))
    assert out.dwhs_cases.tolist() == [0, 0]
    with pytest.raises(ValueError, match="correct_rule"):
        tiny_majl(correct_rule="pitch")


def test_unknown_forward_keyword_is_an_error():
    model = MajlModel(tiny_majl()).eval()
    x, frames, f0 = batch_for(model)
    with pytest.raises(TypeError, match="confidence_pee"):
        model(x, target_vocals=x, target_f0_hz=f0, confidence_pee=torch.ones(2, frames))
    with torch.no_grad():  # what transformers itself may pass is accepted
        model(x, output_attentions=False, output_hidden_states=False)


def test_cascade_uses_the_pitch_estimators_loss_hook():
    """A softmax backbone brings its own loss: MajlModel calls pitch_estimator.pitch_loss."""
    model = MajlModel(tiny_majl()).eval()
    calls = []

    def own_loss(logits, labels, frame_weight=None):
        calls.append(frame_weight is not None)
        return logits.sum((1, 2)) * 0 + 7.0

    model.pitch_estimator.pitch_loss = own_loss
    x, frames, f0 = batch_for(model)
    with torch.no_grad():
        out = model(x, target_vocals=x, target_f0_hz=f0, confidence_pe=torch.ones(2, frames))
    assert calls == [True] and out.loss_pe.tolist() == [7.0, 7.0]
