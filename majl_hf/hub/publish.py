"""Publish a MAJL model: prepare the folder that ``push_to_hub`` uploads, offline, then upload it.

The folder holds what a Hub repository needs so that **both** of these work::

    pipeline("majl-vocal", model="org/name")                            # with majl_hf installed
    pipeline(model="org/name", trust_remote_code=True)                  # without majl_hf

- ``config.json`` + ``model.safetensors`` (``save_pretrained``), with ``auto_map`` (``AutoConfig`` →
  ``configuration_majl.MajlConfig``, ``AutoModel`` → ``modeling_majl.MajlModel``) and
  ``custom_pipelines`` (task :data:`REMOTE_TASK` → ``pipeline_majl_vocal.MajlVocalPipeline``);
- the code: a flat copy of the majl_hf modules they need (:mod:`majl_hf.hub.remote_code`), saved by
  transformers' own custom-code mechanism — ``register_for_auto_class`` on the config and model,
  ``PIPELINE_REGISTRY.register_pipeline``, ``pipeline.save_pretrained`` — in a subprocess where
  majl_hf cannot be imported, so the folder is proven self-contained when it is made;
- ``README.md``: the model card (:mod:`majl_hf.hub.cards`), from the config, the training config
  and the evaluation metrics; the metrics files themselves under ``evaluation/``;
- ``requirements.txt`` (the packages the code imports), ``remote_code_manifest.json`` (flat file →
  majl_hf module, sha256), ``training_config.yaml`` when the weights came with one, and the source
  folder's own card as ``source_model_card.md`` (e.g. the provenance of converted weights).

The remote task is not named ``majl-vocal``: transformers lets a config's ``custom_pipelines``
override an installed task of the same name and then demands ``trust_remote_code``, which would
break ``pipeline("majl-vocal", model=...)`` for majl_hf users.

Loaded from a local folder with ``trust_remote_code=True``, transformers imports the config module
twice (one copy per module's import closure); MajlConfig re-resolves its sub-configs through
``AutoConfig.for_model`` so that this is harmless. Where majl_hf is imported too, transformers
prefers the explicitly registered local config and model classes over ``auto_map`` even with
``trust_remote_code=True`` (only the pipeline class then comes from the repository): the same code,
the same outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable

from ..utils import write_json_atomic
from .cards import REMOTE_TASK, TRAINING_CONFIG, read_training_config, write_model_card
from .remote_code import CONFIG_CLASS, MANIFEST, MODEL_CLASS, PIPELINE_CLASS, write_flat_package

EVALUATION_DIR = "evaluation"
REQUIREMENTS = "requirements.txt"
SOURCE_CARD = "source_model_card.md"
# import name → distribution name, for requirements.txt
DISTRIBUTIONS = {
    "soundfile": "soundfile",
    "soxr": "soxr",
    "julius": "julius",
    "numpy": "numpy",
    "torch": "torch",
    "transformers": "transformers",
    "huggingface_hub": "huggingface_hub",
    "tqdm": "tqdm",
}

# Runs in a fresh interpreter: imports only the flat package (majl_hf is blocked), registers the
# classes for the auto classes and the pipeline, loads the weights and saves through transformers.
_SAVE_SCRIPT = r"""
import importlib, importlib.abc, json, sys

args = json.loads(sys.argv[1])


