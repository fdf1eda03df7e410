"""Training throughput of the joint methods side by side (naive vs DWHS), in one run.

The same model (same initial weights), batch and optimiser are timed for each method; the methods
take turns in rounds so that a change of machine load hits them alike, and the median over rounds
is reported. A step is what :class:`~.trainer.MajlTrainer` does per batch: ``model(**batch)``
(the loss inside the model), ``backward``, Adam step. Data loading is excluded (the batch is
built once), so the numbers measure the methods, not the disk.
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Mapping, Sequence

import numpy as np
import torch

from ..configuration_majl import MajlConfig
from ..modeling_majl import MajlModel

PRESETS = {
    # test-sized: seconds on a CPU
    "tiny": {
        "separator_config": {"model_type": "unet", "sampling_rate": 16000, "audio_channels": 1, "n_fft": 512,
                             "hop_length": 160, "n_bins": 128, "patch_frames": 32, "conv_filters": [4, 8, 8, 16]},
        "pitch_config": {"model_type": "harmof0", "channels": [4, 8, 8], "n_harmonics": 4},
    },
    # the paper's front-end (16 kHz mono, STFT 2048/320, 20 ms pitch frames) with a small U-Net and CREPE tiny
    "small": {
        "separator_config": {"model_type": "unet", "sampling_rate": 16000, "audio_channels": 1, "n_fft": 2048,
                             "hop_length": 320, "n_bins": 512, "patch_frames": 64, "conv_filters": [8, 16, 32, 64]},
        "pitch_config": {"model_type": "crepe", "capacity": "tiny", "hop_length": 320},
    },
    # the paper's setting: U-Net (16…512 filters) + CREPE full at 16 kHz / 2048 / 320 (a GPU job)
    "paper": {
        "separator_config": {"model_type": "unet", "sampling_rate": 16000, "audio_channels": 1, "n_fft": 2048,
                             "hop_length": 320, "n_bins": 1024, "patch_frames": 128},
        "pitch_config": {"model_type": "crepe", "capacity": "full", "hop_length": 320},
    },
}


def synthetic_batch(model: MajlModel, batch_size: int, segment_s: float, seed: int = 0) -> dict:
    """A training batch of harmonic 'vocals' over noise with their f0 labels (the shapes a
    :class:`~majl_hf.data.TrainingView` gives)."""
    rng = np.random.default_rng(seed)
    sr, c = model.sampling_rate, model.audio_channels
    n = int(round(segment_s * sr))
    t = np.arange(n) / sr
    frames = model.num_pitch_frames(n)
    ft = model.pitch_estimator.frame_times(frames).numpy()
    mix, voc, f0s = [], [], []
    for _ in range(batch_size):
        f0 = 110 * 2 ** rng.uniform(0, 2)
        vib = f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
        phase = 2 * np.pi * np.cumsum(vib) / sr
        v = sum(np.sin(h * phase) / h for h in range(1, 6)) * 0.2
        v[t > segment_s * 0.8] = 0.0
        acc = rng.normal(0, 0.05, n)
        voc.append(np.tile(v, (c, 1)))
        mix.append(np.tile(v + acc, (c, 1)))
        f = f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * ft))
        f[ft > segment_s * 0.8] = 0.0
        f0s.append(f)
    return {
        "input_values": torch.tensor(np.stack(mix), dtype=torch.float32),
        "target_vocals": torch.tensor(np.stack(voc), dtype=torch.float32),
        "target_f0_hz": torch.tensor(np.stack(f0s), dtype=torch.float32),
        "has_vocals": torch.ones(batch_size, dtype=torch.bool),
        "has_f0": torch.ones(batch_size, dtype=torch.bool),
    }


def benchmark_training(
    model_config: Mapping | str = "tiny",
    *,
    methods: Sequence[str] = ("naive", "dwhs"),
    batch_size: int = 4,
    segment_s: float = 1.0,
    steps_per_round: int = 3,
    rounds: int = 3,
    warmup_steps: int = 2,
    learning_rate: float = 1e-3,
    device: str | None = None,
    seed: int = 0,
) -> dict:
    """Samples per second of a training step for each of ``methods`` (joint_method values).

    Returns ``{"methods": {m: {"samples_per_s", "seconds_per_step", "round_samples_per_s"}},
    "dwhs_overhead": time per sample of dwhs / naive − 1, "setting": {...}}``.
    """
    preset = model_config if isinstance(model_config, str) else None
    base = copy.deepcopy(PRESETS[model_config] if preset else dict(model_config))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    models, optims = {}, {}
    for m in methods:
        torch.manual_seed(seed)  # the same initial backbone weights for every method
        model = MajlModel(MajlConfig(**{**base, "joint_method": m})).to(device).train()
        models[m] = model
        optims[m] = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    batch = {k: v.to(device) for k, v in synthetic_batch(models[methods[0]], batch_size, segment_s, seed).items()}

    def step(m):
        out = models[m](**batch)
        out.loss.backward()
        optims[m].step()
        optims[m].zero_grad(set_to_none=True)

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    for m in methods:
        for _ in range(warmup_steps):
            step(m)
    sync()
    per_round = {m: [] for m in methods}
    for r in range(rounds):
        order = list(methods) if r % 2 == 0 else list(reversed(methods))
        for m in order:
            sync()
            t0 = time.perf_counter()
            for _ in range(steps_per_round):
                step(m)
            sync()
            per_round[m].append(steps_per_round * batch_size / (time.perf_counter() - t0))
    result = {
        "methods": {
            m: {
                "samples_per_s": statistics.median(v),
                "seconds_per_step": batch_size / statistics.median(v),
                "round_samples_per_s": v,
            }
            for m, v in per_round.items()
        },
        "setting": {
            "model": preset or "custom",
            "separator": base["separator_config"]["model_type"],
            "pitch_estimator": base["pitch_config"]["model_type"],
            "batch_size": batch_size,
            "segment_s": segment_s,
            "steps_per_round": steps_per_round,
            "rounds": rounds,
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "parameters": {m: sum(p.numel() for p in models[m].parameters()) for m in methods},
        },
    }
    if "naive" in per_round and "dwhs" in per_round:
        result["dwhs_overhead"] = (result["methods"]["naive"]["samples_per_s"]
                                   / result["methods"]["dwhs"]["samples_per_s"] - 1.0)
    return result


def format_benchmark(result: Mapping) -> str:
    """The result as a small side-by-side table."""
    s = result["setting"]
    lines = [
        f"training throughput — {s['model']} ({s['separator']} + {s['pitch_estimator']}), batch {s['batch_size']} × "
        f"{s['segment_s']} s, {s['device']} ({s['torch_threads']} threads), median of {s['rounds']} rounds × "
        f"{s['steps_per_round']} steps",
        f"{'method':<8} {'samples/s':>10} {'s/step':>8}",
    ]
    for m, v in result["methods"].items():
        lines.append(f"{m:<8} {v['samples_per_s']:>10.2f} {v['seconds_per_step']:>8.3f}")
    if "dwhs_overhead" in result:
        lines.append(f"DWHS costs {100 * result['dwhs_overhead']:+.1f}% time per sample vs naive (target: <= +25%)")
    return "\n".join(lines)


__all__ = ["PRESETS", "benchmark_training", "format_benchmark", "synthetic_batch"]
