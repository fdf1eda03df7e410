"""Reports: summaries, metrics JSON, per-track CSV and the Table-2 markdown."""

import csv
import io
import json
import math

import numpy as np
import pytest

from majl_hf.evaluation import (
    SdrScore,
    metrics_dict,
    per_track_csv,
    summarize,
    table2_markdown,
    to_jsonable,
    write_per_track_csv,
)

ROWS = [
    {
        "method": "MAJL",
        "dataset": "MIR-1K",
        "track": "a",
        "sdr": 10.0,
        "nsdr": 6.0,
        "n_samples": 1000,
        "rpa": 0.9,
        "rca": 0.95,
        "oa": 0.8,
        "n_ref_voiced": 100,
        "n_frames": 150,
    },
    {
        "method": "MAJL",
        "dataset": "MIR-1K",
        "track": "b",
        "sdr": 14.0,
        "nsdr": 10.0,
        "n_samples": 3000,
        "rpa": 0.5,
        "rca": 0.6,
        "oa": 0.7,
        "n_ref_voiced": 300,
        "n_frames": 350,
    },
    {
        "method": "MAJL",
        "dataset": "MIR-1K",
        "track": "silent",
        "sdr": None,
        "nsdr": None,
        "n_samples": 500,
        "rpa": None,
        "rca": None,
        "oa": 1.0,
        "n_ref_voiced": 0,
        "n_frames": 100,
        "status": "silent_reference",
    },
    {
        "method": "U-Net",
        "dataset": "MIR-1K",
        "track": "a",
        "sdr": np.float64(8.0),
        "nsdr": float("nan"),
        "n_samples": 1000,
        "rpa": 0.7,
        "rca": 0.75,
    },
]


def test_summarize_weights_each_metric_by_its_own_count():
    summary = {s["method"]: s for s in summarize(ROWS)}
    majl = summary["MAJL"]
    assert majl["dataset"] == "MIR-1K" and majl["n_tracks"] == 3
    assert majl["sdr"] == pytest.approx((10 * 1000 + 14 * 3000) / 4000)
    assert majl["gnsdr"] == pytest.approx((6 * 1000 + 10 * 3000) / 4000)
    assert majl["rpa"] == pytest.approx((0.9 * 100 + 0.5 * 300) / 400)
    assert majl["oa"] == pytest.approx((0.8 * 150 + 0.7 * 350 + 1.0 * 100) / 600)
    assert majl["skipped"] == {"sdr": 1, "gnsdr": 1, "rpa": 1, "rca": 1}
    unet = summary["U-Net"]
    assert unet["gnsdr"] is None and unet["skipped"] == {"gnsdr": 1}
    assert unet["uniform_weights"] == ["rpa", "rca"]  # no n_ref_voiced column: plain mean, and said so
    with pytest.raises(ValueError, match="no 'method'"):
        summarize([{"sdr": 1.0}])


def test_metrics_dict_is_json_friendly():
    out = metrics_dict(ROWS + [{"method": "X", "sdr": math.inf, "score": SdrScore(1.0)}])
    text = json.dumps(out, allow_nan=False)
    back = json.loads(text)
    assert back["per_track"][3]["nsdr"] is None and back["per_track"][3]["sdr"] == 8.0
    assert back["per_track"][4]["score"]["status"] == "ok"
    assert {s["method"] for s in back["summary"]} == {"MAJL", "U-Net", "X"}
    assert to_jsonable(np.arange(3)) == [0, 1, 2]


def test_per_track_csv_round_trip(tmp_path):
    text = per_track_csv(ROWS)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[:3] == ["method", "dataset", "track"]
    assert rows[2]["sdr"] == "" and rows[2]["status"] == "silent_reference"
    assert float(rows[1]["sdr"]) == 14.0 and rows[3]["nsdr"] == ""
    path = write_per_track_csv(ROWS, tmp_path / "out" / "per_track.csv", columns=["track", "sdr"])
    assert open(path).read().splitlines() == ["track,sdr", "a,10.0", "b,14.0", "silent,", "a,8.0"]


def test_table2_markdown_reproduces_the_paper_layout():
    # two rows of the MAJL paper's Table 2, given as summary rows (pitch metrics as fractions)
    rows = [
        {
            "method": "U-Net",
            "extra": "✗",
            "dataset": "MIR-1K",
            "sdr": 11.43,
            "gnsdr": 8.48,
            "rpa": 0.8928,
            "rca": 0.9041,
        },
        {
            "method": "U-Net",
            "extra": "✗",
            "dataset": "MedleyDB",
            "sdr": 5.06,
            "gnsdr": 8.75,
            "rpa": 0.7265,
            "rca": 0.7498,
        },
        {
            "method": "MAJL",
            "extra": "Both",
            "dataset": "MIR-1K",
            "sdr": 12.98,
            "gnsdr": 9.99,
            "rpa": 0.9411,
            "rca": 0.9438,
        },
        {
            "method": "MAJL",
            "extra": "Both",
            "dataset": "MedleyDB",
            "sdr": 7.18,
            "gnsdr": 12.14,
            "rpa": 0.7838,
            "rca": 0.8321,
        },
        {"method": "CNN-Raw", "extra": "✗", "dataset": "MIR-1K", "sdr": None, "rpa": 0.817, "rca": 0.909},
    ]
    lines = table2_markdown(rows, bold_best=False).splitlines()
    assert lines[0] == (
        "| Method | Extra | MIR-1K SDR | MIR-1K GNSDR | MIR-1K RPA (%) | MIR-1K RCA (%) "
        "| MedleyDB SDR | MedleyDB GNSDR | MedleyDB RPA (%) | MedleyDB RCA (%) |"
    )
    assert lines[1] == "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    assert lines[2] == "| U-Net | ✗ | 11.43 | 8.48 | 89.28 | 90.41 | 5.06 | 8.75 | 72.65 | 74.98 |"
    assert lines[3] == "| MAJL | Both | 12.98 | 9.99 | 94.11 | 94.38 | 7.18 | 12.14 | 78.38 | 83.21 |"
    assert lines[4] == "| CNN-Raw | ✗ | --- | --- | 81.70 | 90.90 | --- | --- | --- | --- |"
    bold = table2_markdown(rows).splitlines()
    assert (
        bold[3]
        == "| MAJL | Both | **12.98** | **9.99** | **94.11** | **94.38** | **7.18** | **12.14** | **78.38** | **83.21** |"  # noqa: E501
    )


def test_table2_markdown_single_dataset_and_errors():
    text = table2_markdown(summarize(ROWS), metrics=("sdr", "gnsdr", "rpa", "rca", "oa"))
    lines = text.splitlines()
    assert lines[0] == "| Method | MIR-1K SDR | MIR-1K GNSDR | MIR-1K RPA (%) | MIR-1K RCA (%) | MIR-1K OA (%) |"
    plain = table2_markdown([{"method": "A", "sdr": 1.234, "rpa": 0.5}, {"method": "B", "sdr": 2.0}])
    assert plain.splitlines()[0] == "| Method | SDR | GNSDR | RPA (%) | RCA (%) |"
    assert plain.splitlines()[2] == "| A | 1.23 | --- | **50.00** | --- |"
    assert plain.splitlines()[3] == "| B | **2.00** | --- | --- | --- |"
    with pytest.raises(ValueError, match="two rows"):
        table2_markdown([{"method": "A", "sdr": 1.0}, {"method": "A", "sdr": 2.0}])
    with pytest.raises(ValueError, match="unknown metric"):
        table2_markdown([{"method": "A"}], metrics=("pesq",))
    with pytest.raises(ValueError, match="no rows"):
        table2_markdown([])
