"""Hub I/O: default model names, local HF cache seeding and checks, model cards, publishing."""

from .cache import (
    CheckedDefault,
    ModelNotCachedError,
    build_command,
    is_cached,
    repo_folder,
    require_cached,
    seed_hf_cache,
)
from .defaults import (
    BUILD_COMMAND,
    DEFAULT_MODEL,
    DEFAULT_MODEL_TINY,
    DEFAULT_REVISION,
    DEFAULT_VARIANTS,
    PRETRAINED_MODELS,
)

__all__ = [
    "BUILD_COMMAND",
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_TINY",
    "DEFAULT_REVISION",
    "DEFAULT_VARIANTS",
    "PRETRAINED_MODELS",
    "CheckedDefault",
    "ModelNotCachedError",
    "build_command",
    "is_cached",
    "repo_folder",
    "require_cached",
    "seed_hf_cache",
]