class _HideMajlHf(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "majl_hf" or name.startswith("majl_hf."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden: the remote code must not need majl_hf)")
        return None


sys.meta_path.insert(0, _HideMajlHf())
sys.path.insert(0, args["package_parent"])
from transformers import AutoModel
from transformers.pipelines import PIPELINE_REGISTRY

pkg = args["package"]


def load(ref):
    module, name = ref.split(".")
    return getattr(importlib.import_module(pkg + "." + module), name)


config_cls, model_cls, pipe_cls = load(args["config_class"]), load(args["model_class"]), load(args["pipeline_class"])
config_cls.register_for_auto_class()
model_cls.register_for_auto_class("AutoModel")
PIPELINE_REGISTRY.register_pipeline(args["task"], pipeline_class=pipe_cls, pt_model=AutoModel, type="audio")
model, info = model_cls.from_pretrained(args["source"], output_loading_info=True)
problems = {k: v for k, v in info.items() if v}
if problems:
    raise SystemExit(f"the weights of {args['source']} do not fit the model exactly: {problems}")
pipe = pipe_cls(model=model.eval(), task=args["task"], device="cpu")
pipe.save_pretrained(args["output"])
print(json.dumps({"saved": args["output"], "class": type(model).__module__ + "." + type(model).__name__}))
"""


class PublishError(RuntimeError):
    """The folder could not be prepared (the message says what to fix)."""


def resolve_model_folder(model, *, revision: str | None = None, cache_dir=None) -> Path:
    """A local folder for ``model``: the folder itself, or the HF-cache snapshot of a Hub id
    (downloaded unless ``HF_HUB_OFFLINE`` is set and it is cached)."""
    if os.path.isdir(str(model)):
        return Path(model)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(str(model), revision=revision, cache_dir=cache_dir))


def _read_weights(path: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(path))


def check_same_weights(a: Path, b: Path) -> None:
    """Raise :class:`PublishError` unless two ``model.safetensors`` hold the same tensors bit for bit."""
    import numpy as np

    wa, wb = _read_weights(a), _read_weights(b)
    if set(wa) != set(wb):
        raise PublishError(f"{b} has other tensors than {a}: {sorted(set(wa) ^ set(wb))[:10]}")
    for k in wa:
        if wa[k].dtype != wb[k].dtype or wa[k].shape != wb[k].shape or not np.array_equal(wa[k], wb[k]):
            raise PublishError(f"tensor {k} of {b} differs from {a}")


def _requirements(folder: Path) -> list[str]:
    from transformers.dynamic_module_utils import get_imports

    needed = set()
    for path in sorted(folder.glob("*.py")):
        needed.update(get_imports(path))
    names = sorted(DISTRIBUTIONS.get(m, m) for m in needed if m not in sys.stdlib_module_names)
    return names


def _save_with_transformers(package_dir: Path, source: Path, output: Path, task: str, timeout: float) -> None:
    args = {
        "package_parent": str(package_dir.parent),
        "package": package_dir.name,
        "source": str(source.resolve()),
        "output": str(output.resolve()),
        "task": task,
        "config_class": CONFIG_CLASS,
        "model_class": MODEL_CLASS,
        "pipeline_class": PIPELINE_CLASS,
    }
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    proc = subprocess.run(
        [sys.executable, "-c", _SAVE_SCRIPT, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=str(package_dir.parent),
    )
    if proc.returncode != 0:
        raise PublishError(
            "saving the model with its remote code failed (a fresh interpreter without majl_hf):\n"
            + proc.stderr[-4000:]
        )


def save_with_remote_code(source, output, *, timeout: float = 600.0) -> dict:
    """Save the model of folder ``source`` into the (empty or new) folder ``output`` the way a Hub
    repository with remote code holds it: weights, ``config.json`` with ``auto_map`` and
    ``custom_pipelines`` (task :data:`REMOTE_TASK`), the flat code beside them (transformers' own
    custom-code saving, in a fresh interpreter where majl_hf cannot be imported), the manifest and
    ``requirements.txt``. The tensors are checked to be the source's bit for bit. Returns the manifest."""
    source, out = Path(source), Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="majl_publish_") as tmp:
        package = Path(tmp) / "majl_remote_code"
        manifest = write_flat_package(package)
        (package / "__init__.py").write_text("", encoding="utf-8")
        _save_with_transformers(package, source, out, REMOTE_TASK, timeout)
    saved = {p.name for p in out.glob("*.py")}
    missing = sorted(set(manifest["files"]) - saved)
    if missing:
        raise PublishError(f"transformers did not copy {missing} into {out}: an import it does not follow")
    write_json_atomic(out / MANIFEST, manifest)
    check_same_weights(source / "model.safetensors", out / "model.safetensors")
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    if config.get("auto_map", {}).get("AutoModel") != MODEL_CLASS or REMOTE_TASK not in config.get(
        "custom_pipelines", {}
    ):
        raise PublishError(f"{out}/config.json lacks auto_map/custom_pipelines: {config.get('auto_map')}")
    (out / REQUIREMENTS).write_text(
        "# what the remote code imports (transformers' check_imports)\n" + "\n".join(_requirements(out)) + "\n",
        encoding="utf-8",
    )
    return manifest


