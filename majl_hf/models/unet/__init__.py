from ..._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__, {"configuration_unet": ["UNetSeparatorConfig"], "modeling_unet": ["UNetSeparatorModel"]}
)
