"""Every backbone's config class, imported by name and registered with ``AutoConfig``.

Imported by :mod:`majl_hf.configuration_majl` (so that sub-configs resolve by ``model_type``) with
static imports, which the flat remote-code copy (:mod:`majl_hf.hub.remote_code`) can follow. It
lists the rows of :data:`majl_hf.models.BACKBONES` (a test keeps the two equal).
"""

from transformers import AutoConfig

from .crepe.configuration_crepe import CrepeConfig
from .fcpe.configuration_fcpe import FcpeConfig
from .harmof0.configuration_harmof0 import HarmoF0Config
from .resunet_decouple.configuration_resunet_decouple import ResUNetDecoupleConfig
from .swiftf0.configuration_swiftf0 import SwiftF0Config
from .unet.configuration_unet import UNetSeparatorConfig

CONFIGS = {
    "unet": UNetSeparatorConfig,
    "resunet_decouple": ResUNetDecoupleConfig,
    "crepe": CrepeConfig,
    "harmof0": HarmoF0Config,
    "fcpe": FcpeConfig,
    "swiftf0": SwiftF0Config,
}

for _model_type, _config_class in CONFIGS.items():
    AutoConfig.register(_model_type, _config_class, exist_ok=True)
