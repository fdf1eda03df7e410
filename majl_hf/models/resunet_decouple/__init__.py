from ..._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "configuration_resunet_decouple": ["PRESETS", "ResUNetDecoupleConfig"],
        "modeling_resunet_decouple": ["ResUNetDecoupleModel"],
    },
)
