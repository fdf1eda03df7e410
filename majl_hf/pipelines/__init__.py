"""Pipelines. Importing this module registers the ``majl-vocal`` task with transformers."""

from transformers import AutoModel
from transformers.pipelines import PIPELINE_REGISTRY

from ..hub.defaults import DEFAULT_MODEL, DEFAULT_REVISION
from .majl_vocal import MajlVocalPipeline

TASK = "majl-vocal"


def register_pipelines() -> None:
    PIPELINE_REGISTRY.register_pipeline(
        TASK,
        pipeline_class=MajlVocalPipeline,
        pt_model=AutoModel,
        default={"model": (DEFAULT_MODEL, DEFAULT_REVISION)},
        type="audio",
    )


if TASK not in PIPELINE_REGISTRY.supported_tasks:
    register_pipelines()

__all__ = ["TASK", "MajlVocalPipeline", "register_pipelines"]
