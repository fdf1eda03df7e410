"""The trainer's bookkeeping: the paper's per-epoch StepLR, step counting with gradient
accumulation and max_steps, the seeded data order, worker processes giving the same run, the one
override point, and clear errors."""

import pytest
import torch
from safetensors.torch import load_file

from majl_hf.training import EpochShuffleSampler, MajlTrainer, TrainingArguments, read_csv_log, run_training

from .conftest import tiny_config


def test_data_order_depends_only_on_seed_and_epoch():
    a, b = EpochShuffleSampler(10, seed=3), EpochShuffleSampler(10, seed=3)
    a.set_epoch(2)
    b.set_epoch(0)
    b.set_epoch(2)
    assert list(a) == list(b) and sorted(a) == list(range(10))
    assert a.permutation(1) != a.permutation(2)
    c = EpochShuffleSampler(10, seed=3)
    c.load_state_dict(a.state_dict())
    assert list(c) == list(a)
    with pytest.raises(ValueError, match="data or seed changed"):
        EpochShuffleSampler(11, seed=3).load_state_dict(a.state_dict())


def test_step_lr_per_epoch_accumulation_and_max_steps(tmp_path):
    # 8 crops, micro-batch 2, 2 micro-batches per step → 2 steps per epoch; ×0.5 every epoch; stop at 5
    cfg = tiny_config(tmp_path, crops_per_example=4, batch_size=2, gradient_accumulation_steps=2, num_epochs=10,
                      max_steps=5, lr_decay_gamma=0.5, lr_decay_epochs=1, eval_data=[])
    metrics = run_training(TrainingArguments.from_dict(cfg))
    assert metrics["global_step"] == 5 and metrics["epochs"] == 2  # stopped inside the third epoch
    epochs = read_csv_log(tmp_path / "run" / "logs" / "epochs.csv")
    assert [r["lr"] for r in epochs] == pytest.approx([5e-4, 2.5e-4])
    steps = read_csv_log(tmp_path / "run" / "logs" / "train.csv")
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5] and all(r["samples"] == 4 for r in steps)


def test_worker_processes_give_the_same_run(tmp_path):
    base = dict(num_epochs=1, eval_data=[], crops_per_example=2)
    run_training(TrainingArguments.from_dict(tiny_config(tmp_path / "a", **base)))
    run_training(TrainingArguments.from_dict(tiny_config(tmp_path / "b", num_workers=1, **base)))
    a = load_file(str(tmp_path / "a" / "run" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "run" / "model" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_compute_loss_is_the_override_point(tmp_path):
    """A subclass changes the loss step only; everything else (logging, checkpoints) follows."""
    seen = []

    class NaiveForOneBatch(MajlTrainer):
        def compute_loss(self, model, batch):
            out = model(**batch)
            seen.append(out.loss_dwhs is not None)
            return out

    from majl_hf.training.trainer import run_training as run

    run(TrainingArguments.from_dict(tiny_config(tmp_path, num_epochs=1, eval_data=[])), trainer_class=NaiveForOneBatch)
    assert seen == [True, True]


def test_too_little_data_for_a_batch(tmp_path):
    cfg = tiny_config(tmp_path, crops_per_example=1, batch_size=16)
    with pytest.raises(ValueError, match="make no full batch of 16"):
        run_training(TrainingArguments.from_dict(cfg))