def _check_metrics_weights(metrics: list[dict], source_weights: Path, allow_other_weights: bool) -> None:
    from ..evaluation.runner import sha256_file

    digest = sha256_file(source_weights)
    for data in metrics:
        measured = (data.get("model") or {}).get("weights_sha256")
        if measured != digest and not allow_other_weights:
            raise PublishError(
                f"the metrics for {data['dataset']['name']} {data['dataset']['split']} were measured on weights with "
                f"sha256 {measured}, but {source_weights} has {digest}: evaluate this model (scripts/evaluate.py), "
                "or pass allow_other_weights=True if that is really meant"
            )


def prepare_folder(
    model,
    output_dir,
    *,
    repo_id: str,
    metrics: Iterable = (),
    license: str | None = None,
    base_model: str | None = None,
    revision: str | None = None,
    cache_dir=None,
    overwrite: bool = False,
    allow_other_weights: bool = False,
    timeout: float = 600.0,
) -> Path:
    """Prepare ``output_dir`` for upload to ``repo_id`` (offline; nothing is uploaded).

    Args:
        model: a saved MajlModel folder or a Hub id (from the HF cache when offline).
        output_dir: the folder to fill; it must not exist or be empty (``overwrite=True`` replaces a
            folder this function made before).
        repo_id: the target repository, ``org/name`` (written into the card).
        metrics: ``metrics.json`` paths or dicts of :func:`majl_hf.evaluation.runner.evaluate`,
            measured on these weights (checked by sha256 unless ``allow_other_weights``).
        license: licence id of the weights (default: the source card's, if it has one).
        base_model: what these weights start from (default: the training config's ``init_from``).
        revision, cache_dir: for a Hub id.
    Returns:
        ``output_dir`` as a Path.
    """
    from ..evaluation.runner import load_metrics

    if "/" not in repo_id or repo_id.count("/") != 1:
        raise ValueError(f"repo_id must look like 'org/name', got {repo_id!r}")
    source = resolve_model_folder(model, revision=revision, cache_dir=cache_dir)
    weights = source / "model.safetensors"
    if not (source / "config.json").is_file() or not weights.is_file():
        raise PublishError(f"{source} is not a saved model folder (config.json + model.safetensors)")
    runs = [load_metrics(m) if isinstance(m, (str, os.PathLike)) else dict(m) for m in metrics]
    _check_metrics_weights(runs, weights, allow_other_weights)
    out = Path(output_dir)
    if out.exists() and any(out.iterdir()):
        if not (overwrite and (out / MANIFEST).is_file()):
            raise PublishError(
                f"{out} is not empty: choose a new folder (overwrite=True only replaces a folder "
                "made by prepare_folder)"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)

    save_with_remote_code(source, out, timeout=timeout)
    if (source / TRAINING_CONFIG).is_file():
        shutil.copyfile(source / TRAINING_CONFIG, out / TRAINING_CONFIG)
    if (source / "README.md").is_file():  # the source's own card (e.g. a conversion's provenance)
        shutil.copyfile(source / "README.md", out / SOURCE_CARD)
    for data in runs:
        ds = data["dataset"]
        target = out / EVALUATION_DIR / f"{ds['corpus']}-{ds['split']}" / "metrics.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(target, data)
    write_model_card(
        out,
        repo_id=repo_id,
        metrics=runs,
        training_config=read_training_config(source),
        license=license or _source_license(source),
        base_model=base_model,
        source=str(model),
        remote_code=True,
        source_card=SOURCE_CARD if (out / SOURCE_CARD).is_file() else None,
    )
    return out


def _source_license(source: Path) -> str | None:
    readme = source / "README.md"
    if not readme.is_file():
        return None
    from huggingface_hub import ModelCard

    try:
        return ModelCard.load(readme).data.license
    except Exception:  # noqa: BLE001 - a malformed source card only loses the default licence
        return None


def push_to_hub(
    folder,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    create: bool = True,
):
    """Upload a folder made by :func:`prepare_folder` to ``repo_id`` (huggingface_hub
    ``create_repo`` + ``upload_folder``). Returns the commit info."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    if not (folder / MANIFEST).is_file() or not (folder / "README.md").is_file():
        raise PublishError(f"{folder} was not made by prepare_folder (no {MANIFEST} / README.md)")
    api = HfApi(token=token)
    if create:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    return api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="model",
        revision=revision,
        commit_message=commit_message or f"Upload MAJL model ({folder.name}) with majl_hf",
    )


__all__ = [
    "REMOTE_TASK",
    "PublishError",
    "check_same_weights",
    "prepare_folder",
    "push_to_hub",
    "resolve_model_folder",
    "save_with_remote_code",
]
