"""Fixtures for the corpus loader tests: the real excerpts in ``../shared/data`` (beside the
repository, never in git) and small helpers to build broken copies in ``tmp_path``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SHARED_REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path.resolve()} (the shared real-data folder beside the repository)")
    return path


@pytest.fixture
def shared_data():
    """``shared_data("MIR-1K")`` → the path, or a skip naming what is missing."""
    return lambda *parts: _need(SHARED_DATA.joinpath(*parts))


@pytest.fixture
def shared_reference():
    return lambda *parts: _need(SHARED_REFERENCE.joinpath(*parts))


@pytest.fixture
def mir1k_copy(tmp_path, shared_data):
    """A writable copy of the MIR-1K excerpt (Wavfile/amy_3_01.wav + PitchLabel/amy_3_01.pv)."""
    src = shared_data("MIR-1K")
    root = tmp_path / "MIR-1K"
    for sub in ("Wavfile", "PitchLabel"):
        shutil.copytree(src / sub, root / sub)
    return root


@pytest.fixture
def medleydb_copy(tmp_path, shared_data):
    """A writable copy of the MedleyDB excerpts (80sRock with its vocal stem, Beethoven)."""
    src = shared_data("MedleyDB")
    root = tmp_path / "MedleyDB"
    for track in ("MusicDelta_80sRock", "MusicDelta_Beethoven"):
        shutil.copytree(src / "Audio" / track, root / "Audio" / track)
        (root / "Metadata").mkdir(parents=True, exist_ok=True)
        shutil.copy(src / "Metadata" / f"{track}_METADATA.yaml", root / "Metadata")
    (root / "Annotations" / "Pitch").mkdir(parents=True)
    shutil.copy(src / "Annotations" / "Pitch" / "MusicDelta_80sRock_STEM_04.csv", root / "Annotations" / "Pitch")
    return root


@pytest.fixture
def musdb_hq_copy(tmp_path, shared_data):
    src = shared_data("MUSDB18-HQ", "train", "Music Delta - 80s Rock")
    root = tmp_path / "MUSDB18-HQ"
    (root / "train").mkdir(parents=True)
    shutil.copytree(src, root / "train" / src.name)
    return root


def write_wav(path: Path, audio: np.ndarray, sr: int) -> Path:
    """Write (channels, samples) float audio as PCM16."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(audio).T, sr, subtype="PCM_16")
    return path


@pytest.fixture
def wav_writer():
    """``wav_writer(path, audio (C, N), sr)`` writes PCM16 and returns the path."""
    return write_wav
