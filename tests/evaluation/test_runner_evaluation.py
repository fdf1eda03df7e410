"""scripts/evaluate.py + majl_hf.evaluation.runner on the real excerpts (MedleyDB 80sRock with its
instrumental companion, MUSDB18-HQ) with the tiny random model: the files exist with the right
keys, and every number equals the evaluation functions called directly on the same model outputs."""

import csv
import json

import numpy as np
import pytest
from transformers import pipeline

import majl_hf  # noqa: F401  (registers the majl-vocal task)
from majl_hf.data import iter_medleydb, iter_musdb18
from majl_hf.evaluation import (
    aggregate_melody_metrics,
    bss_eval_sdr,
    energy_ratio_sdr,
    gnsdr,
    gsdr,
    melody_metrics,
    museval_median_sdr,
    museval_sdr,
    nsdr,
)
from majl_hf.evaluation.runner import (
    FILES,
    PITCH_METRICS,
    SCHEMA,
    EvaluationSettings,
    combined_table2,
    evaluate,
    load_metrics,
    model_provenance,
    sha256_file,
)
from tests.conftest import load_script, shared_path

SEPARATION_ROW_KEYS = ("sdr", "sdr_status", "nsdr", "nsdr_status", "sdr_mixture", "sdr_energy", "museval_sdr")
PITCH_ROW_KEYS = ("rpa", "rca", "oa", "vr", "vfa", "n_frames", "n_ref_voiced", "n_ref_unvoiced")


@pytest.fixture(scope="module")
def tiny_pipe(tiny_model_dir):
    return pipeline("majl-vocal", model=str(tiny_model_dir), device="cpu")


def direct_outputs(pipe, example, threshold):
    """The model outputs, taken from the pipeline by hand (not through the runner)."""
    from majl_hf.evaluation.runner import EvaluationSettings

    # the runner's decoder (the paper's local average), not the pipeline's default
    out = pipe({"array": example["mixture"], "sampling_rate": example["sampling_rate"]}, voicing_threshold=0.0,
               decoder=EvaluationSettings.__dataclass_fields__["decoder"].default)
    f0 = np.asarray(out["f0_hz"], dtype=np.float64)
    voiced = np.asarray(out["confidence"]) >= threshold
    return out["vocals"], np.asarray(out["times_s"]), np.where(voiced, f0, -f0)


def approx(value, want):
    if want is None:
        return value is None
    return value == pytest.approx(want, rel=1e-9, abs=1e-9)


@pytest.fixture(scope="module")
def medleydb_run(tiny_model_dir, tmp_path_factory):
    root = shared_path("data", "MedleyDB")
    out = tmp_path_factory.mktemp("eval_medleydb")
    script = load_script("evaluate")
    argv = [
        "--model",
        str(tiny_model_dir),
        "--corpus",
        "medleydb",
        "--root",
        str(root),
        "--split",
        "all",
        "--tracks",
        "MusicDelta_80sRock",
        "MusicDelta_Beethoven",
        "--output-dir",
        str(out),
        "--no-progress",
    ]
    assert script.main(argv) == 0
    return root, out, argv


