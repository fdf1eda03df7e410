from .configuration_resunet_decouple import ResUNetDecoupleConfig
from .modeling_resunet_decouple import ResUNetDecoupleModel

__all__ = ["ResUNetDecoupleConfig", "ResUNetDecoupleModel"]
