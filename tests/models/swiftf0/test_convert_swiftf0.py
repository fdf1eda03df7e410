"""SwiftF0 port vs the original swift-f0 0.3.0 (its model.onnx run by onnxruntime) on three real clips
(../shared/reference/swiftf0/), and the conversion's checks of the graph."""

import numpy as np
import pytest
import torch

from tests.conftest import shared_path

CLIPS = ["80sRock_vocal", "NightOwl_resyn", "Beethoven_mix"]


@pytest.fixture(scope="module")
def native_model():
    """The converted network on SwiftF0's own grid and edges (hop 256, the ONNX graph's padding)."""
    pytest.importorskip("onnx", reason="the conversion reads model.onnx with the onnx package (convert extra)")
    from majl_hf.models.swiftf0.convert_swiftf0 import convert_swiftf0

    return convert_swiftf0(shared_path("weights", "swiftf0", "model.onnx"), hop_length=256, pad_edges=False)


def load_clip(clip):
    ref = np.load(shared_path("reference", "swiftf0", f"{clip}.npz"))
    return ref, torch.from_numpy(ref["waveform"])[None]


@pytest.mark.parametrize("clip", CLIPS)
def test_network_matches_graph_on_its_features(native_model, clip):
    """The CNN alone, fed the graph's own features (v352): scores (v429) and voicing logit (v437)."""
    ref, _ = load_clip(clip)
    with torch.no_grad():
        scores, voicing = native_model.network(torch.from_numpy(ref["onnx_features"]))
    err_s = np.abs(scores.numpy() - ref["onnx_pitch_logits"]).max()
    err_v = np.abs(voicing.numpy() - ref["onnx_voicing_logit"]).max()
    print(f"{clip}: network on the graph's features: scores max abs err {err_s:.2e}, voicing {err_v:.2e}")
    assert err_s <= 1e-4 and err_v <= 1e-4


@pytest.mark.parametrize("clip", CLIPS)
def test_whole_graph_matches_onnx(native_model, clip):
    """Audio → features → scores → voicing → pitch / confidence against the graph. With the graph's own
    run-time DFT constants (Eigen's float32 cos / sin), a correctly rounded sqrt and sequential-FMA matrix
    products, the features of near-empty bands (float32 DFT rounding noise) follow the graph's rounding too:
    the features agree to a few float32 ulps (filterbank sum order, the log's last bit) and the scores and
    voicing logits within the network's own mismatch on the graph's features."""
    ref, x = load_clip(clip)
    with torch.no_grad():
        out = native_model.native_forward(x)
    n = len(ref["onnx_pitch"])
    assert out.pitch_scores.shape == ref["onnx_pitch_logits"].shape == (1, n, 95)
    feats, feats_ref = out.features.numpy(), ref["onnx_features"]
    err_f = np.abs(feats - feats_ref).max()
    peak = np.exp(feats_ref).max(axis=2, keepdims=True)
    err_mag = (np.abs(np.exp(feats) - np.exp(feats_ref)) / peak).max()
    err_s = np.abs(out.pitch_scores.numpy() - ref["onnx_pitch_logits"]).max()
    err_v = np.abs(out.voicing_logits.numpy() - ref["onnx_voicing_logit"]).max()
    err_c = np.abs(out.confidence[0].numpy() - ref["onnx_confidence"]).max()
    err_hz = np.abs(out.pitch_hz[0].numpy() - ref["onnx_pitch"]).max()
    err_ct = np.abs(1200 * np.log2(out.pitch_hz[0].numpy() / ref["onnx_pitch"])).max()
    print(f"{clip}: features max abs err {err_f:.2e} (magnitude / frame peak {err_mag:.2e}), scores {err_s:.2e}, "
          f"voicing logit {err_v:.2e}, confidence {err_c:.2e}, pitch {err_hz:.2e} Hz = {err_ct:.2e} cents")
    assert err_mag <= 5e-6 and err_f <= 1e-5
    assert err_s <= 1e-4 and err_v <= 1e-4
    assert err_c <= 1e-5 and err_hz <= 1e-3 and err_ct <= 1e-3


