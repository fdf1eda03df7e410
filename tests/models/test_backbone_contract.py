"""The backbone ↔ inference contract, checked for every registered backbone (and for a waveform-only
toy separator that exercises the black-box fallback): chunked inference through
:mod:`majl_hf.inference.apply` equals one forward, bf16 runs, save/load round-trips, and every
separator × every pitch estimator trains as one cascade (the pitch loss reaches the separator)."""

import pytest
import torch
from torch import nn
from transformers import PreTrainedConfig

from majl_hf import MajlConfig, MajlModel
from majl_hf.inference.apply import pitch_long, separate_long, separate_waveform_long
from majl_hf.models import BACKBONES
from majl_hf.models.common import SeparatorPreTrainedModel
from majl_hf.models.outputs import SeparatorOutput
from tests.models.test_backbones import TINY

# chunked vs whole forward: max abs difference allowed, relative to the output's peak. Exact
# (float rounding) for all but FCPE, whose group norm spans its input (its own test measures the
# seam on real vocals); here the signals fit in one FCPE segment, so it is exact too.
CHUNK_TOLERANCE = 1e-4


class ToyWaveformConfig(PreTrainedConfig):
    model_type = "toy_waveform_separator"

    def __init__(self, sampling_rate=16000, audio_channels=1, kernel=33, **kwargs):
        self.sampling_rate, self.audio_channels, self.kernel, self.hop_length = (
            sampling_rate,
            audio_channels,
            kernel,
            1,
        )
        super().__init__(**kwargs)


class ToyWaveformSeparator(SeparatorPreTrainedModel):
    """A separator with no STFT: a 1-D convolution over the waveform (receptive field ±16 samples)."""

    config_class = ToyWaveformConfig

    def __init__(self, config):
        super().__init__(config)
        self.conv = nn.Conv1d(config.audio_channels, config.audio_channels, config.kernel, padding=config.kernel // 2)
        self.post_init()

    @property
    def context_frames(self) -> int:  # hop_length 1: samples; the cross-fade takes half
        return 2 * (self.config.kernel // 2)

    def forward(self, input_values, **kwargs):
        x = self._check_input(input_values)
        vocals = self.conv(x.to(self.dtype)).float()
        return SeparatorOutput(vocals=vocals, accompaniment=x - vocals)


def _all_names():
    return sorted(TINY) + ["toy_waveform"]


def _build(name):
    torch.manual_seed(0)
    if name == "toy_waveform":
        return ToyWaveformSeparator(ToyWaveformConfig()).eval()
    cls, config = TINY[name]
    model = cls(config).eval()
    with torch.no_grad():  # settle BN statistics of random tiny models (else outputs are nearly constant)
        model.train()
        for _ in range(2):
            model(_input(model, 1.0))
        model.eval()
    return model


def _is_separator(model):
    return isinstance(model, SeparatorPreTrainedModel)


def _input(model, seconds):
    g = torch.Generator().manual_seed(1)
    n = int(seconds * model.config.sampling_rate)
    t = torch.arange(n) / model.config.sampling_rate
    tone = 0.3 * torch.sin(2 * torch.pi * 220 * t) * (1 + 0.5 * torch.sin(2 * torch.pi * 0.7 * t))
    if _is_separator(model):
        c = model.config.audio_channels
        return (tone.expand(1, c, n) + 0.05 * torch.randn(1, c, n, generator=g)).contiguous()
    return (tone + 0.05 * torch.randn(n, generator=g))[None]


def test_every_registered_backbone_is_checked():
    assert {config.model_type for _, config in TINY.values()} == set(BACKBONES)


@pytest.mark.parametrize("name", _all_names())
def test_chunked_inference_equals_one_forward(name):
    model = _build(name)
    x = _input(model, 3.0)
    with torch.no_grad():
        whole = model(x)
    if _is_separator(model):
        if model.is_spectral:
            chunk = 16 * max(1, model.frame_alignment)  # several chunks, aligned as the model declares
            vocals, _ = separate_long(model, x[0], chunk_frames=chunk)
        else:
            vocals, _ = separate_waveform_long(model, x[0], chunk_samples=4000)
        ref = whole.vocals[0]
    else:
        host = type("Host", (), {})()
        host.pitch_estimator, host.sampling_rate = model, model.config.sampling_rate
        host.config = MajlConfig().__class__.__new__(MajlConfig)  # only the resampler fields are read
        host.config.resampler_zeros, host.config.resampler_rolloff = 24, 0.945
        vocals, _, _ = pitch_long(host, x, frames_per_batch=16)
        ref = whole.probabilities[0]
    err = (vocals - ref).abs().max().item()
    peak = ref.abs().max().item()
    print(f"{name}: chunked vs whole max abs err {err:.2e} (peak {peak:.2e})")
    assert err <= CHUNK_TOLERANCE * max(peak, 1e-3)


@pytest.mark.parametrize("name", _all_names())
def test_bf16_runs_and_save_load_round_trips(name, tmp_path):
    model = _build(name)
    x = _input(model, 1.0)
    key = "vocals" if _is_separator(model) else "probabilities"
    with torch.no_grad():
        ref = model(x)
    model.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(getattr(loaded(x), key), getattr(ref, key), rtol=0, atol=1e-6)
        out16 = model.to(torch.bfloat16)(x)
    assert torch.isfinite(getattr(out16, key)).all()
    assert getattr(out16, key).shape == getattr(ref, key).shape


SEPARATOR_NAMES = sorted(k for k, v in BACKBONES.items() if v[0] == "separator")
PITCH_NAMES = sorted(k for k, v in BACKBONES.items() if v[0] == "pitch")


@pytest.mark.parametrize("sep", SEPARATOR_NAMES)
@pytest.mark.parametrize("pe", PITCH_NAMES)
def test_every_pair_trains_as_one_cascade(sep, pe):
    torch.manual_seed(0)
    model = MajlModel(
        MajlConfig(separator_config=TINY[sep][1].to_dict(), pitch_config=TINY[pe][1].to_dict(), joint_method="naive")
    ).train()
    n = int(0.64 * model.sampling_rate)
    x = torch.randn(2, model.audio_channels, n) * 0.1
    frames = model.num_pitch_frames(n)
    f0 = torch.full((2, frames), 220.0)
    out = model(x, target_vocals=x * 0.5, target_f0_hz=f0)
    out.loss_pe.mean().backward()
    grads = [p.grad.abs().sum().item() for p in model.separator.parameters() if p.grad is not None]
    assert torch.isfinite(out.loss) and grads and max(grads) > 0
