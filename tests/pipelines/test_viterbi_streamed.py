"""Viterbi decoding in the streamed file path (the CLI's, and pipe(path)'s): the in-memory
pipeline's values bit for bit on a real song with a long silence, for a frame-local estimator
(CREPE) and a segment one (FCPE), holding only a few seconds of activations at any time."""

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import EXAMPLE, shared_path


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """80sRock (6.8 s), 40 s of digital silence, the bundled example (10.9 s): 58 s, 44.1 kHz stereo."""
    rock, sr = sf.read(shared_path("data", "MedleyDB", "Audio", "MusicDelta_80sRock", "MusicDelta_80sRock_MIX.wav"),
                       dtype="float32", always_2d=True)
    ex, sr2 = sf.read(str(EXAMPLE), dtype="float32", always_2d=True)
    assert sr == sr2
    path = tmp_path_factory.mktemp("viterbi") / "rock_silence_example.wav"
    sf.write(path, np.concatenate([rock, np.zeros((40 * sr, 2), np.float32), ex]), sr, subtype="FLOAT")
    return path


@pytest.mark.parametrize("repo", ["DEFAULT_MODEL_TINY", "majl-hf/majl-unet-fcpe"])
def test_streamed_viterbi_equals_in_memory(song, repo, monkeypatch):
    from transformers import pipeline

    import majl_hf
    import majl_hf.inference.stream as stream
    from majl_hf.hub import is_cached

    repo = getattr(majl_hf, repo, repo)
    if not is_cached(repo):
        pytest.skip(f"{repo} is not in the HF cache: run python scripts/build_default.py")
    pipe = pipeline("majl-vocal", model=repo)
    seen = []

    class Recorded(stream.PitchStream):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            seen.append(self)

    monkeypatch.setattr(stream, "PitchStream", Recorded)
    # levels (hence the gating the estimator waits for) in batches of 256 frames rather than 4096, so
    # that this 58 s song shows how little the Viterbi decoding itself holds
    monkeypatch.setattr(stream._FrameLevels, "STEP", 256)
    in_memory = pipe(song.read_bytes(), decoder="viterbi")
    assert not seen  # the in-memory path decodes the whole matrix at once
    streamed = pipe(str(song), decoder="viterbi")
    (ps,) = seen
    for key in ("f0_hz", "voiced", "confidence", "times_s"):
        np.testing.assert_array_equal(streamed[key], in_memory[key], err_msg=key)
    assert in_memory["voiced"][: int(6.8 * 50)].sum() > 100  # the song is sung: the check has f0 to compare
    rate = 1 / np.diff(streamed["times_s"][:2])[0]
    vs = ps.vit
    held = ps.vit_max_held
    print(f"{repo}: {vs.frames} frames; at most {held} activation rows held ({held / rate:.1f} s), "
          f"{vs.max_pending} frames unsettled ({vs.max_pending / rate:.1f} s)")
    assert vs.forced == 0 and vs.frames == len(streamed["f0_hz"])
    # a few batches, not the song (FCPE's unit is its own 60 s segment: its rows arrive together)
    assert ps.vit_max_held / rate < 12.0 if ps.pe.frame_local else ps.vit_max_held <= ps.step
    assert vs.max_pending / rate > 40.0  # the silence's back-pointers wait for the singing after it
