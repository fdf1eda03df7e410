"""scripts/reproduce_table5.py / majl_hf.training.table5: the paper's Table 5 in one command.

The runner end to end at toy scale on a CPU — synthetic MIR-1K, MUSDB18-HQ and MIR-ST500 in their
native layouts, tiny presets, two optimiser steps per row, all 16 rows — killed mid-training by an
injected exception and resumed to completion by the command line; the paper's settings in
configs/table5/paper.yaml; the table's layout beside the paper's numbers."""

import importlib.util
import json
import math

import pytest
from safetensors.torch import load_file

from majl_hf.configuration_majl import MajlConfig
from majl_hf.models import config_class
from majl_hf.training import read_csv_log
from majl_hf.training.table5 import (
    METHODS,
    PAIRS,
    PAPER_TABLE5,
    CorpusPaths,
    Table5Runner,
    load_table5_config,
    model_config,
    parse_rows,
    table5_markdown,
    table5_rows,
    training_arguments,
)
from majl_hf.training.trainer import MajlTrainer, run_training

from .conftest import SCRIPTS
from .synthetic_corpora import make_all


def _script():
    spec = importlib.util.spec_from_file_location("reproduce_table5", SCRIPTS / "reproduce_table5.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- settings and layout
def test_paper_config_states_the_papers_settings():
    cfg = load_table5_config("paper")
    t = cfg["training"]
    assert (t["batch_size"], t["learning_rate"], t["lr_decay_gamma"], t["lr_decay_epochs"]) == (16, 0.001, 0.98, 10)
    assert cfg["mir1k"]["split_by"] == "clip" and cfg["medleydb"]["split_by"] == "clip"
    assert cfg["mir1k"]["test_fraction"] == 0.2
    assert cfg["stage2"]["config_overrides"]["pseudo_label_threshold"] == 0.7
    assert {"csv", "tensorboard"} <= set(t["report_to"])  # DWHS readings in both
    resunet = config_class("resunet_decouple").from_preset("majl").to_dict()
    for pair in PAIRS:
        mc = model_config(cfg, pair, "stage1")
        sep, pe = mc["separator_config"], mc["pitch_config"]
        assert (sep["sampling_rate"], sep["audio_channels"], sep["n_fft"], sep["hop_length"]) == (16000, 1, 2048, 320)
        assert (pe["sampling_rate"], pe["hop_length"]) == (16000, 320)
        if pair.startswith("R"):
            assert {k: sep[k] for k in resunet if k != "transformers_version"} == {
                k: v for k, v in resunet.items() if k != "transformers_version"}
        if pair.endswith("C"):
            assert pe["capacity"] == "full"
        else:  # the published HarmoF0 at the 20 ms output grid
            published = config_class("harmof0")().to_dict()
            assert all(pe[k] == published[k] for k in ("channels", "n_harmonics", "n_bins", "n_fft"))
        config = MajlConfig(**mc)  # a valid cascade config (no weights built)
        assert config.joint_method == "dwhs"
    args = training_arguments(cfg, CorpusPaths(mir1k="/data/MIR-1K"), "/tmp/out", "R-C", "majl")
    assert args.config_from == "/tmp/out/R-C/stage1/train/model" and args.model_config is None
    assert [s["corpus"] for s in args.train_data] == ["mir1k", "pseudo"]
    assert args.train_data[0]["split_by"] == "clip" and args.train_data[0]["split"] == "train"
    assert args.config_overrides["pseudo_label_threshold"] == 0.7
    assert training_arguments(cfg, CorpusPaths(mir1k="x"), "o", "U-H", "pipeline").model_config["joint_method"] == (
        "pipeline")
    # the toy config has the same sections: the tests run the paper's code path
    toy = load_table5_config("toy")
    assert set(toy) == set(cfg) and set(toy["training"]) - {"max_steps"} == set(t)
    assert config_class("harmof0").tiny().channels == model_config(toy, "U-H", "naive")["pitch_config"]["channels"]


def test_rows_and_dependencies():
    assert len(parse_rows()) == 16 and parse_rows()[:4] == [("U-H", m) for m in METHODS]
    assert parse_rows(["R-C/majl"]) == [("R-C", "stage1"), ("R-C", "majl")]
    assert parse_rows(["pipeline", "U-C"]) == [("U-H", "pipeline"), ("R-H", "pipeline"), ("U-C", "pipeline"),
                                               ("U-C", "naive"), ("U-C", "stage1"), ("U-C", "majl"),
                                               ("R-C", "pipeline")]
    with pytest.raises(ValueError, match="row 'X-Y'"):
        parse_rows(["X-Y"])


def test_table_layout_puts_the_papers_numbers_beside_ours():
    assert PAPER_TABLE5[("R-C", "majl")] == (12.98, 9.99, 94.11, 94.38)
    assert PAPER_TABLE5[("U-H", "pipeline")][0] == PAPER_TABLE5[("U-C", "pipeline")][0] == 11.43
    results = {("R-C", "majl"): {"metrics": {"sdr": 13.0, "gnsdr": 9.5, "rpa": 95.0, "rca": float("nan")}}}
    rows = table5_rows(results)
    assert len(rows) == 16 and [r["pair"] for r in rows[::4]] == list(PAIRS)
    r = rows[-1]
    assert r["status"] == "done" and r["sdr_diff"] == pytest.approx(0.02) and r["rpa_diff"] == pytest.approx(0.89)
    assert r["rca"] is None and r["rca_diff"] is None
    md = table5_markdown(results).splitlines()
    body = [line for line in md if line.startswith("|")][2:]
    assert len(body) == 16
    assert body[-1].startswith("|  |  | MAJL | 13.00 | 12.98 | +0.02 | 9.50 | 9.99 | -0.49 | 95.00 | 94.11 | +0.89 |")
    assert body[0].startswith("| U | H | Pipeline | — | 11.43 | — |")


# ----------------------------------------------------------------------------- end to end
class Killed(RuntimeError):
    pass


class KillAt(MajlTrainer):
    """Raises inside ``target``'s training once ``step`` optimiser steps are done (and checkpointed)."""

    target, step = None, None

    def compute_loss(self, model, batch):
        if str(self.output_dir).endswith(self.target) and self.state.global_step == self.step:
            raise Killed(f"killed in {self.target} at step {self.step}")
        return super().compute_loss(model, batch)


@pytest.mark.slow
def test_toy_table5_killed_mid_run_and_resumed(tmp_path):
    paths = make_all(tmp_path / "data")
    out = tmp_path / "table5"
    corpus_args = ["--mir1k", paths["mir1k"], "--musdb18", paths["musdb18"], "--mirst500-audio",
                   paths["mirst500_audio"], "--mirst500-notes", paths["mirst500_notes"]]
    config = load_table5_config("toy")
    cp = CorpusPaths(**paths)

    # ---- first run: killed in R-H's MAJL-Stage I after its first step (checkpointed at step 1)
    KillAt.target, KillAt.step = "R-H/stage1/train", 1
    with pytest.raises(Killed):
        Table5Runner(config, cp, out, trainer_class=KillAt).run()
    finished = [(p, m) for p in PAIRS for m in METHODS if (out / p / m / "result.json").is_file()]
    assert finished == [("U-H", m) for m in METHODS] + [("R-H", "pipeline"), ("R-H", "naive")]
    killed = out / "R-H" / "stage1"
    assert not (killed / "trained.json").exists() and (killed / "train/checkpoints/checkpoint-00000001").is_dir()
    partial = json.loads((out / "table5.json").read_text())["rows"]
    assert sum(r["status"] == "done" for r in partial) == 6  # the table is written after each row
    before = {(p, m): ((out / p / m / "result.json").stat().st_mtime_ns,
                       (out / p / m / "train/model/model.safetensors").stat().st_mtime_ns) for p, m in finished}

    # ---- the same command again, from the command line: continues where it stopped
    assert _script().main([*corpus_args, "--output-dir", str(out), "--scale", "toy", "--quiet"]) == 0
    for (p, m), stamps in before.items():  # finished rows were neither retrained nor re-evaluated
        assert ((out / p / m / "result.json").stat().st_mtime_ns,
                (out / p / m / "train/model/model.safetensors").stat().st_mtime_ns) == stamps, (p, m)
    trained = json.loads((killed / "trained.json").read_text())
    assert trained["resumed_from"].endswith("checkpoint-00000001") and trained["global_step"] == 2
    assert [r["step"] for r in read_csv_log(killed / "train/logs/train.csv")] == [1, 2]
    # resumed exactly: the same weights as an uninterrupted run of that row
    args = training_arguments(config, cp, out, "R-H", "stage1")
    args.output_dir = str(tmp_path / "uninterrupted")
    run_training(args)
    a = load_file(killed / "train/model/model.safetensors")
    b = load_file(tmp_path / "uninterrupted/model/model.safetensors")
    err = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    print(f"resumed vs uninterrupted R-H/stage1 weights: max abs err {err:.2e}")
    assert a.keys() == b.keys() and err < 1e-6

    # ---- every row in the table, ours beside the paper's
    table = json.loads((out / "table5.json").read_text())["rows"]
    assert len(table) == 16 and all(r["status"] == "done" for r in table)
    for r in table:
        for k in ("sdr", "gnsdr", "rpa", "rca"):
            assert math.isfinite(r[k]) and r[f"{k}_diff"] == pytest.approx(r[k] - r[f"{k}_paper"])
    print("toy table (SDR, RPA):", [(r["pair"], r["method"], round(r["sdr"], 2), round(r["rpa"], 1)) for r in table])
    md = (out / "table5.md").read_text()
    assert md.count("| MAJL-Stage I |") == 4 and "—" not in md.split("\n\n")[1]
    for p, m in [(p, m) for p in PAIRS for m in METHODS]:
        ev = json.loads((out / p / m / "eval" / "metrics.json").read_text())
        assert ev["dataset"]["split"] == "test" and ev["settings"]["corpus_kwargs"]["split_by"] == "clip"
        assert ev["summary"]["n_tracks"] == 2  # the whole test clips: 20 % of 10
        assert ev["per_track"][0]["duration_s"] == pytest.approx(2.0)
    # stage II trained on MIR-1K ∪ the pair's pseudo-labels (MUSDB18 + MIR-ST500)
    sampling = read_csv_log(out / "R-C" / "majl" / "train/logs/sampling.csv")
    assert [r["corpus"] for r in sampling] == ["mir1k", "pseudo"] and sampling[1]["examples"] == 4
    manifest = json.loads((out / "R-C/pseudo_labels/pseudo_labels_manifest.json").read_text())
    assert sorted(e["corpus"] for e in manifest["examples"]) == ["mirst500", "mirst500", "musdb18", "musdb18"]

    # ---- DWHS readings of the rows: CSV and TensorBoard
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for method in ("stage1", "majl"):
        logs = out / "U-C" / method / "train/logs"
        for r in read_csv_log(logs / "train.csv"):
            assert sum(r[f"n_case{c}"] for c in (1, 2, 3, 4)) + r["n_no_case"] == 4
            assert any(math.isfinite(r[f"w_pe_case{c}"]) for c in (1, 2, 3, 4))
        tags = set()
        for p in logs.rglob("events.out.tfevents.*"):
            acc = EventAccumulator(str(p))
            acc.Reload()
            tags |= set(acc.Tags()["scalars"])
        assert {"train/n_case1", "train/n_case4", "train/n_no_case", "train/loss_dwhs"} <= tags, sorted(tags)

    # ---- run again: nothing to do, the table is printed
    stamp = (out / "R-C" / "majl" / "result.json").stat().st_mtime_ns
    assert _script().main([*corpus_args, "--output-dir", str(out), "--scale", "toy", "--quiet"]) == 0
    assert (out / "R-C" / "majl" / "result.json").stat().st_mtime_ns == stamp
    # other settings in the same folder are refused
    with pytest.raises(ValueError, match="other settings"):
        _script().main([*corpus_args, "--output-dir", str(out), "--scale", "toy", "--quiet",
                        "--set", "training.learning_rate=0.01"])
