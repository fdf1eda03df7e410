"""PEP 562 lazy exports: a package names what its submodules define and imports a submodule only
when one of its names is first used (the pattern of transformers' ``_LazyModule``, in a few lines)."""

from __future__ import annotations

import importlib


def attach(package: str, submodules: dict[str, list[str]]):
    """``__getattr__, __dir__, __all__`` for ``package`` exporting ``submodules[sub]`` from ``package.sub``.

    Usage in an ``__init__.py``::

        __getattr__, __dir__, __all__ = attach(__name__, {"configuration_crepe": ["CrepeConfig"]})
    """
    where = {name: sub for sub, names in submodules.items() for name in names}

    def __getattr__(name: str):
        sub = where.get(name)
        if sub is None:
            if name in {s.split(".")[0] for s in submodules}:
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{sub}"), name)
        return value

    def __dir__():
        return sorted(set(where) | {s.split('.')[0] for s in submodules})

    return __getattr__, __dir__, sorted(where)
