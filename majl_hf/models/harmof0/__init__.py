from ..._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {"configuration_harmof0": ["HarmoF0Config", "TINY_HARMOF0"], "modeling_harmof0": ["HarmoF0Model"]},
)
