"""Shared test fixtures. Real data lives in ``../shared`` beside the repository (never in git)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from majl_hf import MajlConfig, MajlModel

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "examples" / "audio_example.mp3"
SHARED = (REPO_ROOT / ".." / "shared").resolve()
SHARED_DATA = SHARED / "data"
SHARED_REFERENCE = SHARED / "reference"


def shared_path(*parts) -> Path:
    """A path under ../shared, or a pytest skip saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the repository)")
    return path


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


def harmonic_tone(f0_hz: float, seconds: float, sr: int = 16000, n_harmonics: int = 8) -> np.ndarray:
    """A harmonic tone with 1/h amplitudes (a crude voice-like test signal)."""
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f0_hz * h * t) / h for h in range(1, n_harmonics + 1) if f0_hz * h < sr / 2)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


TINY_SEPARATOR = {  # Spleeter's layout (44.1 kHz stereo, ratio masks) at toy size
    "model_type": "unet", "sampling_rate": 44100, "audio_channels": 2, "n_fft": 1024, "hop_length": 256,
    "n_bins": 256, "patch_frames": 64, "conv_filters": [4, 8, 8, 16],
}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A small random cascade saved like a Hub repo: fast pipeline tests that do not need weights."""
    torch.manual_seed(0)
    config = MajlConfig(separator_config=dict(TINY_SEPARATOR),
                        pitch_config={"model_type": "crepe", "capacity": "tiny", "hop_length": 320})
    model = MajlModel(config).eval()
    path = tmp_path_factory.mktemp("tiny_majl")
    model.save_pretrained(path)
    return path
