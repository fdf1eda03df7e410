"""The folder prepared for the Hub loads back through from_pretrained and pipeline(): from a local
path, from the HF cache layout offline, and as remote code where majl_hf cannot be imported — and
gives the same outputs as the installed pipeline."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel, pipeline

import majl_hf
from majl_hf.hub import seed_hf_cache
from majl_hf.hub.publish import REMOTE_TASK, PublishError, prepare_folder, push_to_hub
from majl_hf.hub.remote_code import MANIFEST
from tests.hub.conftest import REPO_ID, signal_array

CACHE_REPO = "someorg/somerepo"
OUTPUT_KEYS = ("vocals", "accompaniment", "f0_hz", "times_s", "confidence", "voiced")


def run_pipe(pipe):
    out = pipe(signal_array(), sampling_rate=44100)
    return {k: np.asarray(out[k]) for k in OUTPUT_KEYS}


@pytest.fixture(scope="module")
def installed_outputs(tiny_model_dir):
    """The installed majl-vocal pipeline on the original (unpublished) model."""
    return run_pipe(pipeline("majl-vocal", model=str(tiny_model_dir), device="cpu"))


def assert_same_outputs(got, want):
    for k in OUTPUT_KEYS:
        if want[k].dtype == bool:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
        else:
            np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-6, err_msg=k)


def test_folder_layout(published, tiny_metrics):
    config = json.loads((published / "config.json").read_text())
    assert config["model_type"] == "majl"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_majl.MajlConfig",
        "AutoModel": "modeling_majl.MajlModel",
    }
    assert config["custom_pipelines"] == {
        REMOTE_TASK: {"impl": "pipeline_majl_vocal.MajlVocalPipeline", "pt": ["AutoModel"], "type": "audio"}
    }
    manifest = json.loads((published / MANIFEST).read_text())
    for name, entry in manifest["files"].items():  # transformers copied exactly the generated code
        text = (published / name).read_text()
        assert entry["module"].startswith("majl_hf")
        import hashlib

        assert hashlib.sha256(text.encode()).hexdigest() == entry["sha256"]
    for name in ("README.md", "model.safetensors", "requirements.txt"):
        assert (published / name).is_file()
    requirements = (published / "requirements.txt").read_text().split()
    assert {"torch", "transformers", "numpy", "soundfile", "soxr", "julius"} <= set(requirements)
    assert "majl_hf" not in requirements
    stored = json.loads((published / "evaluation" / "mir1k-all" / "metrics.json").read_text())
    assert stored == tiny_metrics[0]


def test_local_path_loads_with_the_installed_package(published, tiny_model_dir, installed_outputs):
    assert type(AutoConfig.from_pretrained(published)) is majl_hf.MajlConfig  # model_type wins, no remote code
    model = AutoModel.from_pretrained(published)
    assert type(model) is majl_hf.MajlModel
    original = majl_hf.MajlModel.from_pretrained(tiny_model_dir)
    for (k, a), (k2, b) in zip(original.state_dict().items(), model.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    pipe = pipeline("majl-vocal", model=str(published), device="cpu")
    assert type(pipe) is majl_hf.MajlVocalPipeline
    assert_same_outputs(run_pipe(pipe), installed_outputs)


def test_hf_cache_layout_offline(published, tmp_path, installed_outputs, offline):
    cache = tmp_path / "hub"
    snapshot = seed_hf_cache(published, CACHE_REPO, cache_dir=cache)
    model = majl_hf.MajlModel.from_pretrained(CACHE_REPO, cache_dir=str(cache), local_files_only=True)
    assert model.name_or_path == CACHE_REPO
    pipe = pipeline("majl-vocal", model=CACHE_REPO, device="cpu", model_kwargs={"cache_dir": str(cache)})
    assert_same_outputs(run_pipe(pipe), installed_outputs)
    assert (snapshot / "pipeline_majl_vocal.py").is_file()


REMOTE_SCRIPT = textwrap.dedent("""
    import importlib.abc, json, os, sys

    class HideMajlHf(importlib.abc.MetaPathFinder):  # as if majl_hf were not installed
        def find_spec(self, name, path=None, target=None):
            if name == "majl_hf" or name.startswith("majl_hf."):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, HideMajlHf())
    import numpy as np
    from transformers import pipeline

    folder, repo_id, array_path, out_dir = sys.argv[1:5]
    x = np.load(array_path)
    keys = ("vocals", "accompaniment", "f0_hz", "times_s", "confidence", "voiced")
    report = {}
    for label, model in (("local", folder), ("cache", repo_id)):
        pipe = pipeline(model=model, trust_remote_code=True, device="cpu")
        out = pipe(x, sampling_rate=44100)
        np.savez(os.path.join(out_dir, label + ".npz"), **{k: np.asarray(out[k]) for k in keys})
        report[label] = {"pipeline": type(pipe).__module__ + "." + type(pipe).__name__,
                         "model": type(pipe.model).__module__ + "." + type(pipe.model).__name__,
                         "separator": type(pipe.model.separator).__module__, "task": pipe.task}
    report["majl_hf_imported"] = sorted(m for m in sys.modules if m == "majl_hf" or m.startswith("majl_hf."))
    print("REPORT" + json.dumps(report))
