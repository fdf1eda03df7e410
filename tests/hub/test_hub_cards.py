"""Model cards generated from the metrics JSON, the config, the training config and the corpora's
licence facts: every number comes from the metrics, and the metadata round-trips."""

import copy
import re

import pytest
from huggingface_hub import ModelCard

from majl_hf.evaluation.runner import PITCH_METRICS, SEPARATION_METRICS
from majl_hf.hub.cards import (
    METRIC_NAMES,
    build_model_card,
    corpus_licences,
    eval_results_from_metrics,
    format_metric,
    results_markdown,
)


@pytest.fixture(scope="module")
def two_runs(tiny_metrics):
    """The tiny model's real MIR-1K-layout run, and a MUSDB18-like run derived from it (separation
    metrics only, with a museval number) to cover both kinds of corpus."""
    mir1k = tiny_metrics[0]
    musdb = copy.deepcopy(mir1k)
    musdb["dataset"].update(corpus="musdb18", name="MUSDB18", split="test")
    musdb["summary"].update({k: None for k in PITCH_METRICS}, museval_sdr=-3.14159, n_with_f0=0)
    for row in musdb["table2"]:
        row.update(dataset="MUSDB18", rpa=None, rca=None)
    return [mir1k, musdb]


TRAINING = {
    "output_dir": "outputs/majl", "init_from": "majl-hf/majl-unet-crepe-full", "num_epochs": 3, "batch_size": 4,
    "learning_rate": 0.001, "seed": 0, "config_overrides": {"joint_method": "dwhs"},
    "train_data": [{"corpus": "mir1k", "root": "/data/MIR-1K", "split": "train"},
                   {"corpus": "musdb18", "root": "/data/MUSDB18-HQ", "split": "train"}],
    "eval_data": [{"corpus": "mir1k", "root": "/data/MIR-1K", "split": "test"}],
}


def card_for(runs, tiny_model_dir, **kwargs):
    return build_model_card(repo_id="someorg/tiny-majl", config=tiny_model_dir, metrics=runs, **kwargs)


def test_eval_results_round_trip(two_runs, tiny_model_dir, tmp_path):
    card = card_for(two_runs, tiny_model_dir, training_config=TRAINING, license="cc-by-nc-sa-4.0")
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    expected = eval_results_from_metrics(two_runs)
    assert loaded.data.eval_results == expected
    # one result per defined metric, with the JSON's exact value; undefined metrics are left out
    for run in two_runs:
        got = {r.metric_type: r.metric_value for r in expected if r.dataset_type == run["dataset"]["corpus"]}
        want = {k: run["summary"][k] for k in SEPARATION_METRICS + PITCH_METRICS if run["summary"][k] is not None}
        assert got == want
    assert loaded.data.base_model == "majl-hf/majl-unet-crepe-full"  # from the training config
    assert loaded.data.license == "cc-by-nc-sa-4.0"


def table_rows(markdown: str, heading: str) -> dict:
    """``{metric name: value cell}`` of the per-run table under ``heading``."""
    section = markdown.split(heading, 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 5 and cells[0] not in ("metric", "---"):
            rows[cells[0]] = cells[1]
    return rows


def test_numbers_in_the_card_are_the_metrics(two_runs, tiny_model_dir):
    text = card_for(two_runs, tiny_model_dir).text
    for run in two_runs:
        rows = table_rows(text, f"### {run['dataset']['name']} — split `{run['dataset']['split']}`")
        want = {METRIC_NAMES[k]: format_metric(k, run["summary"][k]) for k in SEPARATION_METRICS + PITCH_METRICS
                if run["summary"][k] is not None}
        assert rows == want
    assert "-3.14" in text  # the MUSDB18 museval number
    # the Table-2 layout: one line per method, a column group per dataset, "---" where undefined
    header = "| Method | MIR-1K SDR | MIR-1K GNSDR | MIR-1K RPA (%) | MIR-1K RCA (%) | MUSDB18 SDR | MUSDB18 GNSDR |"
    assert header in text
    line = next(ln for ln in text.splitlines() if ln.startswith("| Tiny MAJL |"))
    summary = two_runs[0]["summary"]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1:5] == [format_metric("sdr", summary["sdr"]), format_metric("gnsdr", summary["gnsdr"]),
                          format_metric("rpa", summary["rpa"]), format_metric("rca", summary["rca"])]
    assert cells[7:9] == ["---", "---"]


def test_training_and_licences_come_from_the_files(two_runs, tiny_model_dir):
    text = card_for(two_runs, tiny_model_dir, training_config=TRAINING).text
    licences = corpus_licences()
    assert licences["mir1k"] in text and licences["musdb18"] in text
    assert "| MIR-1K | evaluation, training |" in text
    assert "fine-tuned from `majl-hf/majl-unet-crepe-full`" in text and "joint_method=dwhs" in text
    assert "separator `unet`" in text and "pitch estimator `crepe`" in text
    plain = card_for(two_runs, tiny_model_dir).text
    assert "No training configuration" in plain


def test_tables_are_well_formed(two_runs):
    """Pipes inside cells (|s|² in a description) are escaped: every row has the header's width."""
    md = results_markdown(two_runs)
    for block in md.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if lines:
            widths = {len(re.split(r"(?<!\\)\|", ln)) for ln in lines}
            assert len(widths) == 1, block


def test_without_metrics_the_card_says_so(tiny_model_dir):
    card = build_model_card(repo_id="someorg/tiny-majl", config=tiny_model_dir)
    assert "Not evaluated yet" in card.text and card.data.eval_results is None
