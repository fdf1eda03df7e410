"""SwiftF0 as a MAJL backbone: output grid alignment, chunked inference, bf16, save/load, the loss,
and training inside MajlModel."""

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel

from majl_hf.models.swiftf0 import SwiftF0Config, SwiftF0Model
from tests.conftest import harmonic_tone, shared_path

# registration (the lead adds swiftf0 to majl_hf/models/__init__.py; harmless when already there)
AutoConfig.register("swiftf0", SwiftF0Config, exist_ok=True)
AutoModel.register(SwiftF0Config, SwiftF0Model, exist_ok=True)

TINY_SEPARATOR_16K = {  # U-Net at toy size, 16 kHz mono: no resampling between the stages
    "model_type": "unet", "sampling_rate": 16000, "audio_channels": 1, "n_fft": 512, "hop_length": 128,
    "n_bins": 256, "patch_frames": 64, "conv_filters": [4, 8, 8, 16],
}


@pytest.fixture(scope="module")
def converted():
    pytest.importorskip("onnx", reason="the conversion reads model.onnx with the onnx package (convert extra)")
    from majl_hf.models.swiftf0.convert_swiftf0 import convert_swiftf0

    return convert_swiftf0(shared_path("weights", "swiftf0", "model.onnx"), hop_length=320)


def test_contract_numbers():
    m = SwiftF0Model(SwiftF0Config())
    assert (m.native_hop_length, m.frame_length, m.config.receptive_frames) == (256, 2048, 7)
    assert (m.context_frames, m.segment_alignment) == (12, 4)  # 3071 samples → 10 frames → multiple of 4
    native = SwiftF0Model(SwiftF0Config(hop_length=256))
    assert (native.context_frames, native.segment_alignment) == (11, 1)  # swift-f0's own LEFT_FRAMES = 11
    assert sum(p.numel() for p in m.parameters()) == 18558
    assert m.config.pitch_bins.n_bins == 95 and m.config.n_bands == 128


def test_eigen_sincos_is_accurate():
    """The emulated Eigen float32 sin / cos (the graph's DFT constants) stay within 2 ulp of the true values
    (Eigen's documented bound) on 200k float32 angles in (−2π, 2π), including exact quadrant points."""
    from majl_hf.models.swiftf0.modeling_swiftf0 import _eigen_sincos

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-2 * np.pi, 2 * np.pi, 200_000), np.arange(-8, 9) * np.pi / 4]).astype(np.float32)
    for sine, ref_fn in ((True, np.sin), (False, np.cos)):
        got = _eigen_sincos(x, sine).astype(np.float64)
        true = ref_fn(x.astype(np.float64))
        ulp = np.spacing(np.abs(true).astype(np.float32)).astype(np.float64)
        err = np.abs(got - true) / ulp
        print(f"eigen {'sin' if sine else 'cos'}: max err {err.max():.2f} ulp")
        assert err.max() <= 2.0


def _sequential_fma_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """float32 a @ b with each element accumulated over k in order by fused multiply-adds (MLAS's SGEMM
    kernels): the products of float32 values are exact in float64, the sum is rounded once to float64 and
    then to float32 (a double rounding that differs from one FMA only on rare exact float32 midpoints)."""
    a, b = a.double(), b.double()
    acc = torch.zeros((), dtype=torch.float64)
    for k in range(a.shape[-1]):
        acc = (acc + a[..., :, k : k + 1] * b[..., k : k + 1, :]).float().double()
    return acc.float()


def test_dft_matmul_is_sequential_fma():
    """The end-to-end equivalence with the ONNX graph (test_convert_swiftf0) needs the DFT's float32
    ``torch.matmul`` to round like onnxruntime's MLAS (each output a sequential FMA sum over k). This checks
    that this machine's BLAS does so on the front-end's two product shapes for every window length; if it
    fails, the end-to-end scores move by up to ~1e-3 (another summation order), not the model."""
    from majl_hf.models.swiftf0.modeling_swiftf0 import _dft_split

    torch.manual_seed(0)
    model = SwiftF0Model(SwiftF0Config())
    for length in model.config.window_lengths:
        a, b = _dft_split(length)
        (c1, _), _, (c2, _) = model._constants("cpu")[length]["factors"]
        for frames in (1, 7, 300):
            y = torch.randn(1, frames, a, b) * torch.logspace(0, -6, b)  # spread magnitudes: rounding shows
            first, second = torch.matmul(c1, y), torch.matmul(y, c2)
            assert torch.equal(first, _sequential_fma_matmul(c1, y)), (length, frames)
            assert torch.equal(second, _sequential_fma_matmul(y, c2)), (length, frames)


