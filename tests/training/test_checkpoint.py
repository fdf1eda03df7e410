"""Checkpoint integrity: atomic write + manifest of sha256; a corrupted, truncated, partial or
half-written checkpoint is detected and never loaded; resume picks the newest valid one and says
why the others were skipped; rotation keeps the newest N."""

import json
import logging
import shutil

import pytest
import torch
from accelerate import Accelerator

from majl_hf.training.checkpoint import (
    MANIFEST,
    find_resumable_checkpoint,
    load_checkpoint,
    read_manifest,
    save_checkpoint,
    verify_checkpoint,
)
from majl_hf.training.trainer import TrainingState


@pytest.fixture
def setup():
    acc = Accelerator(cpu=True)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model, opt = acc.prepare(model, opt)
    state = TrainingState()
    acc.register_for_checkpointing(state)

    def step():
        loss = model(torch.randn(4, 8)).pow(2).mean()
        acc.backward(loss)
        opt.step()
        opt.zero_grad()
        state.global_step += 1

    return acc, model, state, step


def params(model):
    return torch.cat([p.detach().flatten().clone() for p in model.parameters()])


def test_save_is_complete_and_verified(tmp_path, setup):
    acc, model, state, step = setup
    step()
    folder = save_checkpoint(acc, tmp_path, state.global_step, {"epoch": 0})
    assert folder.name == "checkpoint-00000001"
    assert verify_checkpoint(folder) == (True, "ok")
    manifest = read_manifest(folder)
    on_disk = {p.name for p in folder.iterdir() if p.name != MANIFEST}
    assert set(manifest["files"]) == on_disk and {"model.safetensors", "optimizer.bin"} <= on_disk
    assert all(len(v["sha256"]) == 64 for v in manifest["files"].values())
    assert manifest["step"] == 1 and manifest["epoch"] == 0
    assert not list(tmp_path.glob(".tmp-*"))  # nothing half-written left behind


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("flip_byte", "corrupted"),
        ("truncate", "bytes, the manifest says"),
        ("no_manifest", "no checkpoint_manifest.json"),
        ("missing_file", "is missing"),
        ("bad_manifest", "unreadable manifest"),
        ("incomplete_manifest", "not a complete"),
    ],
)
def test_damaged_checkpoint_is_detected_and_not_loaded(tmp_path, setup, damage, reason):
    acc, model, state, step = setup
    step()
    folder = save_checkpoint(acc, tmp_path, state.global_step)
    weights = folder / "model.safetensors"
    if damage == "flip_byte":
        data = bytearray(weights.read_bytes())
        data[len(data) // 2] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "truncate":
        (folder / "optimizer.bin").write_bytes((folder / "optimizer.bin").read_bytes()[:-10])
    elif damage == "no_manifest":
        (folder / MANIFEST).unlink()
    elif damage == "missing_file":
        weights.unlink()
    elif damage == "bad_manifest":
        (folder / MANIFEST).write_text("{not json")
    elif damage == "incomplete_manifest":
        m = json.loads((folder / MANIFEST).read_text())
        m["complete"] = False
        (folder / MANIFEST).write_text(json.dumps(m))
    ok, why = verify_checkpoint(folder)
    assert not ok and reason in why
    step()  # the live model moves on; a refused load must leave it as it is
    before = params(model)
    with pytest.raises(ValueError, match="not valid"):
        load_checkpoint(acc, folder)
    assert torch.equal(params(model), before)


def test_resume_picks_newest_valid_and_logs_the_skipped(tmp_path, setup, caplog):
    acc, model, state, step = setup
    for _ in range(2):
        step()
    good = save_checkpoint(acc, tmp_path, state.global_step)
    good_params = params(model)
    good_step = state.global_step
    # newer ones: corrupted, partial (no manifest), and a save interrupted before its rename
    for s, damage in ((4, "corrupt"), (6, "partial")):
        bad = tmp_path / f"checkpoint-{s:08d}"
        shutil.copytree(good, bad)
        if damage == "corrupt":
            (bad / "optimizer.bin").write_bytes(b"\0" * (bad / "optimizer.bin").stat().st_size)
        else:
            (bad / MANIFEST).unlink()
    shutil.copytree(good, tmp_path / ".tmp-checkpoint-00000008")
    with caplog.at_level(logging.WARNING, logger="majl_hf.training.checkpoint"):
        folder, skipped = find_resumable_checkpoint(tmp_path)
    assert folder == good
    reasons = {p.name: why for p, why in skipped}
    assert "corrupted" in reasons["checkpoint-00000004"]
    assert "no checkpoint_manifest.json" in reasons["checkpoint-00000006"]
    assert "interrupted save" in reasons[".tmp-checkpoint-00000008"]
    assert sum("not resuming from" in r.getMessage() for r in caplog.records) == 3
    for _ in range(3):
        step()
    assert not torch.equal(params(model), good_params)
    load_checkpoint(acc, folder)
    assert torch.equal(params(model), good_params) and state.global_step == good_step


def test_rotation_keeps_the_newest(tmp_path, setup):
    acc, model, state, step = setup
    for _ in range(4):
        step()
        save_checkpoint(acc, tmp_path, state.global_step, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-00000003", "checkpoint-00000004"]


def test_no_checkpoint_at_all(tmp_path):
    assert find_resumable_checkpoint(tmp_path / "absent") == (None, [])


def test_atomic_json_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    """The one atomic JSON write (majl_hf.utils, used by the checkpoint and pseudo-label manifests,
    metrics.json and the evaluation outputs): all or nothing, no temporary file left behind."""
    import hashlib
    import os

    from majl_hf import utils

    path = utils.write_json_atomic(tmp_path / "m.json", {"step": 1})
    assert json.loads(path.read_text()) == {"step": 1}
    assert utils.sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # the umask's permissions, as open()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        utils.write_json_atomic(path, {"step": 2})
    assert json.loads(path.read_text()) == {"step": 1}  # the old content, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
