"""The pretrained pairs: the message that names the build command when one is missing, the cards
rendered from package data, the builder's source checks, and — for the pairs in the HF cache — the
built folder's layout and its remote code in a process that cannot import majl_hf."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import majl_hf
from majl_hf.defaults import BUILD_COMMAND, DEFAULT_MODEL, PRETRAINED_MODELS
from majl_hf.hub import CheckedDefault, ModelNotCachedError, is_cached, require_cached, seed_hf_cache
from majl_hf.hub.pretrained import (
    EXPECTED_WEIGHTS_SHA256,
    PITCH_PARTS,
    QUICK_VARIANTS,
    SEPARATOR,
    BuildError,
    Sources,
    build_card,
    committed_equivalence,
    is_built,
    measured_quality,
)
from majl_hf.hub.render import measured_dir, template_path
from tests.hub.conftest import signal_array

DEFAULT_VARIANT = next(v for v, repo in PRETRAINED_MODELS.items() if repo == DEFAULT_MODEL)  # its build name

OUTPUT_KEYS = ("vocals", "accompaniment", "f0_hz", "times_s", "confidence", "voiced")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty HF hub cache for this test (read at call time by huggingface_hub and majl_hf.hub)."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def test_require_cached_names_the_build_command(empty_cache, tmp_path):
    for variant, repo_id in PRETRAINED_MODELS.items():
        with pytest.raises(ModelNotCachedError) as info:
            require_cached(repo_id)
        message = str(info.value)
        assert f"`{BUILD_COMMAND} --variants {variant}`" in message and repo_id in message
        assert "\n" not in message  # the CLI prints the first line only
    require_cached("someorg/not-ours")  # other ids and local folders are transformers' business
    require_cached(str(tmp_path))
    # a seeded pair passes
    folder = tmp_path / "fake"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"0")
    seed_hf_cache(folder, DEFAULT_MODEL)
    require_cached(DEFAULT_MODEL)
    # ... but it is not what the builder makes now (no remote code, no report): prepare.sh rebuilds it
    assert not is_built(DEFAULT_MODEL)


def test_console_lists_the_pairs(empty_cache, tmp_path, capsys):
    from majl_hf import build_cli

    folder = tmp_path / "fake"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"0")
    seed_hf_cache(folder, PRETRAINED_MODELS["fcpe"])
    assert build_cli.main(["build-default", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(PRETRAINED_MODELS)
    for line, (variant, repo_id) in zip(lines, PRETRAINED_MODELS.items()):
        assert line.split()[:2] == [variant, repo_id]
        assert line.endswith("build it again" if variant == "fcpe" else "not built"), line
    assert build_cli.main(["build-default", "--no-cache"]) == 2  # would throw the folders away


def test_pipeline_task_default_says_the_build_command(empty_cache):
    """pipeline(task) without a model unpacks the task default: a CheckedDefault raises there, before
    any Hub request, with the command (how majl_hf.pipelines registers "majl-vocal"'s default)."""
    from transformers import AutoModel, pipeline
    from transformers.pipelines import PIPELINE_REGISTRY

    task = "majl-test-checked-default"
    PIPELINE_REGISTRY.register_pipeline(task, pipeline_class=majl_hf.MajlVocalPipeline, pt_model=AutoModel,
                                        default={"model": CheckedDefault(DEFAULT_MODEL, "main")}, type="audio")
    try:
        with pytest.raises(ModelNotCachedError, match=f"{BUILD_COMMAND} --variants {DEFAULT_VARIANT}"):
            pipeline(task)
    finally:
        PIPELINE_REGISTRY.supported_tasks.pop(task, None)
    assert tuple(CheckedDefault("someorg/not-ours", "v1")) == ("someorg/not-ours", "v1")  # not checked
    with pytest.raises(ModelNotCachedError):
        tuple(CheckedDefault(DEFAULT_MODEL, "main"))


def test_cli_says_the_build_command(empty_cache, tmp_path, capsys):
    import soundfile as sf

    from majl_hf import cli

    wav = tmp_path / "song.wav"
    sf.write(wav, signal_array(0.2).T, 44100)
    code = cli.main([str(wav), "-o", str(tmp_path / "out"), "--model", DEFAULT_MODEL])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{BUILD_COMMAND} --variants {DEFAULT_VARIANT}" in err, err


def test_templates_are_package_data():
    package = Path(majl_hf.__file__).resolve().parent
    for name in ("pretrained_model.md", "evaluated_model.md", "trained_model.md"):
        assert template_path(name).resolve().parent == package / "hub" / "model_cards"
    assert measured_dir().resolve() == package / "hub" / "model_cards" / "measured"
    with pytest.raises(FileNotFoundError, match="package data"):
        template_path("no_such_card.md")  # no silent fallback card


@pytest.mark.parametrize("variant", list(PRETRAINED_MODELS))
def test_card_of_every_pair(variant, tmp_path):
    repo_id = PRETRAINED_MODELS[variant]
    equivalence = committed_equivalence(variant, EXPECTED_WEIGHTS_SHA256[variant])
    card = build_card(tmp_path, repo_id, variant, equivalence, measured_quality(repo_id))
    text = str(card)
    assert card.data.license == "mit" and "custom_code" in card.data.tags
    assert f"# {repo_id}" in text and f'pipeline(model="{repo_id}", trust_remote_code=True)' in text
    part = PITCH_PARTS[variant]
    for p in (SEPARATOR, part):  # what both parts are, their origin (with hashes) and licence
        assert p.title in text and p.origin() in text
    assert text.count("| MIT |") == 2
    assert equivalence, f"no committed equivalence numbers for {variant}"
    for key, value in equivalence.items():  # every committed number is in the card, within its tolerance
        assert f"| {key} | {value:.2e} |" in text
        assert value <= 1e-3, key
    quality = measured_quality(repo_id)
    for line in (quality or "").splitlines():  # every committed measurement naming the pair, verbatim
        if line.startswith("| "):
            assert line in text, line
    if (measured_dir() / "pairs.md").is_file():  # scripts/evaluate_pairs.py's one table of every pair
        assert quality is not None and "pairs" in quality.lower()
    if variant in ("full", "tiny"):  # the committed quality table names these two
        assert "RPA" in text and measured_quality(repo_id) is not None


def test_committed_equivalence_only_for_the_same_weights():
    assert committed_equivalence("fcpe", EXPECTED_WEIGHTS_SHA256["fcpe"])
    assert committed_equivalence("fcpe", "0" * 64) == {}
    data = json.loads((measured_dir() / "conversion_equivalence.json").read_text())
    assert set(data) == set(PRETRAINED_MODELS)
    for variant, entry in data.items():
        assert entry["weights_sha256"] == EXPECTED_WEIGHTS_SHA256[variant]
        assert entry["repo_id"] == PRETRAINED_MODELS[variant]


def test_sources_say_what_is_missing(tmp_path):
    src = Sources(tmp_path / "wheels", None, download=False)
    with pytest.raises(BuildError, match="--weights"):
        PITCH_PARTS["harmof0-mdb"].load(src, 320)
    with pytest.raises(BuildError, match="pip download --no-deps torchfcpe==0.0.4"):
        PITCH_PARTS["fcpe"].load(src, 320)
    weights = tmp_path / "weights" / "harmof0"
    weights.mkdir(parents=True)
    (weights / "mir-1k.pth").write_bytes(b"not the checkpoint")
    with pytest.raises(BuildError, match="LICENSE"):
        PITCH_PARTS["harmof0-mir1k"].load(Sources(tmp_path / "wheels", tmp_path / "weights", download=False), 320)
    (weights / "LICENSE").write_text("MIT")
    with pytest.raises(ValueError, match="sha256"):  # the converter's hash check
        PITCH_PARTS["harmof0-mir1k"].load(Sources(tmp_path / "wheels", tmp_path / "weights", download=False), 320)
    assert set(QUICK_VARIANTS) == {v for v, r in PRETRAINED_MODELS.items() if r in (majl_hf.DEFAULT_MODEL,
                                                                               majl_hf.DEFAULT_MODEL_TINY)}


# --------------------------------------------------------------------------------------------------
# the built pairs (in the HF cache: scripts/build_default.py or `majl-hf build-default`)


def _snapshot(repo_id):
    from huggingface_hub import snapshot_download

    if not is_cached(repo_id):
        pytest.skip(f"{repo_id} is not in the HF cache: run python scripts/build_default.py --variants all")
    return Path(snapshot_download(repo_id, local_files_only=True))


@pytest.mark.parametrize("variant", list(PRETRAINED_MODELS))
def test_built_folder_is_a_self_describing_repo(variant):
    from majl_hf.hub.cache import _sha256

    repo_id = PRETRAINED_MODELS[variant]
    folder = _snapshot(repo_id)
    config = json.loads((folder / "config.json").read_text())
    assert "auto_map" in config, f"{repo_id}: built before remote code: rebuild with python scripts/build_default.py"
    assert config["auto_map"]["AutoModel"] == "modeling_majl.MajlModel"
    assert "majl-vocal-remote" in config["custom_pipelines"]
    assert config["pitch_config"]["hop_length"] == 320
    manifest = json.loads((folder / "remote_code_manifest.json").read_text())
    assert all((folder / name).is_file() for name in manifest["files"])
    assert _sha256(folder / "model.safetensors") == EXPECTED_WEIGHTS_SHA256[variant]
    licences = sorted(p.name for p in (folder / "licenses").iterdir())
    assert licences == sorted([f"{SEPARATOR.name}.LICENSE", f"{PITCH_PARTS[variant].name}.LICENSE"])
    for name in licences:  # the originals' MIT licence texts
        assert b"Permission is hereby granted" in (folder / "licenses" / name).read_bytes(), name
    card = (folder / "README.md").read_text()
    assert f"# {repo_id}" in card and "Equivalence with the originals" in card
    assert is_built(repo_id)


REMOTE = textwrap.dedent("""
    import importlib.abc, json, sys

    class HideMajlHf(importlib.abc.MetaPathFinder):  # as if majl_hf were not installed
        def find_spec(self, name, path=None, target=None):
            if name == "majl_hf" or name.startswith("majl_hf."):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, HideMajlHf())
    import numpy as np
    from transformers import pipeline

    repo_id, array_path, out_path = sys.argv[1:4]
    pipe = pipeline(model=repo_id, trust_remote_code=True, device="cpu")
    out = pipe(np.load(array_path), sampling_rate=44100)
    keys = ("vocals", "accompaniment", "f0_hz", "times_s", "confidence", "voiced")
    np.savez(out_path, **{k: np.asarray(out[k]) for k in keys})
    print("REPORT" + json.dumps({"model": type(pipe.model).__module__, "task": pipe.task,
          "majl_hf": sorted(m for m in sys.modules if m.split(".")[0] == "majl_hf")}))
""")


def test_default_runs_as_remote_code_without_majl_hf(tmp_path):
    """pipeline(model=DEFAULT_MODEL, trust_remote_code=True) in a fresh interpreter that cannot import
    majl_hf (the HF cache as built): the same outputs as the installed pipeline."""
    from transformers import pipeline

    _snapshot(DEFAULT_MODEL)
    x = signal_array(1.0)
    np.save(tmp_path / "x.npy", x)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONNOUSERSITE="1")
    proc = subprocess.run([sys.executable, "-c", REMOTE, DEFAULT_MODEL, str(tmp_path / "x.npy"),
                           str(tmp_path / "remote.npz")], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.split("REPORT", 1)[1])
    assert report["majl_hf"] == [] and report["model"].startswith("transformers_modules.")
    assert report["task"] == "majl-vocal-remote"
    got = dict(np.load(tmp_path / "remote.npz"))
    want = pipeline("majl-vocal", model=DEFAULT_MODEL, device="cpu")(x, sampling_rate=44100)
    for k in OUTPUT_KEYS:
        err = np.abs(np.asarray(got[k], dtype=np.float64) - np.asarray(want[k], dtype=np.float64)).max()
        print(f"{k}: remote vs installed max abs diff {err:.1e}")
        assert err <= 1e-6, k