@pytest.mark.parametrize("clip", CLIPS)
def test_decode_f0_reproduces_detect(native_model, clip):
    """decode_f0 on our activations (window 1 = the original's 3-bin softmax average; threshold 0.5 on the
    peak activation = SwiftF0's confidence ≥ 0.5): within 1 cent of detect()'s pitch on the frames it
    calls voiced; the same voicing except on hops detect() zeroes as digital silence."""
    from majl_hf.pitch import decode_f0

    ref, x = load_clip(clip)
    with torch.no_grad():
        probs = native_model(x).probabilities[0]
    n = len(ref["pitch_hz"])
    assert probs.shape[0] == n + 1  # our grid: 1 + samples // 256 frames; the last one repeats frame n − 1
    f0, conf, voiced = decode_f0(probs[:n], native_model.pitch_bins, threshold=0.5, window=1)
    sel = ref["voicing"]
    err = np.abs(1200 * np.log2(f0.numpy()[sel] / ref["pitch_hz"][sel]))
    agree = voiced.numpy() == (ref["onnx_confidence"] >= 0.5)
    print(f"{clip}: {sel.sum()} voiced frames, decoded f0 max err {err.max():.2e} cents; "
          f"voicing agrees with the graph's confidence >= 0.5 on {agree.mean():.4f} of frames")
    assert sel.sum() > 20 and err.max() <= 1.0
    assert np.abs(conf.numpy() - ref["onnx_confidence"]).max() <= 1e-4
    assert agree.all()
    assert np.array_equal(voiced.numpy() & ~ref["silent_hop"], ref["voicing"])


def test_padded_edges_change_only_the_ends(native_model):
    """Default ``pad_edges``: the network also sees zero audio beyond both ends; the frames the convolutions'
    own zero padding cannot reach (7 from each end) are unchanged."""
    from majl_hf.models.swiftf0 import SwiftF0Model

    ref, x = load_clip("NightOwl_resyn")
    padded = SwiftF0Model(native_model.config.__class__(**{**native_model.config.to_dict(), "pad_edges": True}))
    padded.load_state_dict(native_model.state_dict())
    with torch.no_grad():
        a, b = native_model(x).logits[0], padded.eval()(x).logits[0]
    n = len(ref["onnx_pitch"])
    inner = (a[7 : n - 7] - b[7 : n - 7]).abs().max().item()
    ends = (a[:2] - b[:2]).abs().max().item()
    print(f"pad_edges: interior max diff {inner:.2e}, first frames {ends:.2e}")
    assert inner <= 1e-5 and ends > 1e-3


def test_pitch_bins_are_the_graphs():
    """PitchBins(cents_offset, cents_per_bin, 95) reproduces the graph's bin frequencies v438 and their logs v455."""
    from majl_hf.models.swiftf0 import SwiftF0Config

    inits = np.load(shared_path("reference", "swiftf0", "onnx_initializers.npz"))
    bins = SwiftF0Config().pitch_bins
    hz = bins.bin_to_hz(np.arange(95, dtype=np.float64))
    print(f"bins: {bins.cents_offset:.4f} cents + {bins.cents_per_bin:.5f} per bin; "
          f"max rel err vs v438 {np.abs(hz / inits['v438'] - 1).max():.1e}")
    assert bins.n_bins == 95 and bins.cents_per_bin == pytest.approx(69.97183, abs=1e-4)
    assert np.abs(hz / inits["v438"] - 1).max() < 1e-7
    assert np.abs(np.log(hz) - inits["v455"]).max() < 1e-7


def test_conversion_checks_hash_and_graph(tmp_path):
    pytest.importorskip("onnx")
    from majl_hf.models.swiftf0 import SwiftF0Config, SwiftF0Model
    from majl_hf.models.swiftf0.convert_swiftf0 import convert_swiftf0, state_dict_from_onnx

    onnx_path = shared_path("weights", "swiftf0", "model.onnx")
    bad = tmp_path / "model.onnx"
    bad.write_bytes(onnx_path.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="sha256"):
        convert_swiftf0(bad)
    # a re-implementation with another architecture is refused by the graph check
    with pytest.raises(ValueError, match="Conv for blocks.1.conv1"):
        state_dict_from_onnx(onnx_path, SwiftF0Model(SwiftF0Config(blocks=[[1, 7, 3], [16, 7, 1], [27, 5, 1],
                                                                          [40, 3, 1], [48, 3, 1], [2, 7, 3]])))
    model = convert_swiftf0(onnx_path, output_dir=tmp_path / "out")
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "out" / "model.safetensors")
    assert len(saved) == 36 and sum(v.numel() for v in saved.values()) == 18558  # 18 convs; no constants
    assert model.config.hop_length == 320
