from .configuration_harmof0 import HarmoF0Config
from .modeling_harmof0 import HarmoF0Model

__all__ = ["HarmoF0Config", "HarmoF0Model"]
