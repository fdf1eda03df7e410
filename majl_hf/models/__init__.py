"""The backbones. One table says which exist; nothing here imports a backbone until it is used.

``BACKBONES[model_type] = (role, subpackage, config class, model class)``; a new backbone is one folder
under ``majl_hf/models/`` and one row here. :mod:`majl_hf._registration` registers every row with
``AutoConfig`` / ``AutoModel`` when transformers' auto classes are first imported.
"""

from __future__ import annotations

import importlib

from .._lazy import attach

BACKBONES: dict[str, tuple[str, str, str, str]] = {
    "unet": ("separator", "unet", "UNetSeparatorConfig", "UNetSeparatorModel"),
    "resunet_decouple": ("separator", "resunet_decouple", "ResUNetDecoupleConfig", "ResUNetDecoupleModel"),
    "crepe": ("pitch", "crepe", "CrepeConfig", "CrepeModel"),
    "harmof0": ("pitch", "harmof0", "HarmoF0Config", "HarmoF0Model"),
    "fcpe": ("pitch", "fcpe", "FcpeConfig", "FcpeModel"),
    "swiftf0": ("pitch", "swiftf0", "SwiftF0Config", "SwiftF0Model"),
}
SEPARATORS = tuple(k for k, v in BACKBONES.items() if v[0] == "separator")
PITCH_ESTIMATORS = tuple(k for k, v in BACKBONES.items() if v[0] == "pitch")


def config_class(model_type: str):
    """The config class of a registered backbone (imports only its configuration module)."""
    _, sub, cfg, _ = BACKBONES[model_type]
    return getattr(importlib.import_module(f"{__name__}.{sub}.configuration_{sub}"), cfg)


def model_class(model_type: str):
    """The model class of a registered backbone."""
    _, sub, _, model = BACKBONES[model_type]
    return getattr(importlib.import_module(f"{__name__}.{sub}.modeling_{sub}"), model)


_exports = {f"{sub}.configuration_{sub}": [cfg] for _, sub, cfg, _ in BACKBONES.values()}
_exports.update({f"{sub}.modeling_{sub}": [model] for _, sub, _, model in BACKBONES.values()})
_exports["outputs"] = ["PitchEstimatorOutput", "SeparatorOutput"]
_exports["common"] = ["PitchEstimatorPreTrainedModel", "SeparatorPreTrainedModel"]
__getattr__, __dir__, _names = attach(__name__, _exports)
__all__ = ["BACKBONES", "PITCH_ESTIMATORS", "SEPARATORS", "config_class", "model_class", *_names]
