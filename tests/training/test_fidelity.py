"""Training fidelity to the MAJL paper (issue 14 items 6–8, issue 17 item 9): near-silence
gradients through CREPE's frame normalisation and the default gradient clip; stage-II sampling in
proportion to duration, logged per epoch; DWHS readings in the CSV log and TensorBoard; checkpoint
retention that never deletes the newest valid checkpoint; ``--resume`` without one is an error."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch
from accelerate import Accelerator

from majl_hf import CrepeConfig, CrepeModel
from majl_hf.data import make_example
from majl_hf.pitch.convert import f0_to_targets
from majl_hf.training import TrainingArguments, read_csv_log, run_training
from majl_hf.training.checkpoint import INVALID_DIR, MANIFEST, save_checkpoint, verify_checkpoint
from majl_hf.training.data import SourceSampledView, build_view
from majl_hf.training.trainer import CASE_COLUMNS, TrainingState

from .conftest import TINY_MODEL, tiny_config

SR = 16000


# ----------------------------------------------------------------------------- item 7
def _silent_to_voiced_gradient_ratio(**config) -> float:
    """Mean |∂L_pe/∂audio| in a near-silent stretch (amplitude 1e-4) over that in a voiced one (0.1)."""
    torch.manual_seed(0)
    model = CrepeModel(CrepeConfig(capacity="tiny", hop_length=320, dropout=0.0, **config)).train()
    t = torch.arange(2 * SR) / SR
    x = (torch.sin(2 * torch.pi * 220 * t) * torch.where(t < 1.0, 0.1, 1e-4))[None].requires_grad_(True)
    out = model(x)
    f0 = torch.zeros(1, out.logits.shape[1])
    f0[:, : f0.shape[1] // 2] = 220.0
    model.pitch_loss(out.logits, f0_to_targets(f0, model.pitch_bins)).mean().backward()
    g = x.grad[0].abs()
    return float(g[int(1.2 * SR) : int(1.8 * SR)].mean() / g[int(0.2 * SR) : int(0.8 * SR)].mean())


def test_frame_std_floor_bounds_near_silence_gradients_and_keeps_inference():
    off = _silent_to_voiced_gradient_ratio(train_frame_std_floor=0.0)
    on = _silent_to_voiced_gradient_ratio()  # the default floor, 0.01
    value = _silent_to_voiced_gradient_ratio(train_frame_std_floor_mode="value")
    print(f"silent/voiced |dL/dx|: no floor {off:.0f}x, floor 0.01 (gradient) {on:.1f}x, (value) {value:.1f}x")
    assert off > 300 and on < 15 and value < 15
    # inference is the original normalisation, whatever the floor; the "gradient" mode keeps the
    # training forward too
    x = torch.randn(1, SR) * torch.linspace(1e-5, 0.3, SR)
    a = CrepeModel(CrepeConfig(capacity="tiny", dropout=0.0, train_frame_std_floor=0.0))
    b = CrepeModel(CrepeConfig(capacity="tiny", dropout=0.0))
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        assert torch.equal(a.eval()(x).logits, b.eval()(x).logits)
    with torch.enable_grad():
        err = float((a.train()(x).logits - b.train()(x).logits).detach().abs().max())
    print(f"train-mode forward, floor off vs on (gradient mode): max abs err {err:.2e}")
    assert err < 1e-4


def test_gradient_clipping_is_on_by_default():
    a = TrainingArguments.from_dict({"model_config": TINY_MODEL, "train_data": [{"corpus": "mir1k", "root": "x"}]})
    assert a.max_grad_norm == 1.0


# ----------------------------------------------------------------------------- item 6
def _clip(i: int, seconds: float, corpus: str) -> dict:
    n = int(seconds * SR)
    rng = np.random.default_rng(i)
    vocals = (0.1 * rng.standard_normal((1, n))).astype(np.float32)
    return make_example(id=f"{corpus}{i}", corpus="synthetic", split="train", mixture=vocals * 2, sampling_rate=SR,
                        licence="none", vocals=vocals, f0_hz=np.full(int(seconds / 0.02) + 1, 220.0, np.float32))


def _sources():
    short = [_clip(i, 2.0, "short") for i in range(20)]  # 40 s in 20 clips (MIR-1K-like)
    long = [_clip(100 + i, 60.0, "long") for i in range(2)]  # 120 s in 2 songs (MUSDB18-like)
    return [({"corpus": "short"}, short), ({"corpus": "long"}, long)]


def test_stage2_sampling_follows_duration_and_is_reproducible():
    kw = dict(sampling_rate=SR, channels=1, hop_s=0.02, segment_s=0.5, crops_per_example=1, seed=3)
    sources = _sources()
    by_examples = build_view(sources, **kw, sampling="examples")
    by_duration = build_view(sources, **kw, sampling="duration")
    assert isinstance(by_duration, SourceSampledView) and len(by_duration) == len(by_examples) == 22
    ex_rows, dur_rows = by_examples.summary(), by_duration.summary()
    print("examples:", [(r["corpus"], r["crops"], round(r["audio_share"], 3)) for r in ex_rows])
    print("duration:", [(r["corpus"], r["crops"], round(r["audio_share"], 3)) for r in dur_rows])
    assert [r["crops"] for r in ex_rows] == [20, 2]  # the short clips fill 91 % of the epoch for 25 % of the audio
    assert [r["crops"] for r in dur_rows] in ([5, 17], [6, 16])  # 22 × (40 s, 120 s) / 160 s = 5.5, 16.5
    for r in dur_rows:
        assert abs(r["crop_share"] - r["audio_share"]) <= 1 / 22
    # the two songs share their crops by duration; every crop of an epoch is a different crop
    items = [by_duration[i] for i in range(len(by_duration))]
    long_items = [it["input_values"] for it in items[dur_rows[0]["crops"]:]]
    assert len({tuple(x[0, :8].tolist()) for x in long_items}) == len(long_items)
    # an epoch is rebuilt exactly from (seed, epoch); another epoch draws other crops
    again = build_view(_sources(), **kw, sampling="duration")
    again.set_epoch(0)
    assert all(torch.equal(a["input_values"], again[i]["input_values"]) for i, a in enumerate(items))
    again.set_epoch(1)
    assert any(not torch.equal(a["input_values"], again[i]["input_values"]) for i, a in enumerate(items))


# ----------------------------------------------------------------------------- items 6 and 8 in a run
def test_run_logs_dwhs_readings_and_sampling_to_csv_and_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tiny_config(tmp_path, num_epochs=2, eval_data=[], report_to=["csv", "tensorboard"])
    run_training(TrainingArguments.from_dict(cfg))
    logs = tmp_path / "run" / "logs"
    rows = read_csv_log(logs / "train.csv")
    assert len(rows) == 4  # 8 crops, batch 4, 2 epochs, a row per step
    for r in rows:
        n_cases = sum(r[f"n_case{c}"] for c in (1, 2, 3, 4))
        assert n_cases + r["n_no_case"] == 4
        assert 0.0 <= r["frac_saturated_mss"] <= 1.0 and 0.0 <= r["frac_saturated_pe"] <= 1.0
        assert any(np.isfinite(r[f"w_pe_case{c}"]) for c in (1, 2, 3, 4))
    sampling = read_csv_log(logs / "sampling.csv")
    assert [r["epoch"] for r in sampling] == [0, 0, 1, 1] and all(r["crops"] >= 0 for r in sampling)
    assert sum(r["crops"] for r in sampling if r["epoch"] == 0) == 8
    print("sampling:", [(r["source"], r["crops"], round(r["audio_share"], 3)) for r in sampling])
    events = [p for p in logs.rglob("events.out.tfevents.*")]
    assert events
    tags = set()
    for p in events:
        acc = EventAccumulator(str(p))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    for column in CASE_COLUMNS:
        if column.startswith("n_case") or column in ("n_no_case", "frac_saturated_pe"):
            assert f"train/{column}" in tags, column
    assert any(t.startswith("sampling/") for t in tags)


# ----------------------------------------------------------------------------- issue 17 item 9
@pytest.fixture
def trained(tmp_path):
    acc = Accelerator(cpu=True)
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model, opt = acc.prepare(model, opt)
    state = TrainingState()
    acc.register_for_checkpointing(state)
    return acc, state


def test_retention_never_deletes_the_newest_valid_and_moves_invalid_aside(tmp_path, trained, caplog):
    acc, state = trained
    root = tmp_path / "checkpoints"
    good = save_checkpoint(acc, root, 1)
    for step in (9, 10, 11):  # the newest are all corrupt (the scenario)
        bad = root / f"checkpoint-{step:08d}"
        shutil.copytree(good, bad)
        (bad / "model.safetensors").write_bytes(b"\0" * (bad / "model.safetensors").stat().st_size)
    (root / f"checkpoint-{12:08d}").mkdir()  # a partial one, no manifest
    with caplog.at_level(logging.WARNING, logger="majl_hf.training.checkpoint"):
        new = save_checkpoint(acc, root, 2, keep=1)
    kept = sorted(p.name for p in root.iterdir() if p.name.startswith("checkpoint-"))
    moved = sorted(p.name for p in (root / INVALID_DIR).iterdir())
    print(f"kept {kept}, moved aside {moved}")
    assert kept == ["checkpoint-00000002"] and verify_checkpoint(new)[0]
    assert moved == ["checkpoint-00000009", "checkpoint-00000010", "checkpoint-00000011", "checkpoint-00000012"]
    assert sum("moved aside" in r.getMessage() for r in caplog.records) == 4
    # with limit 2, the two newest valid stay; an older valid one goes
    save_checkpoint(acc, root, 3, keep=2)
    save_checkpoint(acc, root, 4, keep=2)
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("checkpoint-")) == [
        "checkpoint-00000003", "checkpoint-00000004"]


def test_resume_without_a_valid_checkpoint_is_an_error_unless_asked_to_start_fresh(tmp_path):
    cfg = tiny_config(tmp_path, num_epochs=1, eval_data=[], crops_per_example=1, batch_size=2, save_steps=1,
                     save_total_limit=2)
    args = TrainingArguments.from_dict(cfg)
    ckpts = tmp_path / "run" / "checkpoints"
    ckpts.mkdir(parents=True)
    (ckpts / "checkpoint-00000007").mkdir()  # invalid: no manifest
    with pytest.raises(FileNotFoundError, match="allow-fresh-start"):
        run_training(args, resume_from_checkpoint="latest")
    assert not (tmp_path / "run" / "model").exists()
    metrics = run_training(args, resume_from_checkpoint="latest", allow_fresh_start=True)
    assert metrics["global_step"] == 1
    valid = [p for p in ckpts.iterdir() if p.name.startswith("checkpoint-")]
    assert [p.name for p in valid] == ["checkpoint-00000001"] and verify_checkpoint(valid[0])[0]
    previous = [p for p in ckpts.iterdir() if p.name.startswith("previous-")]
    assert len(previous) == 1 and (previous[0] / "checkpoint-00000007").is_dir()  # set aside, not deleted
    assert json.loads((valid[0] / MANIFEST).read_text())["step"] == 1
