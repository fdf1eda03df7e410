"""The two-stage method end to end on the real excerpts, on a CPU in seconds: stage I (MIR-1K +
MedleyDB, DWHS) → pseudo-labels (MUSDB18-HQ excerpt + a MIR-ST500 fixture derived from MedleyDB
80sRock) → stage II from scratch on the union; the task losses fall over repeated passes and every
artefact loads with ``from_pretrained``."""

import json
import math

import numpy as np
import torch
from transformers import AutoModel

from majl_hf import MajlModel
from majl_hf.training import TrainingArguments, load_pseudo_labels, read_csv_log, run_training
from majl_hf.training.pseudo_label import MANIFEST, PseudoLabelArguments, run_pseudo_labelling

from .conftest import tiny_config


def task_loss(row):
    return row["train_loss_mss"] + row["train_loss_pe"]


def test_stage1_pseudo_labels_stage2(tmp_path, musdb_source, mirst500_source):
    from accelerate import Accelerator

    # ---- stage I: DWHS on fully-labelled data
    stage1 = TrainingArguments.from_dict(
        tiny_config(
            tmp_path,
            output_dir=str(tmp_path / "stage1"),
            num_epochs=8,
            learning_rate=1e-2,
            report_to=["csv", "tensorboard"],
        )
    )
    metrics1 = run_training(stage1)
    rows = read_csv_log(tmp_path / "stage1" / "logs" / "epochs.csv")
    assert len(rows) == 8
    assert task_loss(rows[-1]) < 0.9 * task_loss(rows[0])
    assert np.mean([task_loss(r) for r in rows[-3:]]) < np.mean([task_loss(r) for r in rows[:3]])
    # Fig. 5 statistics are logged: every sample falls in one of the four cases
    assert all(
        sum(r[f"n_case{c}"] for c in (1, 2, 3, 4)) == r["n_case1"] + r["n_case2"] + r["n_case3"] + r["n_case4"] > 0
        for r in rows
    )
    assert math.isfinite(metrics1["eval_loss"]) and "eval_sdr_db" in metrics1 and "eval_rpa" in metrics1
    assert list((tmp_path / "stage1" / "logs").rglob("events.out.tfevents.*"))  # TensorBoard
    stage1_model = tmp_path / "stage1" / "model"
    m1 = AutoModel.from_pretrained(stage1_model)
    assert isinstance(m1, MajlModel) and m1.config.joint_method == "dwhs"
    card = (stage1_model / "README.md").read_text()
    assert "DWHS weights" in card and "MIR-1K" in card and "learning_rate: 0.01" in card

    # ---- pseudo-labels for the single-labelled data
    pl_args = PseudoLabelArguments(
        model=str(stage1_model), output_dir=str(tmp_path / "pseudo"), data=[musdb_source, mirst500_source],
        chunk_length_s=2.0,
    )
    out = run_pseudo_labelling(pl_args, accelerator=Accelerator(cpu=True), progress_bar=False)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["model"]["files_sha256"]["model.safetensors"]
    assert [(e["corpus"], e["pseudo_label"]) for e in manifest["examples"]] == [
        ("musdb18", "f0"),
        ("mirst500", "vocals"),
    ]
    data = load_pseudo_labels(out).with_format("numpy")
    musdb, mirst = data[0], data[1]
    assert musdb["confidence_pe"].min() >= 0.5 and np.all(musdb["confidence_mss"] == 1)  # Eq. 4 ∈ [0.5, 1]
    assert np.all(mirst["confidence_pe"] == 1) and mirst["confidence_mss"].min() >= 0.5

    # ---- stage II: fresh weights of the stage-I architecture, union of the data, threshold mask
    cfg = tiny_config(
        tmp_path,
        output_dir=str(tmp_path / "stage2"),
        config_from=str(stage1_model),
        model_config=None,
        num_epochs=6,
        learning_rate=1e-2,
        crops_per_example=2,
        config_overrides={"pseudo_label_threshold": 0.7},
    )
    cfg["train_data"] = cfg["train_data"] + [{"corpus": "pseudo", "path": str(out)}]
    metrics2 = run_training(TrainingArguments.from_dict(cfg))
    rows2 = read_csv_log(tmp_path / "stage2" / "logs" / "epochs.csv")
    assert task_loss(rows2[-1]) < 0.9 * task_loss(rows2[0])
    m2 = AutoModel.from_pretrained(tmp_path / "stage2" / "model")
    assert m2.config.pseudo_label_threshold == 0.7
    # re-initialised, not continued from stage I
    m2_init = MajlModel(m1.config)
    assert not torch.equal(
        m2.separator.state_dict()["unets.vocals.encoder.0.conv.weight"],
        m1.separator.state_dict()["unets.vocals.encoder.0.conv.weight"],
    )
    assert m2_init.config.to_dict()["separator_config"] == m2.config.to_dict()["separator_config"]
    card2 = (tmp_path / "stage2" / "model" / "README.md").read_text()
    assert "stage II" in card2 and "Pseudo-labels" in card2 and manifest["model"]["weights_sha256"][:16] in card2
    assert (tmp_path / "stage2" / "training_config.yaml").is_file()
    assert (
        json.loads((tmp_path / "stage2" / "model" / "metrics.json").read_text())["global_step"]
        == metrics2["global_step"]
    )
