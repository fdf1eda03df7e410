"""Fixtures for the training tests: tiny models (16 kHz mono U-Net + HarmoF0, seconds on a CPU),
the real excerpts in ``../shared/data`` (skipped with a reason when absent), a MIR-ST500 fixture
derived from MedleyDB 80sRock, and quiet single-threaded runs (the test machine is shared: torch's
default two threads are many times slower than one when other processes compete for the cores)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import derive_notes

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT / ".." / "shared" / "data"
SCRIPTS = REPO_ROOT / "scripts"
ROCK = "MusicDelta_80sRock"

TINY_MODEL = {  # the paper's 16 kHz mono front-end at toy size
    "joint_method": "dwhs",
    "separator_config": {
        "model_type": "unet",
        "sampling_rate": 16000,
        "audio_channels": 1,
        "n_fft": 512,
        "hop_length": 160,
        "n_bins": 128,
        "patch_frames": 32,
        "conv_filters": [4, 8, 8, 16],
    },
    "pitch_config": {"model_type": "harmof0", "channels": [4, 8, 8], "n_harmonics": 4},
}


def shared_data(*parts) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path.resolve()} (the shared real-data folder beside the repository)")
    return path.resolve()


@pytest.fixture(autouse=True, scope="package")
def _quiet():
    """No progress bars from transformers / datasets in these tests (restored afterwards)."""
    import datasets
    from transformers.utils import logging as hf_logging

    from majl_hf.training.launch import quiet_progress_bars

    before = hf_logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled()
    quiet_progress_bars()
    yield
    if before[0]:
        hf_logging.enable_progress_bar()
    if before[1]:
        datasets.enable_progress_bars()


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def subprocess_env() -> dict:
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def python() -> str:
    return sys.executable


def stage1_sources() -> list[dict]:
    """MIR-1K amy_3_01 (2 s, 16 kHz) and MedleyDB 80sRock (6.8 s, 44.1 kHz stereo), fully labelled."""
    return [
        {"corpus": "mir1k", "root": str(shared_data("MIR-1K")), "materialize": "memory"},
        {"corpus": "medleydb", "root": str(shared_data("MedleyDB")), "tracks": [ROCK], "materialize": "memory"},
    ]


def tiny_config(tmp_path, **overrides) -> dict:
    """Training arguments for a seconds-long stage-I run on the real excerpts."""
    cfg = {
        "output_dir": str(tmp_path / "run"),
        "model_config": copy.deepcopy(TINY_MODEL),
        "train_data": stage1_sources(),
        "eval_data": [
            {"corpus": "medleydb", "root": str(shared_data("MedleyDB")), "tracks": [ROCK], "materialize": "memory"}
        ],
        "segment_s": 1.0,
        "crops_per_example": 4,
        "batch_size": 4,
        "num_epochs": 2,
        "save_steps": 0,
        "logging_steps": 1,
        "report_to": ["csv"],
        "progress_bar": False,
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture
def mirst500_source(tmp_path):
    """A MIR-ST500 data source in the corpus's own format: the note file
    ``MIR-ST500_corrected.DERIVED-from-MedleyDB-80sRock.json`` (notes segmented from the real 80sRock
    vocal-stem pitch annotation) beside the real ``metadata.csv``, song #1 = the real 80sRock mix."""
    from majl_hf.data.medleydb import read_pitch_csv

    t, f = read_pitch_csv(shared_data("MedleyDB", "Annotations", "Pitch", f"{ROCK}_STEM_04.csv"))
    index = tmp_path / "MIR-ST500_20210206"
    index.mkdir()
    shutil.copy(shared_data("MIR-ST500", "MIR-ST500_20210206", "metadata.csv"), index / "metadata.csv")
    notes_path = index / "MIR-ST500_corrected.DERIVED-from-MedleyDB-80sRock.json"
    notes_path.write_text(json.dumps({"1": derive_notes(t, f)}))
    audio = tmp_path / "mirst500_audio" / "train" / "1"
    audio.mkdir(parents=True)
    shutil.copy(shared_data("MedleyDB", "Audio", ROCK, f"{ROCK}_MIX.wav"), audio / "Mixture.wav")
    return {
        "corpus": "mirst500",
        "audio_root": str(tmp_path / "mirst500_audio"),
        "notes_path": str(notes_path),
        "materialize": "memory",
    }


@pytest.fixture
def musdb_source():
    return {"corpus": "musdb18", "root": str(shared_data("MUSDB18-HQ")), "fmt": "wav", "materialize": "memory"}
