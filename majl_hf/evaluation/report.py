"""Reports: per-track metric rows → summary rows, a metrics JSON dict, a per-track CSV, a Table-2 markdown.

A *row* is a plain dict for one track (clip) of one method on one dataset, e.g.::

    {"method": "MAJL", "extra": "Both", "dataset": "MIR-1K", "track": "amy_3_01",
     "sdr": 12.1, "nsdr": 9.3, "n_samples": 128000,                      # separation.py scores
     "rpa": 0.93, "rca": 0.94, "oa": 0.88, "vr": 0.95, "vfa": 0.08,      # pitch.py scores
     "n_frames": 400, "n_ref_voiced": 310, "n_ref_unvoiced": 90}

Only ``method`` is required; any metric may be missing or ``None`` (e.g. a silent-vocals clip has no
``sdr``). :func:`summarize` aggregates each metric with the weighting the field uses: SDR and NSDR
length-weighted by ``n_samples`` (GSDR, GNSDR: Hsu & Jang), pitch metrics frame-weighted by the frame
count each is a fraction of. Pitch metrics stay fractions in [0, 1] in rows, summaries and JSON; the
markdown table prints them in percent, as the MAJL paper does.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Iterable, Mapping, Sequence

import numpy as np

from .pitch import METRIC_WEIGHTS as _PITCH_WEIGHTS

# metric → the row field that weights it in a summary (a missing field means weight 1)
WEIGHT_KEYS = {"sdr": "n_samples", "nsdr": "n_samples", **_PITCH_WEIGHTS}
# summary name of an aggregated metric (the mean of per-clip NSDR is GNSDR)
SUMMARY_NAMES = {"nsdr": "gnsdr"}
GROUP_KEYS = ("method", "extra", "dataset")
PERCENT_METRICS = ("rpa", "rca", "oa", "vr", "vfa")
TABLE2_METRICS = ("sdr", "gnsdr", "rpa", "rca")
_LABELS = {
    "sdr": "SDR",
    "gnsdr": "GNSDR",
    "nsdr": "NSDR",
    "rpa": "RPA",
    "rca": "RCA",
    "oa": "OA",
    "vr": "VR",
    "vfa": "VFA",
    "sir": "SIR",
    "sar": "SAR",
    "isr": "ISR",
}
MISSING = "---"  # how the paper's Table 2 prints an absent value


def to_jsonable(value):
    """``value`` with numpy scalars/arrays turned into Python ones and NaN/±inf into ``None``."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return to_jsonable(value.to_dict())
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v))


def _metric_keys(rows: Sequence[Mapping]) -> list[str]:
    keys: list[str] = []
    for row in rows:
        for k, v in row.items():
            numeric = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            if k in WEIGHT_KEYS and k not in keys and (v is None or numeric):
                keys.append(k)
    return keys


def summarize(rows: Iterable[Mapping], group_by: Sequence[str] = GROUP_KEYS) -> list[dict]:
    """Aggregate per-track rows into one summary row per group (``method``, ``extra``, ``dataset``).

    Returns rows like ``{"method", "extra", "dataset", "n_tracks", "sdr", "gnsdr", "rpa", …,
    "skipped": {summary metric: number of tracks without a value}, "uniform_weights": [summary
    metrics some row lacked the weight field for, averaged with weight 1]}``.
    ``sdr`` is the length-weighted mean SDR, ``gnsdr`` the length-weighted mean NSDR, the pitch
    metrics frame-weighted means. Rows whose value is ``None``/NaN are skipped and counted.
    """
    rows = [dict(r) for r in rows]
    for i, row in enumerate(rows):
        if "method" not in row:
            raise ValueError(f"row {i} has no 'method': {sorted(row)}")
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = tuple(row.get(g) for g in group_by)
        groups.setdefault(key, []).append(row)
    out = []
    for key, members in groups.items():
        summary = {g: v for g, v in zip(group_by, key) if v is not None or g == "method"}
        summary["n_tracks"] = len(members)
        skipped: dict[str, int] = {}
        uniform: list[str] = []
        for metric in _metric_keys(members):
            weight_key = WEIGHT_KEYS[metric]
            name = SUMMARY_NAMES.get(metric, metric)
            num = den = 0.0
            for row in members:
                value = row.get(metric)
                if not _is_number(value):
                    skipped[name] = skipped.get(name, 0) + 1
                    continue
                if weight_key in row and row[weight_key] is not None:
                    w = float(row[weight_key])
                else:
                    w = 1.0
                    if name not in uniform:
                        uniform.append(name)
                num += w * float(value)
                den += w
            summary[name] = num / den if den > 0 else None
        summary["skipped"] = skipped
        if uniform:
            summary["uniform_weights"] = uniform
        out.append(summary)
    return out


def metrics_dict(rows: Iterable[Mapping], group_by: Sequence[str] = GROUP_KEYS) -> dict:
    """A JSON-friendly metrics dict: ``{"summary": summarize(rows), "per_track": rows}``.

    NaN/±inf become ``None`` and numpy values become Python numbers, so ``json.dumps`` works as is.
    """
    rows = [dict(r) for r in rows]
    return to_jsonable({"summary": summarize(rows, group_by), "per_track": rows})


