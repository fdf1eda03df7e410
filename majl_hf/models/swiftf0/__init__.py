from ..._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__, {"configuration_swiftf0": ["SwiftF0Config"], "modeling_swiftf0": ["SwiftF0Model"]}
)
