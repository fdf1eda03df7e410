"""Training arguments: the paper's defaults, YAML/JSON + key=value overrides, validation with
messages that say what to do, the resolved config written beside the outputs; the example configs
of the repository parse."""

import json

import pytest

from majl_hf.training import TrainingArguments
from majl_hf.training.arguments import apply_overrides, parse_override

from .conftest import REPO_ROOT, TINY_MODEL

MINIMAL = {"model_config": TINY_MODEL, "train_data": [{"corpus": "mir1k", "root": "MIR-1K"}]}


def test_paper_defaults():
    a = TrainingArguments.from_dict(MINIMAL)
    assert (a.batch_size, a.learning_rate, a.lr_decay_gamma, a.lr_decay_epochs) == (16, 1e-3, 0.98, 10)
    assert a.adam_betas == [0.9, 0.999] and a.save_steps > 0


def test_file_plus_overrides_and_round_trip(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("model_config: {joint_method: naive}\ntrain_data: [{corpus: mir1k, root: x}]\nbatch_size: 8\n")
    a = TrainingArguments.from_file(path, ["batch_size=4", "model_config.joint_method=dwhs", "freeze=[separator]",
                                           "config_overrides.w_max=3", "max_grad_norm=null"])
    assert a.batch_size == 4 and a.model_config == {"joint_method": "dwhs"} and a.freeze == ["separator"]
    assert a.config_overrides == {"w_max": 3} and a.max_grad_norm is None
    saved = a.save(tmp_path / "out" / "training_config.yaml")
    assert TrainingArguments.from_file(saved).to_dict() == a.to_dict()
    js = a.save(tmp_path / "resolved.json")
    assert json.loads(js.read_text())["batch_size"] == 4


def test_init_from_on_the_command_line_replaces_the_files_model_config(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(MINIMAL))
    a = TrainingArguments.from_file(path, ["init_from=some/model", "config_overrides.joint_method=dwhs"])
    assert a.init_from == "some/model" and a.model_config is None


@pytest.mark.parametrize(
    "change, message",
    [
        ({"init_from": "x"}, "exactly one of model_config"),
        ({"train_data": []}, "train_data is empty"),
        ({"train_data": [{"root": "x"}]}, "'corpus' key"),
        ({"freeze": ["dwm"]}, "freeze"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr_decay_gamma": 1.5}, "lr_decay_gamma"),
        ({"report_to": ["wandb"]}, "report_to"),
        ({"not_an_argument": 1}, "unknown training argument"),
        ({"ddp_timeout_s": 0}, "ddp_timeout_s"),
        ({"ddp_timeout_s": "soon"}, "ddp_timeout_s"),
    ],
)
def test_invalid_arguments_raise_naming_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        TrainingArguments.from_dict({**MINIMAL, **change})


def test_override_syntax():
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert apply_overrides({"a": {"x": 1}}, ["a.y=true"]) == {"a": {"x": 1, "y": True}}
    data = {"train_data": [{"corpus": "mir1k", "root": "a"}, {"corpus": "pseudo", "path": "b"}]}
    assert apply_overrides(data, ["train_data.1.path=/x y"])["train_data"][1] == {"corpus": "pseudo", "path": "/x y"}
    with pytest.raises(ValueError, match="not an index"):
        apply_overrides(data, ["train_data.5.path=c"])
    with pytest.raises(ValueError, match="key=value"):
        parse_override("no_equals_sign")


@pytest.mark.parametrize("name", ["stage1_mir1k.yaml", "pseudo_label_musdb_mirst500.yaml",
                                  "stage2_musdb_mirst500.yaml", "finetune_default_dwhs.yaml"])
def test_example_configs_parse(name):
    path = REPO_ROOT / "configs" / name
    if name.startswith("pseudo"):
        from majl_hf.training import PseudoLabelArguments

        a = PseudoLabelArguments.from_file(path)
        assert {s["corpus"] for s in a.data} == {"musdb18", "mirst500"}
        return
    a = TrainingArguments.from_file(path)
    assert a.output_dir and a.train_data
    if name.startswith("stage2"):
        assert a.config_from and any(s["corpus"] == "pseudo" for s in a.train_data)
    if name.startswith("finetune"):
        assert a.init_from and a.config_overrides["joint_method"] == "dwhs"


def test_ddp_timeout_reaches_the_process_group(tmp_path):
    """``ddp_timeout_s`` is the timeout the processes join and run their collectives with."""
    from datetime import timedelta

    from majl_hf.training.trainer import make_accelerator

    args = TrainingArguments.from_dict({**MINIMAL, "output_dir": str(tmp_path), "ddp_timeout_s": 42})
    acc = make_accelerator(args)
    assert acc.init_handler.timeout == timedelta(seconds=42)
