"""Shared test fixtures. Real data lives in ``../shared`` beside the repository (never in git).

Memory: the suite runs in one process, so what one test module keeps alive (a model in a fixture, a
freed but unreturned heap) stacks onto the next one's peak. Large buffers are served by mmap (as the CLI
does, :func:`majl_hf.inference.apply.tune_malloc`) so that freed tensors go back to the OS; after every
module the garbage is collected and glibc's heap trimmed; the summary prints the process's peak RSS
and the tests that raised it (``MAJL_TEST_MEMORY=0`` turns the report off)."""

import ctypes
import gc
import os
import resource
import sys
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


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def _current_rss_mib() -> float | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def _trim_heap() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


_RISES: list[tuple[float, float, str]] = []  # (MiB the test raised the peak by, peak after it, test id)


def pytest_configure(config):
    from majl_hf.inference.apply import tune_malloc

    tune_malloc()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    before = _peak_rss_mib()
    yield
    after = _peak_rss_mib()
    if after - before >= 1.0:
        _RISES.append((after - before, after, item.nodeid))


def pytest_terminal_summary(terminalreporter):
    if os.environ.get("MAJL_TEST_MEMORY", "1") == "0":
        return
    current = _current_rss_mib()
    terminalreporter.section("memory")
    terminalreporter.write_line(
        f"peak RSS of the pytest process: {_peak_rss_mib():.0f} MiB"
        + (f" (at the end: {current:.0f} MiB)" if current is not None else "")
    )
    for rise, peak, nodeid in sorted(_RISES, reverse=True)[:8]:
        terminalreporter.write_line(f"  +{rise:6.0f} MiB (peak {peak:5.0f} MiB)  {nodeid}")


@pytest.fixture(autouse=True, scope="module")
def _release_module_memory():
    """What a test module freed goes back to the OS before the next one starts."""
    yield
    gc.collect()
    _trim_heap()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


def load_script(name: str):
    """A module of ``scripts/`` (they are not a package), to call its functions in-process."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_script_{name}", REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def derive_notes(times_s, f0_hz, hop_s: float = 256 / 44100, min_rows: int = 4) -> list:
    """MIR-ST500-style notes [onset_s, offset_s, integer MIDI] from a voiced-only pitch annotation
    (MedleyDB's, hop 256/44100 s): runs of rows with the same rounded MIDI pitch and no gap, at
    least ``min_rows`` long."""
    from majl_hf.pitch.convert import hz_to_midi

    midi = np.round(hz_to_midi(f0_hz))
    notes, start = [], 0
    for i in range(1, len(times_s) + 1):
        if i == len(times_s) or midi[i] != midi[start] or times_s[i] - times_s[i - 1] > 1.5 * hop_s:
            if i - start >= min_rows:
                notes.append(
                    [round(float(times_s[start]), 6), round(float(times_s[i - 1] + hop_s), 6), int(midi[start])]
                )
            start = i
    return notes


def harmonic_tone(f0_hz: float, seconds: float, sr: int = 16000, n_harmonics: int = 8) -> np.ndarray:
    """A harmonic tone with 1/h amplitudes (a crude voice-like test signal)."""
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f0_hz * h * t) / h for h in range(1, n_harmonics + 1) if f0_hz * h < sr / 2)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


TINY_SEPARATOR = {  # Spleeter's layout (44.1 kHz stereo, ratio masks) at toy size
    "model_type": "unet", "sampling_rate": 44100, "audio_channels": 2, "n_fft": 1024, "hop_length": 256,
    "n_bins": 256, "patch_frames": 64, "conv_filters": [4, 8, 8, 16],
}


TINY_MONO_SEPARATOR = {  # an 8 kHz mono separator at toy size: long-audio tests at a tenth of the memory
    "model_type": "unet", "sampling_rate": 8000, "audio_channels": 1, "n_fft": 512, "hop_length": 128,
    "n_bins": 128, "patch_frames": 32, "conv_filters": [4, 8, 8, 16],
}


def _save_tiny_model(path, separator: dict) -> Path:
    torch.manual_seed(0)
    config = MajlConfig(separator_config=dict(separator),
                        pitch_config={"model_type": "crepe", "capacity": "tiny", "hop_length": 320})
    MajlModel(config).eval().save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_mono_model_dir(tmp_path_factory):
    """As :func:`tiny_model_dir` with an 8 kHz mono separator (an hour of audio is 115 MB per signal
    at its rate, against 1.3 GB at 44.1 kHz stereo); the pitch estimator stays CREPE tiny at 16 kHz."""
    return _save_tiny_model(tmp_path_factory.mktemp("tiny_majl_mono"), TINY_MONO_SEPARATOR)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A small random cascade saved like a Hub repo: fast pipeline tests that do not need weights."""
    return _save_tiny_model(tmp_path_factory.mktemp("tiny_majl"), TINY_SEPARATOR)