def test_files_and_keys(medleydb_run, tiny_model_dir):
    root, out, argv = medleydb_run
    for name in FILES.values():
        assert (out / name).is_file(), name
    result = load_metrics(out / "metrics.json")
    assert result["schema"] == SCHEMA
    for key in (
        "model",
        "dataset",
        "settings",
        "metric_descriptions",
        "summary",
        "table2",
        "per_track",
        "command",
        "versions",
        "created",
        "runtime_s",
    ):
        assert key in result, key
    assert result["command"].endswith(" ".join(argv[-3:]))  # the command line as given
    assert result["command"].startswith("python scripts/evaluate.py --model")
    for package in ("torch", "transformers", "majl_hf", "mir_eval", "museval"):
        assert result["versions"][package], package
    model = result["model"]
    assert model["source"] == "local" and model["revision"] is None
    assert model["weights_sha256"] == sha256_file(tiny_model_dir / "model.safetensors")
    assert result["dataset"] == {
        "corpus": "medleydb",
        "name": "MedleyDB",
        "root": str(root),
        "split": "all",
        "licences": ["CC BY-NC-SA 4.0"],
    }
    assert [r["track"] for r in result["per_track"]] == ["MusicDelta_80sRock", "MusicDelta_Beethoven"]
    with open(out / "per_track.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["track"] for r in rows] == ["MusicDelta_80sRock", "MusicDelta_Beethoven"]
    assert {"method", "dataset", "sdr", "nsdr", "sdr_energy", "rpa", "rca", "oa", "vr", "vfa"} <= set(rows[0])
    assert float(rows[0]["sdr"]) == pytest.approx(result["per_track"][0]["sdr"])
    table = (out / "table2.md").read_text()
    assert "| Method | MedleyDB SDR | MedleyDB GNSDR | MedleyDB RPA (%) | MedleyDB RCA (%) |" in table
    summary = result["summary"]
    assert (
        f"| {tiny_model_dir.name} | {summary['sdr']:.2f} | {summary['gnsdr']:.2f} | {100 * summary['rpa']:.2f} |"
        in table
    )
    assert "MusicDelta_Beethoven" in table  # the silent-reference clip is named


def test_numbers_equal_the_metric_functions(medleydb_run, tiny_pipe):
    root, out, _ = medleydb_run
    result = load_metrics(out / "metrics.json")
    rows = {r["track"]: r for r in result["per_track"]}
    threshold = tiny_pipe.model.config.voicing_threshold
    sdr_scores, nsdr_scores, energy_scores, melodies = [], [], [], []
    for ex in iter_medleydb(root, None, tracks=["MusicDelta_80sRock", "MusicDelta_Beethoven"]):
        vocals, times, est_f0 = direct_outputs(tiny_pipe, ex, threshold)
        row = rows[ex["id"]]
        s, n, e = (
            bss_eval_sdr(ex["vocals"], vocals),
            nsdr(ex["vocals"], vocals, ex["mixture"]),
            energy_ratio_sdr(ex["vocals"], vocals),
        )
        mel = melody_metrics(ex["times_s"], ex["f0_hz"], times, est_f0)
        sdr_scores.append(s), nsdr_scores.append(n), energy_scores.append(e), melodies.append(mel)
        assert approx(row["sdr"], s.sdr) and row["sdr_status"] == s.status
        assert approx(row["nsdr"], n.nsdr) and approx(row["sdr_mixture"], n.sdr_mixture)
        assert approx(row["sdr_energy"], e.sdr)
        for key in PITCH_ROW_KEYS:
            assert approx(row[key], mel[key]), (ex["id"], key)
    summary = result["summary"]
    assert approx(summary["sdr"], gsdr(sdr_scores)["sdr"])
    assert approx(summary["gnsdr"], gnsdr(nsdr_scores)["gnsdr"])
    assert approx(summary["sdr_energy"], gsdr(energy_scores)["sdr"])
    agg = aggregate_melody_metrics(melodies)
    for key in PITCH_METRICS:
        assert approx(summary[key], agg[key]), key
    # the instrumental clip: no SDR (not 0, not inf), said so; its pitch metrics that exist are kept
    beethoven = rows["MusicDelta_Beethoven"]
    assert beethoven["sdr"] is None and beethoven["sdr_status"] == "silent_reference"
    assert beethoven["rpa"] is None and beethoven["vfa"] is not None
    assert summary["silent_reference_tracks"] == ["MusicDelta_Beethoven"]
    assert summary["details"]["gnsdr"]["skipped"] == {"silent_reference": 1}
    assert summary["museval_sdr"] is None  # off for MedleyDB by default
    # the Table-2 row is the same summary
    (row,) = result["table2"]
    assert approx(row["sdr"], summary["sdr"]) and approx(row["gnsdr"], summary["gnsdr"])
    assert approx(row["rpa"], summary["rpa"])


def test_musdb18_museval_median(tiny_model_dir, tiny_pipe, tmp_path):
    root = shared_path("data", "MUSDB18-HQ")
    settings = EvaluationSettings(corpus="musdb18", root=str(root), split="train", method="Tiny", extra="MSS")
    result = evaluate(str(tiny_model_dir), settings, tmp_path, progress=False)
    (ex,) = list(iter_musdb18(root, "train"))
    vocals, _, _ = direct_outputs(tiny_pipe, ex, 0.5)
    want = museval_sdr({"vocals": ex["vocals"]}, {"vocals": vocals}, sampling_rate=ex["sampling_rate"])["vocals"]
    (row,) = result["per_track"]
    assert approx(row["museval_sdr"], want.sdr) and row["museval_status"] == "ok"
    assert approx(result["summary"]["museval_sdr"], museval_median_sdr([want])["sdr"])
    assert approx(row["sdr"], bss_eval_sdr(ex["vocals"], vocals).sdr)
    assert all(row[k] is None for k in PITCH_ROW_KEYS) and row["has_f0"] is False
    assert result["summary"]["rpa"] is None
    table = (tmp_path / "table2.md").read_text()
    assert "| Method | Extra | MUSDB18 SDR |" in table and "| Tiny | MSS |" in table
    line = next(ln for ln in table.splitlines() if ln.startswith("| Tiny | MSS |"))
    assert line.endswith("| --- | --- |")  # no pitch labels: RPA/RCA printed as the paper's ---
    assert "museval SDR" in table


@pytest.fixture
def offline(monkeypatch):
    """HF_HUB_OFFLINE for this test even when the suite runs without it (read at call time)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def test_hub_id_records_the_snapshot_commit(tiny_model_dir, tmp_path, offline):
    from majl_hf.hub import seed_hf_cache
    from tests.hub.synthetic_corpus import write_mir1k_like

    cache = tmp_path / "hub"
    snapshot = seed_hf_cache(tiny_model_dir, "someorg/tiny", cache_dir=cache)
    prov = model_provenance("someorg/tiny", cache_dir=cache)
    assert prov["source"] == "hub" and prov["revision"] == snapshot.name
    assert prov["weights_sha256"] == sha256_file(tiny_model_dir / "model.safetensors")
    corpus = write_mir1k_like(tmp_path / "mir1k")
    settings = EvaluationSettings(corpus="mir1k", root=str(corpus), split="all", tracks=["synth_2_01"])
    result = evaluate("someorg/tiny", settings, cache_dir=cache, progress=False)
    assert result["model"]["revision"] == snapshot.name and result["model"]["method"] == "someorg/tiny"
    assert [r["track"] for r in result["per_track"]] == ["synth_2_01"]
    assert result["summary"]["rpa"] is not None and result["summary"]["n_with_f0"] == 1


def test_combined_table(medleydb_run, tmp_path):
    _, out, _ = medleydb_run
    other = json.loads((out / "metrics.json").read_text())
    for row in other["table2"]:
        row["method"] = "Other"
    table = combined_table2([out / "metrics.json", other])
    assert table.count("\n") == 4  # header, rule, two methods
    script = load_script("evaluate")
    assert script.main(["--table", str(out / "metrics.json")]) == 0


def test_settings_are_checked():
    with pytest.raises(ValueError, match="corpus"):
        EvaluationSettings(corpus="mir2k", root="x")
    with pytest.raises(ValueError, match="notes_path"):
        EvaluationSettings(corpus="mirst500", root="x")
    with pytest.raises(ValueError, match="split"):
        EvaluationSettings(corpus="mir1k", root="x", split="dev")
    with pytest.raises(ValueError, match="unvoiced_pitch"):
        EvaluationSettings(corpus="mir1k", root="x", unvoiced_pitch="nan")


def fake_example(n=16000, sr=16000, vocals=True, f0=True, silent_vocals=False):
    rng = np.random.default_rng(0)
    voc = np.zeros((1, n), np.float32) if silent_vocals else 0.1 * rng.standard_normal((1, n)).astype(np.float32)
    mix = voc + 0.1 * rng.standard_normal((1, n)).astype(np.float32)
    times = np.arange(1 + n // 320) * 0.02
    f0_hz = np.where((times > 0.2) & (times < 0.8), 220.0, 0.0) if f0 else np.zeros_like(times)
    return {
        "id": "clip",
        "split": "test",
        "mixture": mix,
        "vocals": voc if vocals else np.zeros_like(mix),
        "sampling_rate": sr,
        "has_vocals": vocals,
        "has_f0": f0,
        "f0_hz": f0_hz,
        "times_s": times,
        "duration_s": n / sr,
    }


def test_score_track_without_labels_and_with_silence():
    from majl_hf.evaluation.runner import score_track, summarize_scores

    settings = EvaluationSettings(corpus="mirst500", root="x", notes_path="notes.json")
    ex = fake_example(vocals=False)  # MIR-ST500: pitch labels only
    pred = {"vocals": ex["mixture"] * 0.5, "times_s": ex["times_s"], "est_f0_hz": ex["f0_hz"]}
    t = score_track(ex, pred, settings, "m")
    assert t.row["sdr"] is None and t.row["sdr_status"] == "no_label" and t.sdr is None
    assert t.row["rpa"] == 1.0 and t.row["vfa"] == 0.0  # a perfect pitch track
    summary = summarize_scores([t])
    assert summary["sdr"] is None and summary["rpa"] == 1.0 and summary["n_with_vocals"] == 0
    # silent reference vocals: no SDR, said so; a silent estimate: its own status, not a number
    ex = fake_example(silent_vocals=True)
    t = score_track(ex, {**pred, "vocals": ex["mixture"]}, settings, "m")
    assert t.row["sdr_status"] == "silent_reference" and t.row["sdr"] is None and t.row["sdr_energy"] is None
    ex = fake_example()
    t2 = score_track(ex, {**pred, "vocals": np.zeros_like(ex["mixture"])}, settings, "m")
    assert t2.row["sdr_status"] == "silent_estimate" and t2.row["sdr"] is None
    assert t2.row["sdr_energy"] == pytest.approx(0.0)  # the energy-ratio SDR of silence is defined: 0 dB
    summary = summarize_scores([t, t2])
    assert summary["sdr"] is None and summary["details"]["sdr"]["skipped"] == {
        "silent_reference": 1,
        "silent_estimate": 1,
    }
    assert summary["silent_reference_tracks"] == ["clip"]
