"""ViterbiStream (majl_hf.pitch.decode): the Viterbi path of activations that arrive in blocks,
settled as soon as every survivor path meets — the whole-matrix path bit for bit, whatever the
block sizes — with only the unsettled frames held."""

import numpy as np
import pytest
import torch

from majl_hf.pitch.decode import ViterbiStream, viterbi_path


def _stream(a: torch.Tensor, block: int, **kw):
    vs = ViterbiStream(a.shape[-1], **kw)
    got, held = [], 0
    for i in range(0, len(a), block):
        out = vs.push(a[i : i + block])
        got.append(out)
        assert vs.settled == sum(len(g) for g in got)  # what came out so far, in order
        held = max(held, vs.pending)
    got.append(vs.finish())
    assert vs.pending == 0 and vs.settled == len(a)
    return np.concatenate(got), vs, held


def _activations(case: str, T: int = 1200) -> torch.Tensor:
    g = torch.Generator().manual_seed(4)
    if case == "noise":
        return torch.rand(T, 360, generator=g)
    if case == "peaky":
        return torch.rand(T, 360, generator=g) ** 12
    centre = (180 + 60 * torch.sin(torch.arange(T) / 40.0)).round()
    a = 0.9 * torch.exp(-0.5 * ((torch.arange(360)[None] - centre[:, None]) / 2.5) ** 2)
    a = a + 1e-3 * torch.rand(T, 360, generator=g)
    if case == "melody_with_silence":
        a[300:700] = 0.0  # gated frames: uniform emissions
    if case == "far_jumps":
        a[::97] = 0.0
        a[500:, :] = a[500:].roll(170, dims=1)  # a jump beyond the band (the 1e-30 floor)
    return a


@pytest.mark.parametrize("case", ["noise", "peaky", "melody", "melody_with_silence", "far_jumps"])
@pytest.mark.parametrize("block", [1, 5, 64, 10_000])
def test_stream_equals_the_whole_matrix_path(case, block):
    a = _activations(case)
    got, vs, _ = _stream(a, block, max_lag=None)
    assert np.array_equal(got, viterbi_path(a).numpy())
    assert vs.forced == 0


def test_settles_early_where_there_is_a_pitch():
    """On a clear melody the survivors meet within a few frames: after each 64-frame block, at most
    about one more block is held, not the song."""
    a = _activations("melody", T=6000)
    got, vs, held = _stream(a, 64, max_lag=None)
    assert np.array_equal(got, viterbi_path(a).numpy())
    print(f"held at most {held} of {len(a)} frames")
    assert held <= 3 * 64


def test_real_activations(real_probs):
    for name, probs in real_probs.items():
        got, vs, held = _stream(probs, 64, max_lag=None)
        print(f"{name}: {len(probs)} frames, held at most {held}")
        assert np.array_equal(got, viterbi_path(probs).numpy())


@pytest.fixture(scope="module")
def real_probs():
    """Activations of the tiny default cascade on real songs (the bundled example has silences)."""
    import majl_hf
    from majl_hf import MajlModel
    from majl_hf.feature_extraction_majl import load_audio, to_model_input
    from majl_hf.hub import is_cached
    from majl_hf.inference.apply import apply_majl
    from tests.conftest import EXAMPLE, shared_path

    if not is_cached(majl_hf.DEFAULT_MODEL_TINY):
        pytest.skip(f"{majl_hf.DEFAULT_MODEL_TINY} is not in the HF cache: run python scripts/build_default.py")
    model = MajlModel.from_pretrained(majl_hf.DEFAULT_MODEL_TINY).eval()
    out = {}
    for name, path in (("example", EXAMPLE), ("80sRock", shared_path("data", "MedleyDB", "Audio", "MusicDelta_80sRock",
                                                                       "MusicDelta_80sRock_MIX.wav"))):
        audio, info = load_audio(str(path))
        x = torch.from_numpy(to_model_input(audio, info, model.sampling_rate, model.audio_channels))
        out[name] = apply_majl(model, x).pitch_probabilities[0]
    return out


def test_max_lag_bounds_what_is_held():
    """Noise never lets the survivors meet: with ``max_lag`` the oldest frames are settled on the best
    path so far, ``forced`` counts them, and no more than ``max_lag`` frames are ever held."""
    a = _activations("noise", T=2000)
    got, vs, held = _stream(a, 16, max_lag=200)
    assert len(got) == len(a) and held <= 200 + 16 and vs.forced > 0
    ref = viterbi_path(a).numpy()
    assert 0 < (got == ref).mean() < 1  # fixed-lag decoding: an approximation here, said by `forced`
    # where they meet, the cap never triggers
    a = _activations("melody", T=2000)
    got, vs, _ = _stream(a, 16, max_lag=200)
    assert vs.forced == 0 and np.array_equal(got, viterbi_path(a).numpy())


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_lag"):
        ViterbiStream(360, max_lag=1)
    with pytest.raises(ValueError, match="max_jump_bins"):
        ViterbiStream(360, max_jump_bins=0)
    with pytest.raises(ValueError, match="eps"):
        ViterbiStream(360, eps=0.0)
    vs = ViterbiStream(360)
    with pytest.raises(ValueError, match=r"\(k, 360\)"):
        vs.push(torch.zeros(4, 100))
    assert len(vs.push(torch.zeros(0, 360))) == 0 and len(vs.finish()) == 0
