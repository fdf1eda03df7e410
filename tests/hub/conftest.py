"""Fixtures of the Hub tests: the tiny random model evaluated on a synthetic MIR-1K-layout corpus,
and the folder ``scripts/push_to_hub.py --dry-run`` prepares from them (made once per session)."""

import importlib.util

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.hub.synthetic_corpus import write_mir1k_like

REPO_ID = "someorg/tiny-majl"


def load_script(name: str):
    """A module of ``scripts/`` (they are not a package), to call its ``main(argv)`` in-process."""
    spec = importlib.util.spec_from_file_location(f"_script_{name}", REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory):
    return write_mir1k_like(tmp_path_factory.mktemp("synthetic_mir1k"))


@pytest.fixture(scope="session")
def tiny_metrics(tiny_model_dir, synthetic_corpus, tmp_path_factory):
    """(metrics dict, metrics.json path) of the tiny model on the synthetic corpus."""
    from majl_hf.evaluation.runner import EvaluationSettings, evaluate

    out = tmp_path_factory.mktemp("tiny_eval")
    settings = EvaluationSettings(corpus="mir1k", root=str(synthetic_corpus), split="all", method="Tiny MAJL")
    result = evaluate(str(tiny_model_dir), settings, out, progress=False, command=["pytest", "tiny_metrics"])
    return result, out / "metrics.json"


@pytest.fixture(scope="session")
def published(tiny_model_dir, tiny_metrics, tmp_path_factory):
    """The folder scripts/push_to_hub.py prepares (offline, nothing uploaded)."""
    out = tmp_path_factory.mktemp("published") / "tiny-majl"
    script = load_script("push_to_hub")
    argv = [str(tiny_model_dir), "--repo-id", REPO_ID, "--metrics", str(tiny_metrics[1]), "--license", "mit",
            "--output-dir", str(out), "--dry-run"]
    assert script.main(argv) == 0
    return out


def signal_array(seconds: float = 1.0, sr: int = 44100) -> np.ndarray:
    """A short stereo signal every loading path is run on."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(1)
    left = 0.3 * np.sin(2 * np.pi * 220.0 * t) + 0.05 * rng.standard_normal(t.size)
    right = 0.2 * np.sin(2 * np.pi * 330.0 * t) + 0.05 * rng.standard_normal(t.size)
    return np.stack([left, right]).astype(np.float32)


@pytest.fixture
def offline(monkeypatch):
    """HF_HUB_OFFLINE for this test even when the suite runs without it (read at call time)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
