"""Pipelines. ``register_pipelines()`` adds the ``majl-vocal`` task to transformers; majl_hf calls it
when ``transformers.pipelines`` is imported (see :mod:`majl_hf._registration`)."""

from ..defaults import DEFAULT_MODEL, DEFAULT_REVISION
from .majl_vocal import MajlVocalPipeline

TASK = "majl-vocal"


class _QuietDocumentedDefault:
    """Drops transformers' "No model was supplied, defaulted to <our default> … not recommended in
    production" for the majl-vocal task: its default is the documented, locally built model (checked
    by CheckedDefault), so the line is noise on every run; other tasks' warnings pass."""

    def filter(self, record) -> bool:
        return not str(record.getMessage()).startswith(f"No model was supplied, defaulted to {DEFAULT_MODEL} ")


def register_pipelines() -> None:
    from transformers import AutoModel
    from transformers.pipelines import PIPELINE_REGISTRY

    from ..hub.cache import CheckedDefault  # the default, checked to be built: else the build command

    if TASK in PIPELINE_REGISTRY.supported_tasks:
        return
    import logging

    logging.getLogger("transformers.pipelines").addFilter(_QuietDocumentedDefault())
    PIPELINE_REGISTRY.register_pipeline(
        TASK,
        pipeline_class=MajlVocalPipeline,
        pt_model=AutoModel,
        default={"model": CheckedDefault(DEFAULT_MODEL, DEFAULT_REVISION)},
        type="audio",
    )


register_pipelines()

__all__ = ["TASK", "MajlVocalPipeline", "register_pipelines"]
