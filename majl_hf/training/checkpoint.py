"""Checkpoints that cannot be half-written or silently corrupted.

A checkpoint is written by ``accelerator.save_state`` into a hidden temporary folder
``.tmp-checkpoint-<step>``; the main process then writes ``checkpoint_manifest.json`` — the sha256
and size of every file, the step and epoch — flushes everything to disk and renames the folder to
``checkpoint-<step>`` in one atomic step. A folder without a manifest (a crash during saving), with
a file missing, resized or altered, or with an unreadable manifest is *invalid*: it is never
loaded. On resume the newest valid checkpoint is chosen and every newer one that was skipped is
logged with the reason.

Retention (``keep``) counts valid checkpoints only: after each save, invalid ones are moved aside
into ``<checkpoints>/invalid/`` (with a warning naming the reason; never deleted), then the valid
ones beyond the ``keep`` newest are deleted — never the one just written, never the newest valid.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

from ..utils import fsync_dir, sha256_file, write_json_atomic

logger = logging.getLogger(__name__)

MANIFEST = "checkpoint_manifest.json"
FORMAT = "majl-checkpoint"
FORMAT_VERSION = 1
PREFIX = "checkpoint-"
TMP_PREFIX = ".tmp-checkpoint-"
INVALID_DIR = "invalid"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_name(step: int) -> str:
    return f"{PREFIX}{int(step):08d}"


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def write_manifest(folder, meta: dict | None = None) -> dict:
    """Hash every file under ``folder`` (fsyncing each) and write the manifest atomically."""
    folder = Path(folder)
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST and not p.name.endswith(".tmp"):
            _fsync_file(p)
            files[p.relative_to(folder).as_posix()] = {"sha256": sha256_file(p), "size": p.stat().st_size}
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "complete": True,
        "created_unix_s": time.time(),
        "files": files,
        **(meta or {}),
    }
    write_json_atomic(folder / MANIFEST, manifest)  # fsyncs the file and the folder
    return manifest


def read_manifest(folder) -> dict:
    return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))


def verify_checkpoint(folder) -> tuple[bool, str]:
    """``(True, "ok")`` when ``folder`` is a complete checkpoint whose files all match their
    manifest, else ``(False, reason)``."""
    folder = Path(folder)
    if not folder.is_dir():
        return False, "not a folder"
    if not (folder / MANIFEST).is_file():
        return False, f"no {MANIFEST} (incomplete: the run stopped while saving, or not a checkpoint)"
    try:
        manifest = read_manifest(folder)
    except (OSError, ValueError) as err:
        return False, f"unreadable manifest ({err})"
    if manifest.get("format") != FORMAT or not manifest.get("complete"):
        return False, "manifest is not a complete majl checkpoint manifest"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return False, "manifest lists no files"
    for rel, info in files.items():
        p = folder / rel
        if not p.is_file():
            return False, f"file {rel} is missing"
        if p.stat().st_size != info.get("size"):
            return False, f"file {rel} has {p.stat().st_size} bytes, the manifest says {info.get('size')}"
        if sha256_file(p) != info.get("sha256"):
            return False, f"file {rel} is corrupted (sha256 differs from the manifest)"
    return True, "ok"


def list_checkpoints(checkpoints_dir) -> list[tuple[int, Path]]:
    """``(step, folder)`` of every ``checkpoint-<step>`` folder, newest first (valid or not)."""
    root = Path(checkpoints_dir)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_dir():
            found.append((int(m.group(1)), p))
    return sorted(found, reverse=True)


def find_resumable_checkpoint(checkpoints_dir) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest valid checkpoint (or None) and ``(folder, reason)`` of each newer one skipped
    (half-written ``.tmp-`` folders included), each also logged as a warning."""
    root = Path(checkpoints_dir)
    skipped = []
    if root.is_dir():
        for p in sorted(root.glob(TMP_PREFIX + "*")):
            skipped.append((p, "temporary folder of an interrupted save"))
    for _, folder in list_checkpoints(root):
        ok, reason = verify_checkpoint(folder)
        if ok:
            for p, why in skipped:
                logger.warning("not resuming from %s: %s", p, why)
            return folder, skipped
        skipped.append((folder, reason))
    for p, why in skipped:
        logger.warning("not resuming from %s: %s", p, why)
    return None, skipped