""")


def test_remote_code_without_majl_hf(published, tmp_path, installed_outputs):
    """trust_remote_code=True in a fresh interpreter that cannot import majl_hf, from the folder and
    from the HF cache layout (offline): the outputs equal the installed pipeline's."""
    hf_home = tmp_path / "hf_home"
    seed_hf_cache(published, CACHE_REPO, cache_dir=hf_home / "hub")
    np.save(tmp_path / "x.npy", signal_array())
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONNOUSERSITE="1")
    proc = subprocess.run(
        [sys.executable, "-c", REMOTE_SCRIPT, str(published), CACHE_REPO, str(tmp_path / "x.npy"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.split("REPORT", 1)[1])
    assert report["majl_hf_imported"] == []
    for label in ("local", "cache"):
        assert report[label]["task"] == REMOTE_TASK
        for key in ("pipeline", "model", "separator"):
            assert report[label][key].startswith("transformers_modules."), report[label]
        got = dict(np.load(tmp_path / f"{label}.npz"))
        assert_same_outputs(got, installed_outputs)


def test_card_renders_the_measured_metrics(published, tiny_metrics):
    from huggingface_hub import ModelCard

    from majl_hf.hub.cards import eval_results_from_metrics, format_metric

    metrics = tiny_metrics[0]
    card = ModelCard.load(published / "README.md")
    assert card.data.eval_results == eval_results_from_metrics([metrics])
    assert card.data.license == "mit" and card.data.model_name == "tiny-majl"
    for key in ("sdr", "gnsdr", "rpa"):
        assert f"| {format_metric(key, metrics['summary'][key])} |" in card.text
    assert f'pipeline(model="{REPO_ID}", trust_remote_code=True)' in card.text


def test_refuses_metrics_of_other_weights(tiny_model_dir, tiny_metrics, tmp_path):
    other = json.loads(json.dumps(tiny_metrics[0]))
    other["model"]["weights_sha256"] = "0" * 64
    with pytest.raises(PublishError, match="measured on weights"):
        prepare_folder(tiny_model_dir, tmp_path / "out", repo_id=REPO_ID, metrics=[other])
    assert not (tmp_path / "out").exists()


def test_refuses_a_non_empty_folder(tiny_model_dir, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(PublishError, match="not empty"):
        prepare_folder(tiny_model_dir, tmp_path / "out", repo_id=REPO_ID)
    with pytest.raises(ValueError, match="org/name"):
        prepare_folder(tiny_model_dir, tmp_path / "out2", repo_id="no-org")


def test_push_to_hub_uploads_the_folder(published, monkeypatch):
    """push_to_hub = create_repo + upload_folder (a stand-in HfApi: no network)."""
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))
            return "commit-info"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert push_to_hub(published, REPO_ID, token="tok", private=True) == "commit-info"
    assert calls[0] == ("init", "tok")
    assert calls[1] == ("create_repo", REPO_ID, {"repo_type": "model", "private": True, "exist_ok": True})
    upload = calls[2][1]
    assert upload["folder_path"] == str(published) and upload["repo_id"] == REPO_ID and upload["repo_type"] == "model"
    with pytest.raises(PublishError):
        push_to_hub(published.parent, REPO_ID)