def _columns(rows: Sequence[Mapping]) -> list[str]:
    first = [c for c in ("method", "extra", "dataset", "track") if any(c in r for r in rows)]
    rest: list[str] = []
    for row in rows:
        for k in row:
            if k not in first and k not in rest:
                rest.append(k)
    return first + rest


def per_track_csv(rows: Iterable[Mapping], columns: Sequence[str] | None = None) -> str:
    """The per-track rows as CSV text (header + one line per row; ``None``/NaN → empty cell).

    ``columns`` defaults to method, extra, dataset, track (those present), then every other key in
    first-seen order. Nested values (dicts, lists) are written as JSON.
    """
    rows = [to_jsonable(dict(r)) for r in rows]
    columns = list(columns) if columns is not None else _columns(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c)
            if v is None:
                cells.append("")
            elif isinstance(v, (dict, list)):
                cells.append(json.dumps(v, sort_keys=True))
            else:
                cells.append(repr(v) if isinstance(v, float) else str(v))
        writer.writerow(cells)
    return buf.getvalue()


def write_per_track_csv(rows: Iterable[Mapping], path, columns: Sequence[str] | None = None) -> str:
    """Write :func:`per_track_csv` to ``path`` (parent folders created); returns the path."""
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(per_track_csv(rows, columns))
    return path


def table2_markdown(
    summary_rows: Iterable[Mapping],
    metrics: Sequence[str] = TABLE2_METRICS,
    datasets: Sequence[str] | None = None,
    *,
    digits: int = 2,
    bold_best: bool = True,
) -> str:
    """A markdown table laid out like the MAJL paper's Table 2.

    Columns: ``Method``, ``Extra`` (only if some row has ``extra``), then for each dataset the
    ``metrics`` (default SDR, GNSDR, RPA (%), RCA (%)), headed ``"<dataset> SDR"`` when there are
    several datasets. Rows come from :func:`summarize` (or any dicts with ``method`` and metric
    keys; ``nsdr`` is read as ``gnsdr``). Pitch metrics are printed in percent; an absent value is
    printed ``---`` as in the paper; with ``bold_best`` the best value of each column is bold
    (highest, except ``vfa`` where lowest is best).

    Raises:
        ValueError: two rows for the same (method, extra, dataset), an empty input, or an unknown
            metric name.
    """
    rows = [dict(r) for r in summary_rows]
    if not rows:
        raise ValueError("no rows to tabulate")
    for m in metrics:
        if m not in _LABELS:
            raise ValueError(f"unknown metric {m!r}; choose from {sorted(_LABELS)}")
    for r in rows:
        if "gnsdr" not in r and "nsdr" in r:
            r["gnsdr"] = r["nsdr"]
    if datasets is None:
        datasets = []
        for r in rows:
            if r.get("dataset") not in datasets:
                datasets.append(r.get("dataset"))
    has_extra = any(r.get("extra") not in (None, "") for r in rows)
    # one table line per (method, extra) in first-seen order; cells from each dataset's row
    lines: dict[tuple, dict] = {}
    for r in rows:
        line_key = (r.get("method"), r.get("extra") if has_extra else None)
        cell_key = r.get("dataset")
        line = lines.setdefault(line_key, {})
        if cell_key in line:
            raise ValueError(f"two rows for method={line_key[0]!r}, extra={line_key[1]!r}, dataset={cell_key!r}")
        line[cell_key] = r
    columns = [(d, m) for d in datasets for m in metrics]
    several = len(datasets) > 1 or (len(datasets) == 1 and datasets[0] is not None)

    def label(d, m):
        text = _LABELS[m] + (" (%)" if m in PERCENT_METRICS else "")
        return f"{d} {text}" if several and d is not None else text

    def value(line, d, m):
        r = line.get(d)
        v = None if r is None else r.get(m)
        if not _is_number(v):
            return None
        return float(v) * (100.0 if m in PERCENT_METRICS else 1.0)

    values = {k: [value(line, d, m) for d, m in columns] for k, line in lines.items()}
    best = []
    for j, (_, m) in enumerate(columns):
        col = [round(v[j], digits) for v in values.values() if v[j] is not None]
        best.append((min(col) if m == "vfa" else max(col)) if col and bold_best else None)
    header = ["Method"] + (["Extra"] if has_extra else []) + [label(d, m) for d, m in columns]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * (1 + has_extra) + ["---:"] * len(columns)) + "|"]
    for (method, extra), vals in values.items():
        cells = [str(method)] + ([MISSING if extra in (None, "") else str(extra)] if has_extra else [])
        for j, v in enumerate(vals):
            if v is None:
                cells.append(MISSING)
                continue
            text = f"{v:.{digits}f}"
            cells.append(
                f"**{text}**" if best[j] is not None and round(v, digits) == best[j] and len(values) > 1 else text
            )
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