def save_checkpoint(
    accelerator, checkpoints_dir, step: int, meta: dict | None = None, keep: int | None = None
) -> Path:
    """``accelerator.save_state`` into a temporary folder, manifest, atomic rename to
    ``checkpoint-<step>``; then keep only the ``keep`` newest checkpoints. Call on every process."""
    root = Path(checkpoints_dir)
    tmp = root / f"{TMP_PREFIX}{int(step):08d}"
    final = root / checkpoint_name(step)
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_manifest(tmp, {"step": int(step), "num_processes": accelerator.num_processes, **(meta or {})})
        if final.exists():  # a re-save of the same step (e.g. after resuming from it)
            old = root / f"{TMP_PREFIX}{int(step):08d}-old"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        fsync_dir(root)
        if keep is not None:
            apply_retention(root, keep, just_written=final)
    accelerator.wait_for_everyone()
    return final


def move_aside(folder, reason: str) -> Path:
    """Move an invalid checkpoint into ``<checkpoints>/invalid/`` (a free name), with a warning."""
    folder = Path(folder)
    dest_dir = folder.parent / INVALID_DIR
    dest_dir.mkdir(exist_ok=True)
    dest = dest_dir / folder.name
    n = 1
    while dest.exists():
        dest = dest_dir / f"{folder.name}.{n}"
        n += 1
    os.replace(folder, dest)
    logger.warning(
        "checkpoint %s is not valid (%s): moved aside to %s; it does not count towards save_total_limit",
        folder,
        reason,
        dest,
    )
    return dest


def apply_retention(checkpoints_dir, keep: int, just_written=None) -> dict:
    """Keep the ``keep`` newest *valid* checkpoints of ``checkpoints_dir``: invalid ones are moved
    aside (:func:`move_aside`), older valid ones deleted. The checkpoint ``just_written`` (trusted
    without re-hashing) and the newest valid one are never deleted, even if that keeps one more.
    Returns ``{"kept": [...], "deleted": [...], "moved_aside": [...]}``."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    root = Path(checkpoints_dir)
    just = Path(just_written).resolve() if just_written is not None else None
    valid, moved = [], []
    for step, folder in list_checkpoints(root):
        if just is not None and folder.resolve() == just:
            valid.append((step, folder))
            continue
        ok, reason = verify_checkpoint(folder)
        if ok:
            valid.append((step, folder))
        else:
            moved.append(move_aside(folder, reason))
    kept = valid[:keep]
    protected = {f.resolve() for _, f in valid[:1]} | ({just} if just is not None else set())
    deleted = []
    for _, folder in valid[keep:]:
        if folder.resolve() in protected:
            kept.append((_, folder))
            continue
        shutil.rmtree(folder, ignore_errors=True)
        deleted.append(folder)
    return {"kept": [f for _, f in kept], "deleted": deleted, "moved_aside": moved}


def load_checkpoint(accelerator, folder) -> dict:
    """Verify ``folder`` and ``accelerator.load_state`` it; returns its manifest. Raises
    ``ValueError`` (with the reason) for an invalid checkpoint: nothing is loaded then."""
    ok, reason = verify_checkpoint(folder)
    if not ok:
        raise ValueError(f"checkpoint {folder} is not valid: {reason}")
    accelerator.load_state(str(folder))
    return read_manifest(folder)


__all__ = [
    "INVALID_DIR",
    "MANIFEST",
    "apply_retention",
    "move_aside",
    "checkpoint_name",
    "find_resumable_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "read_manifest",
    "save_checkpoint",
    "sha256_file",
    "verify_checkpoint",
    "write_manifest",
]