def test_frame_alignment_on_the_20ms_grid(converted):
    """A harmonic tone jumping 220 → 330 Hz at sample 8160, between the centres of frames 25 (8000)
    and 26 (8320): every frame reads the f0 at its own centre. Shifting the track by one frame either
    way breaks it."""
    from majl_hf.pitch import decode_f0

    jump = 8160
    x = np.concatenate([harmonic_tone(220.0, 1.0)[:jump], harmonic_tone(330.0, 1.0)[jump:]])
    with torch.no_grad():
        probs = converted(torch.from_numpy(x)[None]).probabilities[0]
    assert probs.shape[0] == 1 + len(x) // 320
    f0, _, voiced = decode_f0(probs, converted.pitch_bins, 0.5, window=1)
    f0 = f0.numpy()
    truth = np.where(np.arange(len(f0)) * 320 < jump, 220.0, 330.0)

    def track_ok(est):
        sel = slice(10, len(f0) - 10)
        return np.all(np.abs(1200 * np.log2(est[sel] / truth[sel])) < 50)

    print("f0 around the jump:", np.round(f0[22:29], 1))
    assert voiced[10:-10].all()
    assert track_ok(f0)
    assert not track_ok(np.roll(f0, 1)) and not track_ok(np.roll(f0, -1))


@pytest.mark.parametrize("frames_per_batch", [64, 20])
def test_chunked_equals_whole(frames_per_batch):
    """apply.pitch_long (segments with context_frames of margin each side) == one forward on the whole
    signal, for segment starts on multiples of segment_alignment (the default 64 frames is one)."""
    from majl_hf import MajlConfig, MajlModel
    from majl_hf.inference.apply import pitch_long

    torch.manual_seed(0)
    model = MajlModel(MajlConfig(separator_config=dict(TINY_SEPARATOR_16K),
                                 pitch_config={"model_type": "swiftf0"})).eval()
    pe = model.pitch_estimator
    t = torch.arange(int(16000 * 5.3)) / 16000
    y = 0.3 * torch.sin(2 * torch.pi * 200 * t * (1 + 0.1 * torch.sin(2 * torch.pi * t))) + 0.01 * torch.randn(len(t))
    probs, times, gated = pitch_long(model, y[None], frames_per_batch=frames_per_batch)
    with torch.no_grad():
        whole = pe(y[None]).probabilities[0]
    err = (probs - whole).abs().max().item()
    print(f"chunked ({frames_per_batch} frames/segment, context {pe.context_frames}) vs whole: max abs err {err:.2e}")
    assert probs.shape == whole.shape and not gated.any()
    assert err <= 2e-6


def test_bf16_runs(converted):
    x = torch.from_numpy(harmonic_tone(261.6, 1.0))[None]
    with torch.no_grad():
        ref = converted(x).probabilities
        low = SwiftF0Model(converted.config)
        low.load_state_dict(converted.state_dict())
        out = low.to(torch.bfloat16).eval()(x.to(torch.bfloat16))
    assert out.logits.dtype == torch.float32 and torch.isfinite(out.logits).all()
    from majl_hf.pitch import decode_f0

    f_ref, c_ref, _ = decode_f0(ref[0], converted.pitch_bins, window=1)
    f_low, c_low, v_low = decode_f0(out.probabilities[0], converted.pitch_bins, window=1)
    err_c = (c_low - c_ref).abs().max().item()
    err_f = np.abs(1200 * np.log2(f_low.numpy()[v_low] / 261.6))
    print(f"bf16: confidence max diff vs float32 {err_c:.3f}; voiced {v_low.float().mean():.2f}, "
          f"f0 median err {np.median(err_f):.1f} cents")
    assert err_c < 0.05 and v_low.float().mean() > 0.9 and np.median(err_f) < 10


