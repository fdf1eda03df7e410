"""Hub I/O: default model names, local HF cache seeding, model cards."""

from .cache import is_cached, repo_folder, seed_hf_cache
from .defaults import DEFAULT_MODEL, DEFAULT_MODEL_TINY, DEFAULT_REVISION, DEFAULT_VARIANTS

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_TINY",
    "DEFAULT_REVISION",
    "DEFAULT_VARIANTS",
    "is_cached",
    "repo_folder",
    "seed_hf_cache",
]
