"""Fine-tuning a pretrained cascade: a "pipeline" model (like the converted default) switched to
DWHS gets a freshly initialised Dynamic Weight Module (ω = 1) and keeps its backbone weights; a
frozen part does not change (weights nor batch-norm statistics); stage II's ``config_from`` takes
the architecture but not the weights."""

import copy

import pytest
import torch

from majl_hf import MajlConfig, MajlModel
from majl_hf.training import TrainingArguments, build_model, run_training, with_joint_settings

from .conftest import TINY_MODEL, tiny_config


@pytest.fixture
def pipeline_model_dir(tmp_path):
    torch.manual_seed(1)
    model = MajlModel(MajlConfig(**{**TINY_MODEL, "joint_method": "pipeline"}))
    path = tmp_path / "pretrained"
    model.save_pretrained(path)
    return path, model


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_switching_a_pretrained_pipeline_model_to_dwhs(pipeline_model_dir):
    path, original = pipeline_model_dir
    args = TrainingArguments.from_dict(
        {
            "init_from": str(path),
            "config_overrides": {"joint_method": "dwhs"},
            "train_data": [{"corpus": "mir1k", "root": "unused"}],
        }
    )
    model = build_model(args)
    assert model.config.joint_method == "dwhs" and model.dwm is not None
    assert states_equal(model.separator.state_dict(), original.separator.state_dict())
    assert states_equal(model.pitch_estimator.state_dict(), original.pitch_estimator.state_dict())
    probs = torch.rand(2, 20, model.pitch_bins.n_bins)
    torch.testing.assert_close(model.dwm(probs, probs, probs), torch.ones(2, 2))  # ω = 1 at the start
    # the same through from_pretrained with a config override: the missing DWM is initialised too
    loaded = MajlModel.from_pretrained(path, joint_method="dwhs")
    assert all(torch.isfinite(p).all() for p in loaded.dwm.parameters())
    torch.testing.assert_close(loaded.dwm(probs, probs, probs), torch.ones(2, 2))
    assert states_equal(loaded.separator.state_dict(), original.separator.state_dict())


def test_an_existing_dwm_is_kept_and_backbones_cannot_be_swapped(pipeline_model_dir):
    torch.manual_seed(0)
    dwhs = MajlModel(MajlConfig(**TINY_MODEL))
    with torch.no_grad():
        dwhs.dwm.fc2.bias.fill_(0.3)
    tuned = with_joint_settings(dwhs, {"correct_frame_ratio": 0.8})
    assert tuned.config.correct_frame_ratio == 0.8 and torch.equal(tuned.dwm.fc2.bias, dwhs.dwm.fc2.bias)
    with pytest.raises(ValueError, match="backbone"):
        with_joint_settings(dwhs, {"pitch_config": {"model_type": "crepe"}})


def test_finetune_with_frozen_separator(tmp_path, pipeline_model_dir):
    path, original = pipeline_model_dir
    cfg = tiny_config(
        tmp_path,
        model_config=None,
        init_from=str(path),
        config_overrides={"joint_method": "dwhs"},
        freeze=["separator"],
        num_epochs=1,
        eval_data=[],
    )
    run_training(TrainingArguments.from_dict(cfg))
    tuned = MajlModel.from_pretrained(tmp_path / "run" / "model")
    assert tuned.config.joint_method == "dwhs"
    # frozen: weights and batch-norm running statistics unchanged
    assert states_equal(tuned.separator.state_dict(), original.separator.state_dict())
    changed = [
        k
        for k, v in tuned.pitch_estimator.state_dict().items()
        if not torch.equal(v, original.pitch_estimator.state_dict()[k])
    ]
    assert changed  # the pitch estimator trained
    card = (tmp_path / "run" / "model" / "README.md").read_text()
    assert f"pretrained `{path}`" in card and "| frozen | separator |" in card


def test_config_from_takes_the_architecture_not_the_weights(tmp_path, pipeline_model_dir):
    path, original = pipeline_model_dir
    args = TrainingArguments.from_dict(
        {
            "config_from": str(path),
            "config_overrides": {"joint_method": "dwhs"},
            "train_data": [{"corpus": "mir1k", "root": "unused"}],
            "seed": 5,
        }
    )
    model = build_model(args)
    assert model.config.to_dict()["separator_config"] == original.config.to_dict()["separator_config"]
    assert not states_equal(model.separator.state_dict(), original.separator.state_dict())
    again = build_model(copy.deepcopy(args))  # seeded: the same fresh weights
    assert states_equal(model.state_dict(), again.state_dict())


def test_finetune_a_spleeter_layout_cascade_on_real_audio(tmp_path, tiny_model_dir):
    """The default's layout (44.1 kHz stereo U-Net → CREPE at 16 kHz) at toy size, without a DWM:
    fine-tuned with DWHS on real MedleyDB audio, separator frozen."""
    original = MajlModel.from_pretrained(tiny_model_dir)
    assert original.dwm is None and original.sampling_rate == 44100
    cfg = tiny_config(
        tmp_path,
        model_config=None,
        init_from=str(tiny_model_dir),
        config_overrides={"joint_method": "dwhs"},
        freeze=["separator"],
        num_epochs=1,
        eval_data=[],
        segment_s=0.5,
        batch_size=2,
        crops_per_example=2,
        train_data=tiny_config(tmp_path)["train_data"][1:],
    )
    metrics = run_training(TrainingArguments.from_dict(cfg))
    assert metrics["global_step"] == 1
    tuned = MajlModel.from_pretrained(tmp_path / "run" / "model")
    assert tuned.config.joint_method == "dwhs" and tuned.sampling_rate == 44100
    assert states_equal(tuned.separator.state_dict(), original.separator.state_dict())
