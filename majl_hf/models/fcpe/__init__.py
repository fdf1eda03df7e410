from ..._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__, {"configuration_fcpe": ["FcpeConfig"], "modeling_fcpe": ["FcpeModel"]}
)
