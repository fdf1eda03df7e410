"""HarmoF0 without the original weights: the published layout, the front-end's two-point rule, the
multi-rate dilated conv as the original computes it, the output grid, chunked inference, bf16, the
cascade. Real-weight equivalence is in test_convert_harmof0.py."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from majl_hf import MajlConfig, MajlModel
from majl_hf.models.harmof0 import TINY_HARMOF0, HarmoF0Config, HarmoF0Model
from tests.conftest import TINY_SEPARATOR, harmonic_tone


def tiny(**kwargs):
    """The test-sized network with BN statistics of noise (random init alone gives a nearly constant
    output in eval mode: the dB map is far from zero-mean)."""
    torch.manual_seed(0)
    model = HarmoF0Model(HarmoF0Config.tiny(**kwargs))
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.momentum = None  # cumulative average: one pass sets the statistics
    with torch.no_grad():
        model.train()(torch.randn(2, 8000, generator=torch.Generator().manual_seed(1)) * 0.1)
    for bn in bns:
        bn.momentum = model.config.batch_norm_momentum
    return model.eval()


def test_defaults_are_the_published_network():
    config = HarmoF0Config()
    assert (config.sampling_rate, config.n_fft, config.native_hop_length, config.hop_length) == (16000, 1024, 160, 320)
    assert config.channels == [32, 64, 128, 128] and config.fixed_dilation == 48 and config.top_db == 80.0
    assert config.harmonic_shifts == [0, 48, 76, 96, 111, 124, 135, 144, 152, 159, 166, 172]
    bins = config.pitch_bins
    assert bins.n_bins == 352 and bins.cents_per_bin == 25.0 and bins.fmin_hz == pytest.approx(27.5)
    model = HarmoF0Model(config)
    assert sum(p.numel() for p in model.parameters()) == 372865
    keys = set(model.state_dict())
    assert len(keys) == 62 and "block_1.2.conv_list.11.weight" in keys and "block_4.2.weight" in keys
    assert model.block_4[2].dilation == (1, 48) and model.block_4[2].padding == (0, 48)
    assert model.context_frames == 4 and HarmoF0Model(HarmoF0Config(hop_length=160)).context_frames == 8


def test_tiny_preset():
    config = HarmoF0Config.tiny()
    assert config.model_type == TINY_HARMOF0["model_type"] == "harmof0"
    assert config.channels == [4, 8, 8] and config.n_harmonics == 4 and config.harmonic_shifts == [0, 48, 76, 96]
    assert config.pitch_bins == HarmoF0Config().pitch_bins


@pytest.mark.parametrize(
    "field,value",
    [("n_bins", 600), ("top_db", -1.0), ("channels", []), ("n_harmonics", 0), ("native_hop_length", 0),
     ("fixed_dilation", 0), ("hop_length", 0)],
)
def test_invalid_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        HarmoF0Config(**{field: value})


def test_front_end_two_point_rule_and_db_floor():
    """Against a direct computation: P = |FFT(frame · periodic Hann)|², bin k reads
    P[⌊i⌋]·(i − ⌊i⌋) + P[⌈i⌉]·(⌈i⌉ − i) with i = 27.5·2^(k/48)/15.625, then dB with the floor at max − 80."""
    model = HarmoF0Model(HarmoF0Config.tiny())
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((1, 3, 1024)) * np.array([1.0, 1e-3, 1e-6])[None, :, None]
    with torch.no_grad():
        ours = model.log_spectrogram_from_frames(torch.from_numpy(frames).float())[0].numpy()
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1024) / 1024)
    power = np.abs(np.fft.rfft(frames[0] * w, axis=-1)) ** 2
    i = 27.5 * 2 ** (np.arange(352) / 48) / (16000 / 1024)
    lo, hi = np.floor(i).astype(int), np.ceil(i).astype(int)
    spec = power[:, lo] * (i - lo) + power[:, hi] * (hi - i)
    db = 10 * np.log10(np.maximum(spec, 1e-10))
    db = np.maximum(db, db.max() - 80)
    assert (db == db.max() - 80).any(axis=-1)[2]  # the quiet frame is clipped
    np.testing.assert_allclose(ours, db, atol=2e-3)


def test_multi_rate_dilated_conv_is_the_originals():
    """Each 1×1 conv's output shifted down by its harmonic's bins and summed in place, bias included
    only where the shifted map exists (the original's in-place loop, written out here)."""
    from majl_hf.models.harmof0.modeling_harmof0 import MRDConv

    torch.manual_seed(0)
    conv = MRDConv(3, 5, [0, 48, 76, 96, 111])
    x = torch.randn(2, 3, 7, 100)
    y = conv.conv_list[0](x)
    for d, c in zip(conv.shifts[1:], conv.conv_list[1:]):
        part = c(x)[..., d:]
        y[..., : part.shape[-1]] += part
    torch.testing.assert_close(conv(x), y, rtol=1e-5, atol=1e-6)


def test_output_grid_takes_the_native_frames_at_their_centres():
    """hop 320 = every second native frame; hop 240 = linear interpolation between native frames; frame
    t of every grid is centred at t·hop_length."""
    x = torch.from_numpy(harmonic_tone(200.0, 0.7))[None]
    with torch.no_grad():
        native = tiny(hop_length=160)(x)
        coarse = tiny(hop_length=320)(x)
        odd = tiny(hop_length=240)(x)
    n = x.shape[-1]
    assert native.logits.shape[1] == 1 + n // 160 and coarse.logits.shape[1] == 1 + n // 320
    torch.testing.assert_close(coarse.logits, native.logits[:, ::2][:, : coarse.logits.shape[1]])
    assert odd.logits.shape[1] == 1 + n // 240
    pos = np.arange(odd.logits.shape[1]) * 1.5
    lo = np.floor(pos).astype(int)
    w = torch.from_numpy(pos - lo).float()[None, :, None]
    last = odd.logits.shape[1] - 1
    expected = native.logits[:, lo[:last]] * (1 - w[:, :last]) + native.logits[:, lo[:last] + 1] * w[:, :last]
    torch.testing.assert_close(odd.logits[:, :last], expected, rtol=1e-5, atol=1e-5)
    assert odd.times_s[2].item() == pytest.approx(480 / 16000)


class ShortContext(HarmoF0Model):
    """A HarmoF0 that claims one frame less of context than it needs."""

    @property
    def context_frames(self) -> int:
        return HarmoF0Model.context_frames.fget(self) - 1


@pytest.mark.parametrize("hop", [320, 160])
def test_chunked_pitch_long_equals_forward(hop):
    """pitch_long's segments (context_frames of margin each side) against one forward of the whole
    signal, with the dB floor off (top_db=None: the floor is relative to each input's loudest bin, see
    test_convert_harmof0 for its effect) — also at both ends of the signal."""
    from majl_hf.inference.apply import pitch_long

    model = tiny(hop_length=hop, top_db=None, segment_length_s=0.1)
    assert model.segment_frames == 1600 // hop
    x = torch.randn(1, 16000) * 0.1
    with torch.no_grad():
        whole = model(x).probabilities[0]
    host = SimpleNamespace(pitch_estimator=model, sampling_rate=16000,
                           config=SimpleNamespace(resampler_zeros=24, resampler_rolloff=0.945))
    probs, _, _ = pitch_long(host, x, frames_per_batch=7)
    err = (probs - whole).abs().max().item()
    print(f"hop {hop}: pitch_long vs forward max abs err {err:.2e}")
    assert err <= 1e-5
    if hop == 320:  # one frame less of margin is not enough (at 160 the bound has 32 samples of slack)
        host.pitch_estimator = ShortContext(model.config).eval()
        host.pitch_estimator.load_state_dict(model.state_dict())
        short, _, _ = pitch_long(host, x, frames_per_batch=7)
        assert (short - whole).abs().max().item() > 1e-4


def test_bf16_runs_and_follows_float32():
    model = tiny()
    x = torch.randn(2, 8000) * 0.1
    with torch.no_grad():
        p32 = model(x).probabilities
        out = model.to(torch.bfloat16)(x.to(torch.bfloat16))
    assert out.logits.dtype == torch.float32 and torch.isfinite(out.logits).all()
    assert (out.probabilities - p32).abs().max().item() < 0.1


def test_batch_items_are_independent():
    model = tiny()
    x = torch.randn(2, 6000) * torch.tensor([[1.0], [0.01]])
    with torch.no_grad():
        both = model(x).logits
        one = model(x[1:]).logits
    torch.testing.assert_close(both[1:], one, rtol=1e-5, atol=1e-5)


def test_published_network_trains_inside_the_cascade():
    """The published HarmoF0 (random weights) behind a tiny 44.1 kHz stereo separator: forward and
    backward through the in-graph resampler; the pitch loss reaches the separator's weights."""
    config = MajlConfig(separator_config=dict(TINY_SEPARATOR), pitch_config={"model_type": "harmof0"})
    model = MajlModel(config).train()
    assert isinstance(model.pitch_estimator, HarmoF0Model) and model.pitch_estimator.config.hop_length == 320
    n = int(0.4 * model.sampling_rate)
    x = torch.randn(1, 2, n) * 0.1
    frames = model.num_pitch_frames(n)
    f0 = torch.full((1, frames), 220.0)
    out = model(x, target_vocals=torch.zeros_like(x), target_f0_hz=f0)
    assert out.pitch_logits.shape == (1, frames, 352) and torch.isfinite(out.loss)
    out.loss_pe.mean().backward()  # the pitch loss alone: its gradient reaches the separator
    grads = [p.grad for p in model.separator.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum() for g in grads) > 0
    assert model.pitch_estimator.conv_6.weight.grad.abs().sum() > 0


def test_forward_is_differentiable_in_the_waveform():
    model = tiny()
    x = (torch.randn(1, 4000) * 0.1).requires_grad_()
    model(x).logits.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_input_shape_is_checked():
    with pytest.raises(ValueError, match="mono"):
        tiny()(torch.zeros(1, 2, 1000))
