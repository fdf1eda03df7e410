"""Evaluation for MAJL: separation metrics (SDR, NSDR, GNSDR, museval SDR), pitch metrics (RPA, RCA,
OA, VR, VFA) and report tables.

Numbers come from the maintained reference implementations: ``mir_eval.separation`` (BSS Eval v3),
``museval`` (BSS Eval v4, SiSEC/MUSDB18 convention) and ``mir_eval.melody``. They are optional
dependencies, imported only when a metric runs; install them with ``pip install 'majl_hf[eval]'``.

The `evaluate` wrapper is a local metric module::

    import evaluate
    from majl_hf.evaluation import metric_module_path
    metric = evaluate.load(metric_module_path())
"""

from pathlib import Path

from .pitch import (
    CENT_TOLERANCE,
    GRID_S,
    METRIC_KEYS,
    aggregate_melody_metrics,
    densify_voiced_frames,
    melody_metrics,
)
from .report import metrics_dict, per_track_csv, summarize, table2_markdown, to_jsonable, write_per_track_csv
from .separation import (
    SILENT_RMS,
    MusevalScore,
    NsdrScore,
    SdrScore,
    bss_eval_sdr,
    energy_ratio_sdr,
    gnsdr,
    gsdr,
    is_silent,
    museval_median_sdr,
    museval_sdr,
    nsdr,
)


def metric_module_path() -> str:
    """Path of the `evaluate` metric module file, for ``evaluate.load(metric_module_path())``."""
    return str(Path(__file__).resolve().parent / "metric_majl" / "majl_metric.py")


__all__ = [
    # separation
    "SILENT_RMS",
    "SdrScore",
    "NsdrScore",
    "MusevalScore",
    "bss_eval_sdr",
    "energy_ratio_sdr",
    "nsdr",
    "gnsdr",
    "gsdr",
    "museval_sdr",
    "museval_median_sdr",
    "is_silent",
    # pitch
    "GRID_S",
    "CENT_TOLERANCE",
    "METRIC_KEYS",
    "melody_metrics",
    "aggregate_melody_metrics",
    "densify_voiced_frames",
    # reports
    "summarize",
    "metrics_dict",
    "per_track_csv",
    "write_per_track_csv",
    "table2_markdown",
    "to_jsonable",
    # evaluate module
    "metric_module_path",
]
