"""The backbones. Importing this package registers every backbone with AutoConfig / AutoModel."""

from transformers import AutoConfig, AutoModel

from .crepe import CrepeConfig, CrepeModel
from .harmof0 import HarmoF0Config, HarmoF0Model
from .outputs import PitchEstimatorOutput, SeparatorOutput
from .resunet_decouple import ResUNetDecoupleConfig, ResUNetDecoupleModel
from .unet import UNetSeparatorConfig, UNetSeparatorModel

SEPARATORS = {"unet": (UNetSeparatorConfig, UNetSeparatorModel), "resunet_decouple": (ResUNetDecoupleConfig, ResUNetDecoupleModel)}
PITCH_ESTIMATORS = {"crepe": (CrepeConfig, CrepeModel), "harmof0": (HarmoF0Config, HarmoF0Model)}

for _model_type, (_config_cls, _model_cls) in {**SEPARATORS, **PITCH_ESTIMATORS}.items():
    AutoConfig.register(_model_type, _config_cls, exist_ok=True)
    AutoModel.register(_config_cls, _model_cls, exist_ok=True)

__all__ = [
    "PITCH_ESTIMATORS",
    "SEPARATORS",
    "CrepeConfig",
    "CrepeModel",
    "HarmoF0Config",
    "HarmoF0Model",
    "PitchEstimatorOutput",
    "ResUNetDecoupleConfig",
    "ResUNetDecoupleModel",
    "SeparatorOutput",
    "UNetSeparatorConfig",
    "UNetSeparatorModel",
]
