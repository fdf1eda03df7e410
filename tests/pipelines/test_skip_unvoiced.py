"""The pitch estimator does not run where the voicing rule already knows there are no vocals
(``skip_unvoiced``, default on): the same voicing and f0 on every frame, the same confidence on the
frames analysed, fewer pitch-estimator frames. Real mixtures, the real tiny default cascade, both
the in-memory pipeline and the streamed file path the CLI uses."""

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import shared_path


@pytest.fixture(scope="module")
def pipe():
    from transformers import pipeline

    import majl_hf
    from majl_hf.hub import is_cached

    if not is_cached(majl_hf.DEFAULT_MODEL_TINY):
        pytest.skip("the defaults are not in the HF cache: run python scripts/build_default.py")
    return pipeline("majl-vocal", model=majl_hf.DEFAULT_MODEL_TINY)


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """The MedleyDB 80sRock excerpt (6.8 s, singing with gaps), silence up to the end of the separator's
    first 11.9 s patch (Spleeter's U-Net sees a whole patch: a voice in it colours its other frames), then
    the instrumental Beethoven excerpt twice (2 × 2 s); returns the path and where the instrumental starts (s)."""
    root = shared_path("data", "MedleyDB", "Audio")
    rock, sr = sf.read(root / "MusicDelta_80sRock" / "MusicDelta_80sRock_MIX.wav", dtype="float32", always_2d=True)
    beet, sr2 = sf.read(root / "MusicDelta_Beethoven" / "MusicDelta_Beethoven_MIX.wav", dtype="float32",
                        always_2d=True)
    assert sr == sr2
    path = tmp_path_factory.mktemp("skip") / "rock_then_beethoven.wav"
    patch = 512 * 1024
    gap = np.zeros((patch - len(rock), rock.shape[1]), np.float32)
    sf.write(path, np.concatenate([rock, gap, beet, beet]), sr, subtype="FLOAT")
    return str(path), patch / sr


class _FrameCounter:
    """Counts the frames the (frame-local) pitch estimator is asked for."""

    def __init__(self, pe, monkeypatch):
        self.frames = 0
        original = pe.logits_from_frames

        def counted(frames):
            self.frames += frames.shape[0]
            return original(frames)

        monkeypatch.setattr(pe, "logits_from_frames", counted)


def _check_same(skipped, full, n_frames_skipped, n_frames_full, instrumental_s):
    np.testing.assert_array_equal(skipped["voiced"], full["voiced"])
    np.testing.assert_array_equal(skipped["f0_hz"], full["f0_hz"])
    analysed = skipped["confidence"] > 0
    np.testing.assert_array_equal(skipped["confidence"][analysed], full["confidence"][analysed])
    assert full["voiced"].sum() > 100  # the song part is sung
    assert not full["voiced"][full["times_s"] > instrumental_s + 0.3].any()  # the instrumental part is not
    print(f"pitch frames analysed: {n_frames_skipped} with skip_unvoiced vs {n_frames_full} without "
          f"({full['voiced'].sum()} voiced of {len(full['voiced'])})")
    assert n_frames_skipped < 0.75 * n_frames_full  # the instrumental part and the sung gaps are skipped


FRAMEWISE = {"decoder": "weighted_average"}  # a decoder that looks at one frame (Viterbi, the default, skips nothing)


def test_pipeline_skips_frames_without_vocals(pipe, song, monkeypatch):
    song, instrumental_s = song
    counter = _FrameCounter(pipe.model.pitch_estimator, monkeypatch)
    full = pipe(song, skip_unvoiced=False, **FRAMEWISE)
    n_full, counter.frames = counter.frames, 0
    skipped = pipe(song, **FRAMEWISE)
    _check_same(skipped, full, counter.frames, n_full, instrumental_s)
    np.testing.assert_array_equal(skipped["vocals"], full["vocals"])


def test_streamed_file_path_skips_the_same_frames(pipe, song, monkeypatch):
    from majl_hf.inference.stream import separate_file

    song, instrumental_s = song
    counter = _FrameCounter(pipe.model.pitch_estimator, monkeypatch)
    full = separate_file(pipe.model, song, skip_unvoiced=False, return_audio=False, **FRAMEWISE)
    n_full, counter.frames = counter.frames, 0
    skipped = separate_file(pipe.model, song, return_audio=False, **FRAMEWISE)
    _check_same(skipped, full, counter.frames, n_full, instrumental_s)
    in_memory = pipe(song, **FRAMEWISE)
    np.testing.assert_array_equal(skipped["voiced"], in_memory["voiced"])


def test_viterbi_decoder_analyses_every_frame(pipe, song, monkeypatch):
    """The Viterbi path crosses skipped frames, so with it nothing is skipped: f0 equal with the option on or off."""
    song, _ = song
    counter = _FrameCounter(pipe.model.pitch_estimator, monkeypatch)
    a = pipe(song)  # the default decoder
    n_a, counter.frames = counter.frames, 0
    b = pipe(song, decoder="viterbi", skip_unvoiced=False)
    assert n_a == counter.frames
    np.testing.assert_array_equal(a["f0_hz"], b["f0_hz"])
