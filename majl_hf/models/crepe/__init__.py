from .configuration_crepe import CrepeConfig
from .modeling_crepe import CrepeModel

__all__ = ["CrepeConfig", "CrepeModel"]
