"""The training view: crops resampled to the model's rate with labels aligned sample-exactly,
collation, determinism and augmentation."""

import numpy as np
import pytest
import torch

from majl_hf.data import MIR1K, MUSDB18, MedleyDB, TrainingView, collate_training, make_example


def clock_example(sr, seconds=3.0, slope_hz_per_s=1000.0, channels=1):
    """An example whose mixture *is* its own clock (sample value = time in s) and whose f0 label on
    the 20 ms grid is 200 + slope · t Hz, so alignment can be read off any crop exactly."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    mix = np.tile(t, (channels, 1))
    n_frames = 1 + int(np.floor(n / (0.02 * sr) + 1e-9))
    f0 = 200.0 + slope_hz_per_s * 0.02 * np.arange(n_frames)
    return make_example(
        id=f"clock{sr}",
        corpus="synthetic",
        split="train",
        mixture=mix,
        vocals=0.5 * mix,
        sampling_rate=sr,
        f0_hz=f0,
        licence="none",
    )


@pytest.mark.parametrize(
    "src_sr, dst_sr, hop_s",
    [
        (44100, 16000, 0.02),  # grid start, labels sliced
        (44100, 16000, 0.01),  # grid start, labels re-resampled onto a 10 ms hop
        (16000, 16000, 0.02),  # no resampling
        (11025, 16000, 0.02),  # 20 ms is 220.5 samples: off-grid start, labels re-resampled
        (16000, 44100, 0.016),
    ],
)
def test_crop_and_labels_are_aligned_sample_exactly(src_sr, dst_sr, hop_s):
    ex = clock_example(src_sr)
    view = TrainingView(
        [ex], segment_s=1.0, sampling_rate=dst_sr, channels=1, hop_s=hop_s, crops_per_example=6, seed=3
    )
    starts = set()
    for i in range(len(view)):
        item = view[i]
        x = item["input_values"][0].double().numpy()
        assert x.shape == (dst_sr,) and item["target_f0_hz"].shape == (1 + int(dst_sr // (hop_s * dst_sr) + 1e-9),)
        # the crop start, read off the clock away from the resampler's edges
        interior = np.arange(dst_sr // 10, dst_sr - dst_sr // 10)
        start = np.median(x[interior] - interior / dst_sr)
        assert np.abs(x[interior] - (start + interior / dst_sr)).max() < 0.25 / dst_sr  # within a quarter sample
        starts.add(round(start, 6))
        assert abs(start * src_sr - round(start * src_sr)) < 0.05  # the crop starts on a source sample
        if src_sr * 0.02 == int(src_sr * 0.02):
            assert abs(start / 0.02 - round(start / 0.02)) < 1e-3  # crops start on the 20 ms grid
        # model frame j is centred at start + j·hop: its label is the clock's f0 there
        f0 = item["target_f0_hz"].double().numpy()
        expected = 200.0 + 1000.0 * (start + hop_s * np.arange(len(f0)))
        # 0.5 Hz = 0.5 ms of the clock (cents interpolation between grid frames costs < 0.3 Hz);
        # a one-frame error would be 20 Hz
        np.testing.assert_allclose(f0, expected, atol=0.5)
        np.testing.assert_allclose(item["target_vocals"].numpy(), 0.5 * item["input_values"].numpy(), atol=1e-6)
    assert len(starts) > 1


def test_real_crop_matches_reference_audio_and_labels(shared_data, shared_reference):
    """80sRock vocals cropped to 16 kHz mono equal the reference 16 kHz mono stem at the crop's
    grid start, and the labels are the example's grid labels from that frame on."""
    pytest.importorskip("yaml", reason="MedleyDB metadata needs pyyaml (extra 'train')")
    (ex,) = list(MedleyDB(shared_data("MedleyDB"), tracks=["MusicDelta_80sRock"]))
    ref = np.load(shared_reference("crepe", "80srock_stem04.npz"))["audio_16k"]  # soxr HQ of the stereo mean
    view = TrainingView([ex], segment_s=1.5, sampling_rate=16000, channels=1, crops_per_example=3, seed=0)
    for i in range(3):
        item = view[i]
        voc = item["target_vocals"][0].numpy()
        errors = [np.abs(voc[2000:-2000] - ref[k * 320 + 2000 : k * 320 + 24000 - 2000]).max() for k in range(0, 266)]
        k = int(np.argmin(errors))
        assert errors[k] < 2e-3 and sorted(errors)[1] > 10 * errors[k]
        np.testing.assert_array_equal(item["target_f0_hz"].numpy(), ex["f0_hz"][k : k + 76])


