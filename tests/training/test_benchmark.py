"""scripts/benchmark_training.py: naive vs DWHS training throughput side by side from one run."""

import runpy
import sys

from majl_hf.training.benchmark import benchmark_training, format_benchmark

from .conftest import SCRIPTS


def test_benchmark_reports_both_methods():
    result = benchmark_training("tiny", batch_size=2, segment_s=0.5, steps_per_round=1, rounds=2, warmup_steps=1)
    assert set(result["methods"]) == {"naive", "dwhs"}
    assert all(v["samples_per_s"] > 0 and len(v["round_samples_per_s"]) == 2 for v in result["methods"].values())
    assert result["dwhs_overhead"] > -0.5
    # the DWM is the only extra parameter set
    params = result["setting"]["parameters"]
    assert params["dwhs"] > params["naive"]
    text = format_benchmark(result)
    assert "naive" in text and "dwhs" in text and "DWHS costs" in text


def test_script_prints_the_table(capsys, monkeypatch):
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "benchmark_training.py",
            "--batch-size",
            "2",
            "--segment-s",
            "0.5",
            "--steps",
            "1",
            "--rounds",
            "1",
            "--warmup",
            "0",
            "--threads",
            "1",
        ],
    )
    try:
        runpy.run_path(str(SCRIPTS / "benchmark_training.py"), run_name="__main__")
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    assert "samples/s" in out and "DWHS costs" in out
