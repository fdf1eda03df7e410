"""Every backbone's model class, imported by name and registered with ``AutoModel`` (imported by
:mod:`majl_hf.modeling_majl`; static imports, see :mod:`.auto_configs`)."""

from transformers import AutoModel

from .auto_configs import CONFIGS
from .crepe.modeling_crepe import CrepeModel
from .fcpe.modeling_fcpe import FcpeModel
from .harmof0.modeling_harmof0 import HarmoF0Model
from .resunet_decouple.modeling_resunet_decouple import ResUNetDecoupleModel
from .swiftf0.modeling_swiftf0 import SwiftF0Model
from .unet.modeling_unet import UNetSeparatorModel

MODELS = {
    "unet": UNetSeparatorModel,
    "resunet_decouple": ResUNetDecoupleModel,
    "crepe": CrepeModel,
    "harmof0": HarmoF0Model,
    "fcpe": FcpeModel,
    "swiftf0": SwiftF0Model,
}

for _model_type, _model_class in MODELS.items():
    AutoModel.register(CONFIGS[_model_type], _model_class, exist_ok=True)