def test_save_load_round_trip(tmp_path):
    model = SwiftF0Model(SwiftF0Config(hop_length=160)).eval()
    model.save_pretrained(tmp_path)
    loaded = SwiftF0Model.from_pretrained(tmp_path).eval()
    auto = AutoModel.from_pretrained(tmp_path).eval()
    x = torch.randn(2, 7000) * 0.1
    with torch.no_grad():
        a, b, c = model(x).logits, loaded(x).logits, auto(x).logits
    assert a.shape == (2, 1 + 7000 // 160, 95)
    assert torch.equal(a, b) and torch.equal(a, c)
    assert loaded.config.hop_length == 160 and type(auto) is SwiftF0Model


def test_activations_and_loss():
    """Activations peak at sigmoid(voicing) (SwiftF0's confidence) and lie in [0, 1]; the loss prefers the
    right labels, is finite with a gradient on digital silence, and weights frames."""
    torch.manual_seed(0)
    model = SwiftF0Model(SwiftF0Config(correct_cents=None))
    x = torch.cat([torch.randn(1, 8000) * 0.1, torch.zeros(1, 8000)], 0).requires_grad_()
    out = model(x)
    p = out.probabilities
    assert ((p >= 0) & (p <= 1)).all()
    assert torch.allclose(p.amax(-1), out.logits.amax(-1).exp())
    f0 = torch.full(p.shape[:2], 300.0)
    f0[:, ::3] = 0.0
    from majl_hf.pitch.convert import f0_to_targets

    labels = f0_to_targets(f0, model.pitch_bins)
    good = model.pitch_loss(out.logits, labels)
    assert good.shape == (2,) and torch.isfinite(good).all()
    # a model whose activations are the labels themselves (scaled to a peak of 0.99) scores better
    perfect = torch.log((labels / labels.amax(-1, keepdim=True).clamp_min(1e-12)).clamp_min(1e-30) * 0.99)
    perfect = torch.where(labels.sum(-1, keepdim=True) > 0, perfect, torch.log(torch.full_like(perfect, 0.01)))
    assert (model.pitch_loss(perfect, labels) < good).all()
    weight = torch.zeros(p.shape[:2])
    weight[:, :5] = 1.0
    part = model.pitch_loss(out.logits, labels, weight)
    assert not torch.allclose(part, good)
    good.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad[0].abs().sum() > 0


def test_inside_majl_forward_backward():
    """MajlModel(tiny separator, SwiftF0): forward with targets, backward; gradients reach the separator
    (through the cascade's loss and through SwiftF0's own pitch_loss)."""
    from majl_hf import MajlConfig, MajlModel

    torch.manual_seed(0)
    model = MajlModel(MajlConfig(separator_config=dict(TINY_SEPARATOR_16K), pitch_config={"model_type": "swiftf0"},
                                 joint_method="naive")).train()
    assert isinstance(model.pitch_estimator, SwiftF0Model)
    x = torch.randn(2, 1, 12000) * 0.1
    n = model.num_pitch_frames(x.shape[-1])
    f0 = torch.full((2, n), 250.0)
    out = model(x, target_vocals=x * 0.5, target_f0_hz=f0)
    assert out.pitch_probabilities.shape == (2, n, 95)
    out.loss.backward()
    sep_grads = [p.grad for p in model.separator.parameters() if p.grad is not None]
    assert sep_grads and all(torch.isfinite(g).all() for g in sep_grads)
    assert sum(g.abs().sum() for g in sep_grads) > 0
    model.zero_grad()
    out = model(x)
    from majl_hf.pitch.convert import f0_to_targets

    labels = f0_to_targets(f0, model.pitch_bins)
    model.pitch_estimator.pitch_loss(out.pitch_logits, labels).mean().backward()
    sep_grads = [p.grad for p in model.separator.parameters() if p.grad is not None]
    assert sep_grads and sum(g.abs().sum() for g in sep_grads) > 0
