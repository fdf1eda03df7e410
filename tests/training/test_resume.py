"""Exact resumption: a run killed with SIGKILL in the middle of an epoch, right after a checkpoint
was written, and resumed with ``--resume`` ends with the same parameters as an uninterrupted run
(dropout active, evaluation between epochs, seeded data order and crops). Corrupted and partial
checkpoints newer than the good one are detected, skipped with the reason, and never loaded."""

import os
import shutil
import signal
import subprocess
import time

import pytest
import yaml
from safetensors.torch import load_file

from majl_hf.training import TrainingArguments, run_training, verify_checkpoint
from majl_hf.training.checkpoint import MANIFEST

from .conftest import SCRIPTS, python, subprocess_env, tiny_config

KILL_AFTER = "checkpoint-00000004"  # 3 batches per epoch: step 4 is the middle of epoch 1


def config(tmp_path, name):
    # 12 crops, batch 4 → 3 steps per epoch, 4 epochs; checkpoints every 2 steps (4 is mid-epoch)
    return tiny_config(tmp_path, output_dir=str(tmp_path / name), crops_per_example=6, num_epochs=4, save_steps=2,
                       save_total_limit=None, deterministic=True)


def final_weights(run_dir):
    return load_file(str(run_dir / "model" / "model.safetensors"))


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    # the reference: uninterrupted
    run_training(TrainingArguments.from_dict(config(tmp_path, "reference")))
    reference = final_weights(tmp_path / "reference")

    # the same run in a subprocess, killed as soon as the mid-epoch checkpoint is complete
    cfg_path = tmp_path / "killed.yaml"
    cfg_path.write_text(yaml.safe_dump(config(tmp_path, "killed")))
    run_dir = tmp_path / "killed"
    cmd = [python(), str(SCRIPTS / "train.py"), "--config", str(cfg_path), "--quiet"]
    proc = subprocess.Popen(cmd, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    target = run_dir / "checkpoints" / KILL_AFTER
    deadline = time.monotonic() + 240
    while not target.is_dir():
        if proc.poll() is not None:
            pytest.fail("the run ended before it could be killed:\n" + proc.stdout.read().decode()[-3000:])
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no checkpoint appeared in time")
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (run_dir / "model").exists()  # it really stopped before the end
    assert verify_checkpoint(target)[0]

    # newer, damaged checkpoints: corrupted weights, a partial copy without manifest, a truncated one
    good = target
    ckpts = run_dir / "checkpoints"
    for step, damage in ((9, "corrupt"), (10, "partial"), (11, "truncated")):
        bad = ckpts / f"checkpoint-{step:08d}"
        shutil.rmtree(bad, ignore_errors=True)
        shutil.copytree(good, bad)
        if damage == "corrupt":
            data = bytearray((bad / "model.safetensors").read_bytes())
            data[-7] ^= 0x01
            (bad / "model.safetensors").write_bytes(bytes(data))
        elif damage == "partial":
            (bad / MANIFEST).unlink()
            (bad / "optimizer.bin").unlink()
        else:
            (bad / "optimizer.bin").write_bytes((bad / "optimizer.bin").read_bytes()[:100])

    newest_valid = max(p.name for p in ckpts.iterdir() if p.name.startswith("checkpoint-") and verify_checkpoint(p)[0])
    assert newest_valid >= KILL_AFTER  # the kill may land after one more save: either is fine
    resumed = subprocess.run(cmd + ["--resume"], env=subprocess_env(), capture_output=True, text=True, timeout=300)
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    for step, reason in ((9, "corrupted"), (10, "no checkpoint_manifest.json"), (11, "bytes, the manifest says")):
        assert f"checkpoint-{step:08d}: " in log and reason in log
    assert "resumed from" in log and newest_valid in log.split("resumed from", 1)[1].split("\n", 1)[0]

    result = final_weights(run_dir)
    assert result.keys() == reference.keys()
    diff = max(float((result[k].double() - reference[k].double()).abs().max()) for k in reference)
    assert diff <= 1e-6, diff
    # the logs were continued, not duplicated: one row per step
    steps = [line.split(",")[0] for line in (run_dir / "logs" / "train.csv").read_text().splitlines()[1:]]
    assert steps == [str(s) for s in range(1, 13)]
