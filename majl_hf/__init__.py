"""majl_hf: joint singing-voice separation and vocal pitch estimation (MAJL), Hugging Face style.

``import majl_hf`` is light: names are imported on first use (PEP 562), and the model types and the
``majl-vocal`` task are registered with transformers when transformers' auto classes or pipelines
are first imported (:mod:`majl_hf._registration`). So ``import majl_hf.pitch`` loads neither the
backbones nor ``transformers.pipelines``, and these three lines work::

    import majl_hf
    from transformers import pipeline
    result = pipeline("majl-vocal")("song.mp3")
"""

from ._lazy import attach
from ._registration import install as _install
from .defaults import DEFAULT_MODEL, DEFAULT_MODEL_TINY
from .version import __version__

__getattr__, __dir__, _names = attach(
    __name__,
    {
        "configuration_majl": ["JOINT_METHODS", "MajlConfig"],
        "modeling_majl": ["MajlModel", "MajlOutput"],
        "dwhs": ["DynamicWeightModule", "assign_cases", "dwhs_loss"],
        "models": [
            "CrepeConfig", "CrepeModel", "FcpeConfig", "FcpeModel", "HarmoF0Config", "HarmoF0Model",
            "PitchEstimatorOutput", "SwiftF0Config", "SwiftF0Model",
            "ResUNetDecoupleConfig", "ResUNetDecoupleModel", "SeparatorOutput", "UNetSeparatorConfig",
            "UNetSeparatorModel",
        ],
        "pipelines": ["MajlVocalPipeline"],
        "audio": ["ClippingWarning", "PartialAudioWarning", "read_audio", "save_result", "write_audio"],
    },
)
__all__ = ["DEFAULT_MODEL", "DEFAULT_MODEL_TINY", "__version__", *_names]

_install()