def test_collate_mixed_corpora(shared_data):
    examples = list(MIR1K(shared_data("MIR-1K"))) + list(MUSDB18(shared_data("MUSDB18-HQ")))
    view = TrainingView(examples, segment_s=0.5, sampling_rate=22050, channels=2, seed=0)
    batch = collate_training([view[0], view[1]])
    assert set(batch) == {"input_values", "target_vocals", "target_f0_hz", "has_vocals", "has_f0"}
    assert batch["input_values"].shape == batch["target_vocals"].shape == (2, 2, 11025)
    assert batch["input_values"].dtype == torch.float32
    assert batch["target_f0_hz"].shape == (2, 26)
    assert batch["has_vocals"].tolist() == [True, True] and batch["has_f0"].tolist() == [True, False]
    assert not batch["target_f0_hz"][1].any()
    # MIR-1K is mono: duplicated into both channels
    assert torch.equal(batch["input_values"][0, 0], batch["input_values"][0, 1])


def test_datasets_input_and_determinism(shared_data, tmp_path):
    datasets = pytest.importorskip("datasets")  # noqa: F841
    ds = MedleyDB(shared_data("MedleyDB"), split="train", tracks=["MusicDelta_80sRock"]).to_dataset(cache_dir=tmp_path)
    a = TrainingView(ds, segment_s=1.0, sampling_rate=16000, channels=2, hop_s=0.01, seed=5, crops_per_example=2)
    b = TrainingView(ds, segment_s=1.0, sampling_rate=16000, channels=2, hop_s=0.01, seed=5, crops_per_example=2)
    for i in range(2):
        for key, value in a[i].items():
            assert torch.equal(value, b[i][key])
    b.set_epoch(1)
    assert not torch.equal(a[0]["input_values"], b[0]["input_values"])
    assert a[0]["target_f0_hz"].shape == (101,) and a[0]["input_values"].shape == (2, 16000)


def test_augmentation_gain_swap_remix():
    rng = np.random.default_rng(0)
    n = 44100
    voc = rng.standard_normal((2, n)).astype(np.float32) * 0.1
    acc = rng.standard_normal((2, n)).astype(np.float32) * 0.1
    singer = make_example(
        id="s",
        corpus="x",
        split="train",
        mixture=voc + acc,
        vocals=voc,
        sampling_rate=44100,
        f0_hz=np.full(51, 220.0),
        licence="none",
    )
    const = make_example(
        id="c",
        corpus="x",
        split="train",
        mixture=np.full((2, n), 0.25),
        vocals=np.zeros((2, n)),
        sampling_rate=44100,
        licence="none",
    )
    notes_only = make_example(
        id="n", corpus="x", split="train", mixture=acc, sampling_rate=44100, f0_hz=np.full(51, 220.0), licence="none"
    )
    plain = TrainingView([singer, const, notes_only], segment_s=0.5, sampling_rate=44100, channels=2, seed=1)
    aug = TrainingView(
        [singer, const, notes_only],
        segment_s=0.5,
        sampling_rate=44100,
        channels=2,
        seed=1,
        remix_p=1.0,
        gain_db=(-6.0, -6.0),
        channel_swap_p=1.0,
    )
    p, q = plain[0], aug[0]
    g = 10 ** (-6 / 20)
    # vocals: same crop, scaled and swapped; the accompaniment is the other track's (a constant 0.25)
    torch.testing.assert_close(q["target_vocals"], g * p["target_vocals"].flip(0))
    torch.testing.assert_close(q["input_values"] - q["target_vocals"], torch.full((2, 22050), g * 0.25))
    assert torch.equal(q["target_f0_hz"], p["target_f0_hz"])
    # an example without separation labels is never remixed
    torch.testing.assert_close(aug[2]["input_values"], g * plain[2]["input_values"].flip(0))


def test_bad_arguments():
    ex = clock_example(16000)
    with pytest.raises(ValueError, match="channels"):
        TrainingView([ex], segment_s=1.0, sampling_rate=16000, channels=3)
    with pytest.raises(ValueError, match="segment_s"):
        TrainingView([ex], segment_s=0, sampling_rate=16000, channels=1)
    short = TrainingView([ex], segment_s=5.0, sampling_rate=16000, channels=1)  # longer than the example
    item = short[0]
    assert item["input_values"].shape == (1, 80000) and not item["input_values"][0, 50000:].any()
    assert not item["target_f0_hz"][151:].any() and item["target_f0_hz"][150] > 0
