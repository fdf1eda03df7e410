"""Registration with transformers, done when transformers needs it and not before.

``import majl_hf`` must stay light (no torch, no backbone, no ``transformers.pipelines``), yet after it
``AutoConfig`` / ``AutoModel`` must know our model types and ``pipeline("majl-vocal")`` must work.
So registration is tied to the import of the transformers module that consumes it: a post-import
hook on ``transformers.models.auto.configuration_auto`` registers the configs, one on
``…auto.modeling_auto`` the models, one on ``transformers.pipelines`` the task. A module already
imported when majl_hf is imported is served at once.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import warnings

_done: set[str] = set()


def register_configs() -> None:
    # registers every backbone config (models.auto_configs) and "majl" (at the end of that module;
    # safe when this runs while configuration_majl is being imported)
    importlib.import_module("majl_hf.configuration_majl")


def register_models() -> None:
    importlib.import_module("majl_hf.modeling_majl")  # registers every backbone model and MajlModel


def register_pipeline() -> None:
    module = sys.modules.get("majl_hf.pipelines")
    if module is not None and not hasattr(module, "register_pipelines"):
        return  # majl_hf.pipelines is being imported: it registers the task at its own end
    from .pipelines import register_pipelines

    register_pipelines()


HOOKS = {
    "transformers.models.auto.configuration_auto": register_configs,
    "transformers.models.auto.modeling_auto": register_models,
    "transformers.pipelines": register_pipeline,
}


def _run(module_name: str) -> None:
    if module_name in _done:
        return
    _done.add(module_name)
    try:
        HOOKS[module_name]()
    except ImportError as err:  # a broken optional dependency must not break transformers itself
        warnings.warn(f"majl_hf could not register with {module_name}: {err}", stacklevel=2)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of a hooked module so that its hook runs right
    after the module has executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in HOOKS or fullname in _done:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _run(fullname)

        loader.exec_module = exec_then_register
        return spec


def install() -> None:
    if not any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())
    for name in HOOKS:
        if name in sys.modules:
            _run(name)
