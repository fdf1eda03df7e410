"""Multi-process runs with ``accelerate launch``: training (2 CPU processes over gloo, the global
batch split between them, checkpoints holding both processes' RNG states) and pseudo-labelling
(examples dealt out, one shard per process, the same labels as one process in the same order).

On a machine without GPUs ``accelerate launch --multi_gpu --num_processes 2`` starts the processes
(torchrun) and the trainer joins them over gloo; ``accelerate launch --cpu --num_processes 2``
would start a single process unless MPI is set up (accelerate's design)."""

import json
import subprocess

import numpy as np
import pytest
import torch
import yaml

from majl_hf import MajlConfig, MajlModel
from majl_hf.training import load_pseudo_labels, read_csv_log
from majl_hf.training.checkpoint import read_manifest
from majl_hf.training.pseudo_label import MANIFEST

from .conftest import SCRIPTS, TINY_MODEL, python, subprocess_env, tiny_config

LAUNCH = [
    "-m",
    "accelerate.commands.launch",
    "--multi_gpu",
    "--num_processes",
    "2",
    "--num_machines",
    "1",
    "--mixed_precision",
    "no",
    "--dynamo_backend",
    "no",
    "--main_process_port",
    "0",
]


def launch(args, timeout=300):
    res = subprocess.run(
        [python(), *LAUNCH, *args], env=subprocess_env(), capture_output=True, text=True, timeout=timeout
    )
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    return res


@pytest.mark.slow
def test_accelerate_launch_two_processes_train(tmp_path):
    # a process left waiting for the other stops with gloo's error (naming the collective) after
    # 120 s rather than hanging for torch's 30 min
    cfg = tiny_config(tmp_path, max_steps=3, save_steps=2, ddp_timeout_s=120)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = launch([str(SCRIPTS / "train.py"), "--config", str(path), "--quiet", "--set", "eval_metrics=false"])
    run = tmp_path / "run"
    ckpt = run / "checkpoints" / "checkpoint-00000002"
    manifest = read_manifest(ckpt)
    assert manifest["num_processes"] == 2
    assert {"random_states_0.pkl", "random_states_1.pkl"} <= set(manifest["files"])
    rows = read_csv_log(run / "logs" / "train.csv")
    assert [r["step"] for r in rows] == [1, 2, 3]  # one row per step (main process only)
    assert all(r["samples"] == 4 for r in rows)  # the global batch, gathered over both processes
    assert MajlModel.from_pretrained(run / "model").config.joint_method == "dwhs"
    assert sum(line.startswith("{") for line in res.stdout.splitlines()) == 1  # metrics printed once


@pytest.mark.slow
def test_accelerate_launch_two_processes_pseudo_label(tmp_path, musdb_source, mirst500_source):
    torch.manual_seed(0)
    model_dir = tmp_path / "stage1"
    MajlModel(MajlConfig(**TINY_MODEL)).save_pretrained(model_dir)
    # two MIR-ST500 songs and the MUSDB18 track: 3 examples over 2 processes
    notes = json.loads(open(mirst500_source["notes_path"]).read())
    notes["2"] = notes["1"]
    open(mirst500_source["notes_path"], "w").write(json.dumps(notes))
    import shutil
    from pathlib import Path

    src = Path(mirst500_source["audio_root"]) / "train"
    shutil.copytree(src / "1", src / "2")
    cfg = {"model": str(model_dir), "data": [musdb_source, mirst500_source], "chunk_length_s": 2.0}
    path = tmp_path / "pl.yaml"
    path.write_text(yaml.safe_dump(cfg))
    launch([str(SCRIPTS / "pseudo_label.py"), "--config", str(path), "--output-dir", str(tmp_path / "two"), "--quiet"])
    one = subprocess.run(
        [
            python(),
            str(SCRIPTS / "pseudo_label.py"),
            "--config",
            str(path),
            "--output-dir",
            str(tmp_path / "one"),
            "--quiet",
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    m2 = json.loads((tmp_path / "two" / MANIFEST).read_text())
    assert m2["num_processes"] == 2 and len(m2["shards"]) == 2
    assert sum(s["num_rows"] for s in m2["shards"]) == 3
    a, b = (
        load_pseudo_labels(tmp_path / "one").with_format("numpy"),
        load_pseudo_labels(tmp_path / "two").with_format("numpy"),
    )
    assert list(a["id"]) == list(b["id"]) == ["Music Delta - 80s Rock", "1", "2"]
    for i in range(3):
        for key in ("vocals", "f0_hz", "confidence_mss", "confidence_pe"):
            np.testing.assert_allclose(np.asarray(a[i][key]), np.asarray(b[i][key]), atol=1e-6)
