"""Local Hugging Face cache I/O: put a saved model folder into the cache under a repo id, exactly
as a Hub download would leave it (``models--org--name/{blobs,snapshots/<commit>,refs/main}``), so
that ``from_pretrained(repo_id)`` works with ``HF_HUB_OFFLINE=1``."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache

from ..utils import sha256_file


def _cache_root(cache_dir=None) -> Path:
    return Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)


def repo_folder(repo_id: str, cache_dir=None) -> Path:
    return _cache_root(cache_dir) / ("models--" + repo_id.replace("/", "--"))


_sha256 = sha256_file  # one implementation (majl_hf.utils)


def seed_hf_cache(folder, repo_id: str, cache_dir=None, revision: str = "main") -> Path:
    """Copy every file of ``folder`` into the HF cache under ``repo_id`` and point ``revision`` at
    it. The snapshot's commit id is derived from the files' hashes, so seeding the same files
    twice gives the same snapshot. Returns the snapshot folder."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} has no config.json: not a saved model folder")
    manifest = [(p.relative_to(folder).as_posix(), _sha256(p)) for p in files]
    commit = hashlib.sha1(repr(manifest).encode()).hexdigest()
    repo = repo_folder(repo_id, cache_dir)
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    for (rel, digest), src in zip(manifest, files):
        blob = repo / "blobs" / digest
        if not blob.exists():
            tmp = blob.with_suffix(".incomplete")
            shutil.copyfile(src, tmp)
            os.replace(tmp, blob)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        try:
            link.symlink_to(os.path.relpath(blob, link.parent))
        except OSError:  # filesystems without symlinks: a copy, as huggingface_hub does
            shutil.copyfile(blob, link)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    return snapshot


def is_cached(repo_id: str, cache_dir=None, revision: str = "main") -> bool:
    """True when the cache holds ``config.json`` and ``model.safetensors`` of ``repo_id``."""
    for name in ("config.json", "model.safetensors"):
        found = try_to_load_from_cache(repo_id, name, cache_dir=cache_dir, revision=revision)
        if not isinstance(found, str):
            return False
    return True


class ModelNotCachedError(OSError):
    """A pretrained pair that is built locally (``majl-hf build-default``) is not in the HF cache."""


def build_command(repo_id: str) -> str | None:
    """The console command that builds ``repo_id`` into the HF cache (``None`` for other models)."""
    from ..defaults import BUILD_COMMAND, PRETRAINED_MODELS

    for variant, name in PRETRAINED_MODELS.items():
        if name == repo_id:
            return f"{BUILD_COMMAND} --variants {variant}"
    return None


def require_cached(repo_id, cache_dir=None, revision: str = "main") -> None:
    """Raise :class:`ModelNotCachedError` — one line naming the command that builds it — when
    ``repo_id`` is one of majl_hf's pretrained pairs (:data:`majl_hf.defaults.PRETRAINED_MODELS`,
    built from the original weights, not downloaded from the Hub) and the HF cache lacks it. Any
    other model id, or a local folder, passes unchecked (transformers resolves it)."""
    repo_id = str(repo_id)
    command = build_command(repo_id)
    if command is None or os.path.isdir(repo_id) or is_cached(repo_id, cache_dir=cache_dir, revision=revision):
        return
    raise ModelNotCachedError(
        f"{repo_id} is not in the Hugging Face cache ({_cache_root(cache_dir)}): build it from the original "
        f"weights with `{command}` (majl_hf's pretrained pairs are built locally, not downloaded)"
    )


class CheckedDefault(tuple):
    """``(repo_id, revision)`` for a transformers task default that checks, when the pipeline unpacks
    it (``pipeline(task)`` without a model), that the pair is cached — so that the user reads
    :func:`require_cached`'s build command instead of a Hub connection error::

        PIPELINE_REGISTRY.register_pipeline(..., default={"model": CheckedDefault(DEFAULT_MODEL, DEFAULT_REVISION)})
    """

    def __new__(cls, repo_id: str, revision: str = "main"):
        return super().__new__(cls, (repo_id, revision))

    def __iter__(self):
        require_cached(self[0], revision=self[1])
        return super().__iter__()
