"""Stage I → II pseudo-labels (paper Eq. 4–7): what each kind of single-labelled example gets, the
on-disk dataset (manifest, hashes, source order), and the stage-II crops that carry the frame
confidences to the model's threshold mask."""

import json

import numpy as np
import pytest
import torch

from majl_hf import MajlConfig, MajlModel
from majl_hf.data import make_example
from majl_hf.pitch.decode import frame_confidence
from majl_hf.training import ConfidenceView, label_example, load_pseudo_labels, pseudo_label, verify_pseudo_labels
from majl_hf.training.data import build_view, load_source
from majl_hf.training.pseudo_label import MANIFEST

from ..conftest import harmonic_tone
from .conftest import TINY_MODEL


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MajlModel(MajlConfig(**TINY_MODEL)).eval()


def song(seconds=3.0, sr=16000, with_vocals=True, with_f0=True):
    vocals = harmonic_tone(220.0, seconds, sr)[None]
    rng = np.random.default_rng(0)
    mixture = vocals + 0.05 * rng.standard_normal(vocals.shape).astype(np.float32)
    n_frames = 1 + int(vocals.shape[1] // (0.02 * sr))
    f0 = np.full(n_frames, 220.0, dtype=np.float32)
    f0[:10] = 0.0
    return make_example(
        id="s",
        corpus="synthetic",
        split="train",
        mixture=mixture,
        sampling_rate=sr,
        licence="none",
        vocals=vocals if with_vocals else None,
        f0_hz=f0 if with_f0 else None,
    )


def test_separation_only_example_gets_the_pitch_of_its_true_vocals(model):
    ex = song(with_f0=False)  # MUSDB18-like
    row = label_example(model, ex, chunk_length_s=1.0)
    with torch.no_grad():
        probs = model.pitch_of(torch.from_numpy(ex["vocals"])[None]).probabilities[0]
    n = len(row["f0_hz"])
    expected = frame_confidence(probs).numpy()[:n]
    # Eq. 4; frame-exact inside, the first/last frames see the long-audio path's edge padding
    np.testing.assert_allclose(row["confidence_pe"][2:-2], expected[2:-2], atol=1e-5)
    np.testing.assert_allclose(row["confidence_pe"], expected, atol=2e-3)
    assert np.all(row["confidence_mss"] == 1.0)  # Eq. 6
    assert row["pseudo_label"] == "f0" and row["has_f0"] and row["has_vocals"]
    np.testing.assert_array_equal(row["vocals"], ex["vocals"])  # the true vocals stay the separation label
    voiced = probs.amax(-1).numpy()[:n] >= 0.5
    np.testing.assert_array_equal(row["f0_hz"] > 0, voiced)


def test_pitch_only_example_gets_the_separators_vocals(model):
    ex = song(with_vocals=False)  # MIR-ST500-like
    row = label_example(model, ex, chunk_length_s=None)
    with torch.no_grad():
        out = model(torch.from_numpy(ex["mixture"])[None])
    np.testing.assert_allclose(row["vocals"], out.vocals[0].numpy(), atol=1e-4)
    n = len(row["f0_hz"])
    expected = out.confidence[0].numpy()[:n]
    np.testing.assert_allclose(row["confidence_mss"][2:-2], expected[2:-2], atol=1e-4)  # Eq. 7
    np.testing.assert_allclose(row["confidence_mss"], expected, atol=2e-3)
    assert np.all(row["confidence_pe"] == 1.0)
    np.testing.assert_array_equal(row["f0_hz"], ex["f0_hz"])  # the true labels stay
    assert row["pseudo_label"] == "vocals" and row["has_vocals"]


def test_chunking_does_not_change_the_pitch_labels(model):
    ex = song(seconds=4.0, with_f0=False)
    whole = label_example(model, ex, chunk_length_s=None)
    chunked = label_example(model, ex, chunk_length_s=1.0)
    np.testing.assert_allclose(chunked["confidence_pe"], whole["confidence_pe"], atol=1e-5)
    np.testing.assert_allclose(chunked["f0_hz"], whole["f0_hz"], rtol=1e-5)


def test_on_disk_dataset_with_manifest(tmp_path, model, musdb_source, mirst500_source):
    from accelerate import Accelerator

    sources = [(s, load_source(s)) for s in (musdb_source, mirst500_source)]
    out = pseudo_label(
        model,
        sources,
        tmp_path / "pl",
        accelerator=Accelerator(cpu=True),
        chunk_length_s=2.0,
        model_name_or_path="tiny",
        progress_bar=False,
    )
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["complete"] and manifest["num_processes"] == 1
    assert manifest["model"]["name_or_path"] == "tiny" and len(manifest["model"]["weights_sha256"]) == 64
    assert [e["pseudo_label"] for e in manifest["examples"]] == ["f0", "vocals"]
    assert [e["corpus"] for e in manifest["examples"]] == ["musdb18", "mirst500"]
    data = load_pseudo_labels(out)
    assert data.num_rows == 2 and list(data["source_index"]) == [0, 1]
    row = data.with_format("numpy")[1]
    assert row["sampling_rate"] == 16000 and np.asarray(row["mixture"]).shape[0] == 1  # the model's rate, mono
    assert len(row["confidence_mss"]) == len(row["f0_hz"]) == len(row["times_s"])
    # refuses to overwrite, and detects a damaged shard
    with pytest.raises(FileExistsError):
        pseudo_label(model, sources, out, accelerator=Accelerator(cpu=True), progress_bar=False)
    shard = out / manifest["shards"][0]["file"]
    shard.write_bytes(shard.read_bytes()[:-100])
    assert not verify_pseudo_labels(out)[0]
    with pytest.raises(ValueError, match="not usable"):
        load_pseudo_labels(out)


def test_stage2_crops_carry_confidences_on_the_models_frames(model):
    pseudo = song(with_f0=False)
    n = len(pseudo["f0_hz"])
    pseudo.update(
        confidence_mss=np.ones(n, np.float32), confidence_pe=np.arange(n, dtype=np.float32) / n, pseudo_label="f0"
    )
    full = song()
    view = build_view(
        [({"corpus": "pseudo"}, [pseudo]), ({"corpus": "synthetic"}, [full])],
        sampling_rate=16000,
        channels=1,
        hop_s=0.02,
        segment_s=1.0,
        crops_per_example=3,
        seed=1,
    )
    assert all(isinstance(v, ConfidenceView) for v in view.datasets)
    for i in range(3):
        item = view[i]
        c = item["confidence_pe"].numpy()
        start = int(round(c[0] * n))  # the crop's first grid frame, read off the ramp
        np.testing.assert_allclose(c, (start + np.arange(len(c))) / n, atol=1e-6)
        # the audio is the same crop: the tone's phase at that frame
        np.testing.assert_allclose(
            item["target_vocals"][0, :320].numpy(), pseudo["vocals"][0, start * 320 : start * 320 + 320]
        )
    item = view[3]  # a fully-labelled example: confidence 1 everywhere (Eq. 5)
    assert torch.all(item["confidence_mss"] == 1) and torch.all(item["confidence_pe"] == 1)


def test_below_threshold_frames_carry_no_loss(model):
    """Through the model's own loss (Eq. 15): a sample whose frames are all under th adds no L_pe."""
    ex = song()
    view = build_view(
        [({"corpus": "x"}, [ex])],
        sampling_rate=16000,
        channels=1,
        hop_s=0.02,
        segment_s=1.0,
        crops_per_example=2,
        with_confidences=True,
    )
    from majl_hf.data import collate_training

    batch = collate_training([view[0], view[1]])
    batch["confidence_pe"][0] = 0.69  # below th = 0.7
    with torch.no_grad():
        out = model(**batch)
    assert float(out.loss_pe[0]) == 0.0 and float(out.loss_pe[1]) > 0


def test_old_knob_names_still_work_with_a_deprecation_warning(model, tmp_path):
    """chunk_s / context_s are the old names of chunk_length_s / overlap_s (the pipeline's and
    apply_majl's): same labels, a DeprecationWarning, and giving both names is an error."""
    from majl_hf.training.pseudo_label import PseudoLabelArguments

    ex = song(seconds=2.0, with_f0=False)
    new = label_example(model, ex, chunk_length_s=1.0, overlap_s=0.25)
    with pytest.warns(DeprecationWarning, match="chunk_s is deprecated.*chunk_length_s"):
        old = label_example(model, ex, chunk_s=1.0, overlap_s=0.25)
    np.testing.assert_array_equal(old["f0_hz"], new["f0_hz"])
    np.testing.assert_array_equal(old["confidence_pe"], new["confidence_pe"])
    with pytest.raises(TypeError, match="give only chunk_length_s"):
        label_example(model, ex, chunk_s=1.0, chunk_length_s=2.0)

    with pytest.warns(DeprecationWarning, match="context_s is deprecated.*overlap_s"):
        args = PseudoLabelArguments(model="m", data=[{}], chunk_s=2.0, context_s=0.5)
    assert (args.chunk_length_s, args.overlap_s) == (2.0, 0.5)
    assert "chunk_s" not in args.to_dict() and args.to_dict()["chunk_length_s"] == 2.0
    cfg = tmp_path / "old.yaml"
    cfg.write_text("model: m\ndata: [{}]\nchunk_s: 3.0\ncontext_s: null\n")
    with pytest.warns(DeprecationWarning):
        from_file = PseudoLabelArguments.from_file(cfg, ["chunk_s=4.0"])  # an old-name override wins
    assert from_file.chunk_length_s == 4.0 and from_file.overlap_s is None
    assert PseudoLabelArguments.from_file(cfg, ["chunk_length_s=5.0"]).chunk_length_s == 5.0
    with pytest.raises(ValueError, match="same setting"):
        PseudoLabelArguments.from_dict({"model": "m", "data": [{}], "chunk_s": 1.0, "chunk_length_s": 2.0})


def test_script_flags_old_names_warn():
    from tests.conftest import load_script

    script = load_script("pseudo_label")
    ns = script.parse_args(["--chunk-length-s", "2", "--overlap-s=0.5"])
    assert (ns.chunk_length_s, ns.overlap_s) == (2.0, 0.5)
    with pytest.warns(DeprecationWarning, match="--context-s is deprecated: use --overlap-s"):
        ns = script.parse_args(["--chunk-s", "3", "--context-s=0.25"])
    assert (ns.chunk_length_s, ns.overlap_s) == (3.0, 0.25)
