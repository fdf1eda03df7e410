"""Local Hugging Face cache I/O: put a saved model folder into the cache under a repo id, exactly
as a Hub download would leave it (``models--org--name/{blobs,snapshots/<commit>,refs/main}``), so
that ``from_pretrained(repo_id)`` works with ``HF_HUB_OFFLINE=1``."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache


def _cache_root(cache_dir=None) -> Path:
    return Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)


def repo_folder(repo_id: str, cache_dir=None) -> Path:
    return _cache_root(cache_dir) / ("models--" + repo_id.replace("/", "--"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
