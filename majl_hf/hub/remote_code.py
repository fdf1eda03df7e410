"""A flat, self-contained copy of the code a MAJL model and its ``majl-vocal`` pipeline need, for
transformers' remote code (``trust_remote_code=True``) on machines without majl_hf.

transformers copies only the module that defines a class plus the files it reaches through
``from .x import y`` in the *same folder*; majl_hf is a nested package (``from ..models.common
import ...``). :func:`write_flat_package` follows every relative import of the entry modules
(:data:`ENTRY_MODULES`) through the package, gives each module a unique flat name
(``majl_hf.models.crepe.modeling_crepe`` → ``majl_models_crepe_modeling_crepe.py``) and rewrites
its relative imports to ``from .<flat name> import ...``. Nothing else in the code changes, so the
flat copy behaves like the package: importing ``configuration_majl`` imports the backbone registry
(``majl_models.py``), which registers every backbone with ``AutoConfig``/``AutoModel`` so that the
sub-configs' ``model_type`` resolve.

A submodule imported as a name (``from . import models as _registered``) is rewritten to
``from . import majl_models as _registered`` plus a ``from .majl_models import __name__ as ...``
line, the form transformers' file scanner follows.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from ..utils import write_json_atomic

PACKAGE = "majl_hf"
# entry module → flat file name (the names auto_map and custom_pipelines point at)
ENTRY_MODULES = {
    "majl_hf.configuration_majl": "configuration_majl",
    "majl_hf.modeling_majl": "modeling_majl",
    "majl_hf.pipelines.majl_vocal": "pipeline_majl_vocal",
}
CONFIG_CLASS = "configuration_majl.MajlConfig"
MODEL_CLASS = "modeling_majl.MajlModel"
PIPELINE_CLASS = "pipeline_majl_vocal.MajlVocalPipeline"
MANIFEST = "remote_code_manifest.json"


def flat_name(module: str) -> str:
    """The flat file stem of a majl_hf module."""
    if module in ENTRY_MODULES:
        return ENTRY_MODULES[module]
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        raise ValueError(f"{module} is not a {PACKAGE} module")
    rest = module[len(PACKAGE) + 1 :]
    return "majl_" + rest.replace(".", "_") if rest else "majl_package"


def _spec(module: str):
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ImportError(f"cannot find the source of {module}")
    return spec


def _is_package(module: str) -> bool:
    return _spec(module).submodule_search_locations is not None


def _is_submodule(package: str, name: str) -> bool:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        return False
    return any(
        (Path(loc) / f"{name}.py").is_file() or (Path(loc) / name / "__init__.py").is_file()
        for loc in spec.submodule_search_locations
    )


@dataclass
class _Rewrite:
    first_line: int  # 1-based, inclusive
    last_line: int
    indent: str
    lines: list[str]


@dataclass
class FlatModule:
    module: str
    name: str
    source: Path
    imports: set[str] = field(default_factory=set)  # majl_hf modules this one imports


def _analyse(module: str) -> tuple[FlatModule, list[_Rewrite]]:
    spec = _spec(module)
    source = Path(spec.origin)
    text = source.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(source))
    package = module if _is_package(module) else module.rpartition(".")[0]
    info = FlatModule(module, flat_name(module), source)
    rewrites: list[_Rewrite] = []
    src_lines = text.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    raise ValueError(
                        f"{source}:{node.lineno}: absolute import of {alias.name}; use a relative import "
                        "so that the remote-code copy can rewrite it"
                    )
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0:
            if node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
                raise ValueError(f"{source}:{node.lineno}: absolute import from {node.module}; use a relative import")
            continue
        base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
        first, last = node.lineno, node.end_lineno
        before = src_lines[first - 1][: node.col_offset]
        after = src_lines[last - 1][node.end_col_offset :].strip()
        if before.strip() or (after and not after.startswith("#")):
            raise ValueError(f"{source}:{first}: put this relative import on lines of its own")
        names, modules = [], []
        for alias in node.names:
            if alias.name != "*" and _is_submodule(base, alias.name):
                modules.append((f"{base}.{alias.name}", alias.asname or alias.name))
            else:
                names.append(alias)
        out = []
        if names:
            if node.module is None and base == PACKAGE:
                raise ValueError(f"{source}:{first}: `from . import name` of a non-module from the package root")
            info.imports.add(base)
            parts = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in names)
            out.append(f"from .{flat_name(base)} import {parts}")
        for sub, bound in modules:
            info.imports.add(sub)
            flat = flat_name(sub)
            out.append(
                f"from .{flat} import __name__ as _{flat}_module_name  # noqa: F401 (transformers copies {flat}.py)"
            )
            out.append(f"from . import {flat} as {bound}  # noqa: F401")
        rewrites.append(_Rewrite(first, last, before, out))
    return info, rewrites


def _rewrite(text: str, rewrites: list[_Rewrite]) -> str:
    lines = text.splitlines(keepends=True)
    for rw in sorted(rewrites, key=lambda r: r.first_line, reverse=True):
        new = [rw.indent + line + "\n" for line in rw.lines]
        lines[rw.first_line - 1 : rw.last_line] = new
    return "".join(lines)


def collect_modules(entries=tuple(ENTRY_MODULES)) -> dict[str, tuple[FlatModule, list[_Rewrite]]]:
    """Every majl_hf module the entries reach through relative imports (the entries included)."""
    found: dict[str, tuple[FlatModule, list[_Rewrite]]] = {}
    todo = list(entries)
    while todo:
        module = todo.pop()
        if module in found:
            continue
        info, rewrites = _analyse(module)
        found[module] = (info, rewrites)
        todo.extend(sorted(info.imports - set(found)))
    names: dict[str, str] = {}
    for module, (info, _) in found.items():
        if info.name in names:
            raise ValueError(f"flat name {info.name} of {module} collides with {names[info.name]}")
        names[info.name] = module
    return found


def _header(info: FlatModule, version: str) -> str:
    rel = info.module.replace(".", "/") + ("/__init__.py" if info.source.name == "__init__.py" else ".py")
    return (
        f"# Generated by majl_hf {version} (majl_hf/hub/remote_code.py) from {rel}:\n"
        "# a flat copy for transformers' remote code (trust_remote_code=True). Edit majl_hf, not this file.\n"
    )


def write_flat_package(folder, entries=tuple(ENTRY_MODULES)) -> dict:
    """Write the flat modules into ``folder`` (created; an ``__init__.py`` is *not* written: the
    folder is a model repository, transformers makes its own package). Returns the manifest
    ``{"majl_hf_version", "files": {flat file: {"module", "sha256"}}, "entries": {...}}``, also
    written as ``remote_code_manifest.json``."""
    from .. import __version__

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "majl_hf_version": __version__,
        "files": {},
        "entries": {"config": CONFIG_CLASS, "model": MODEL_CLASS, "pipeline": PIPELINE_CLASS},
    }
    for module, (info, rewrites) in sorted(collect_modules(entries).items()):
        text = _header(info, __version__) + _rewrite(info.source.read_text(encoding="utf-8"), rewrites)
        ast.parse(text)  # the rewrite must stay valid Python
        path = folder / f"{info.name}.py"
        path.write_text(text, encoding="utf-8")
        manifest["files"][path.name] = {"module": module, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    write_json_atomic(folder / MANIFEST, manifest)
    return manifest


__all__ = [
    "CONFIG_CLASS",
    "ENTRY_MODULES",
    "MANIFEST",
    "MODEL_CLASS",
    "PIPELINE_CLASS",
    "collect_modules",
    "flat_name",
    "write_flat_package",
]
