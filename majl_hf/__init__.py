"""majl_hf: joint singing-voice separation and vocal pitch estimation (MAJL), Hugging Face style.

Importing the package registers the four backbones and ``majl`` with ``AutoConfig`` / ``AutoModel``.
"""

from transformers import AutoConfig, AutoModel

from .configuration_majl import JOINT_METHODS, MajlConfig
from .hub.defaults import DEFAULT_MODEL, DEFAULT_MODEL_TINY
from .dwhs import DynamicWeightModule, assign_cases, dwhs_loss
from .modeling_majl import MajlModel, MajlOutput
from .models import (
    CrepeConfig,
    CrepeModel,
    HarmoF0Config,
    HarmoF0Model,
    PitchEstimatorOutput,
    ResUNetDecoupleConfig,
    ResUNetDecoupleModel,
    SeparatorOutput,
    UNetSeparatorConfig,
    UNetSeparatorModel,
)

__version__ = "0.1.0"

AutoConfig.register("majl", MajlConfig, exist_ok=True)
AutoModel.register(MajlConfig, MajlModel, exist_ok=True)

from .pipelines import MajlVocalPipeline  # noqa: E402  (registers the "majl-vocal" task)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_TINY",
    "JOINT_METHODS",
    "CrepeConfig",
    "CrepeModel",
    "DynamicWeightModule",
    "HarmoF0Config",
    "HarmoF0Model",
    "MajlConfig",
    "MajlModel",
    "MajlOutput",
    "MajlVocalPipeline",
    "PitchEstimatorOutput",
    "ResUNetDecoupleConfig",
    "ResUNetDecoupleModel",
    "SeparatorOutput",
    "UNetSeparatorConfig",
    "UNetSeparatorModel",
    "assign_cases",
    "dwhs_loss",
]
