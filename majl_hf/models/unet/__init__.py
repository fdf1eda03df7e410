from .configuration_unet import UNetSeparatorConfig
from .modeling_unet import UNetSeparatorModel

__all__ = ["UNetSeparatorConfig", "UNetSeparatorModel"]
