"""Speed, memory and accuracy of majl_hf's pipelines side by side with the peer pitch trackers, in one run.

Rows (each measurement in a child process of its own, so that its peak RSS is its own):

  ours: <pair>      ``pipeline("majl-vocal", model=<pair>)`` on the file — decode → vocals, accompaniment,
                    f0 — for every real pair of ``scripts/evaluate_pairs.py`` (unet-crepe-full is loaded as
                    ``majl_hf.DEFAULT_MODEL`` from the HF cache when it is seeded there)
  cli: majl-vocal   the command line with its defaults on the file (``majl-vocal FILE -o DIR``: streamed, the
                    outputs written in blocks), whose peak RSS must not grow with the length; the worker checks
                    that the written vocals and accompaniment have the input's exact length; its compute is the
                    whole ``main()`` call (model load, both passes, writing the files and the PNG), and it runs
                    at every length whatever ``--row-budget-s`` says (the flat-memory check)
  separator         our Spleeter U-Net alone on the file (level normalisation, streamed STFT), vocals downmixed
                    and resampled to 16 kHz: the separated vocals every peer gets
  peer: <name>      a peer pitch tracker on those vocals, run from the peers' own Python (``--peers-python``, or
                    a venv built by ``--build-peers-venv DIR`` with ``scripts/peers_env.sh``; they pull
                    torchaudio, which stays out of the project's environment): torchcrepe 0.0.24 full / tiny
                    (10 ms hop, Viterbi, voiced where periodicity ≥ 0.5), torchfcpe 0.0.4 (bundled model,
                    ``infer`` defaults: local_argmax, threshold 0.006), PESTO 2.0.1 (mir-1k_g7, 10 ms, voiced
                    where confidence ≥ 0.5), SwiftF0 0.3.0 (voiced where confidence ≥ 0.5, its calibration)

Inputs: the bundled example (stereo 44.1 kHz) tiled to each of ``--durations`` (30 s, 3, 10, 60 min).
Per row and input: compute seconds per audio second (the call alone: for a peer *pipeline*, the
separator's plus the peer's), process wall time (process start to outputs: interpreter, imports, model
load, decode, compute) and peak RSS (``ru_maxrss`` of the child, from ``os.wait4``). A row whose
predicted compute at a length (its compute per audio second at the previous length × the length)
exceeds ``--row-budget-s`` is not run there, and the table says so.

Accuracy for every row on the labelled real excerpts (``evaluate_pairs``' clips and scoring): the
MedleyDB 80sRock mixture (ours: the whole pipeline; peers: on our separated vocals of that mixture)
and the resynthesised NightOwl vocal of MDB-stem-synth (clean singing: ours, the pitch estimator
alone; peers, the same audio at 16 kHz). Ours come from ``model_cards/measured/pairs.json`` when it
exists (``--recompute-accuracy`` measures them again).

Writes ``model_cards/measured/benchmark.{json,md}`` (generated tables) and says which pair should be
``majl_hf.DEFAULT_MODEL``: the most accurate at ≤ ``--speed-target`` compute per audio second, ahead of
every peer pipeline on RPA and OA if any pair is.

    bash scripts/peers_env.sh /tmp/majl_peers
    OMP_NUM_THREADS=2 HF_HOME=.hf_home HF_HUB_OFFLINE=1 python scripts/benchmark.py \\
        --peers-python /tmp/majl_peers/bin/python --durations 30 180 600 3600
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "audio_example.mp3"
MEASURED_DIR = REPO / "model_cards" / "measured"
PEERS = ("torchcrepe-full", "torchcrepe-tiny", "torchfcpe", "pesto", "swiftf0")
PEER_LABELS = {
    "torchcrepe-full": "torchcrepe 0.0.24 full",
    "torchcrepe-tiny": "torchcrepe 0.0.24 tiny",
    "torchfcpe": "torchfcpe 0.0.4",
    "pesto": "PESTO 2.0.1 (mir-1k_g7)",
    "swiftf0": "SwiftF0 0.3.0",
}
CLI_ROW = "cli: majl-vocal"
PAIR_NAMES = ("unet-crepe-full", "unet-crepe-tiny", "unet-harmof0-mdb", "unet-harmof0-mir1k", "unet-fcpe",
              "unet-swiftf0")  # = evaluate_pairs.PAIRS (kept here so that the peers' Python needs no majl_hf)
def default_pair() -> str:
    """The pair majl_hf.DEFAULT_MODEL holds today (imported here, not at the top: the peers' Python runs this
    file's peer workers without majl_hf)."""
    from majl_hf.defaults import DEFAULT_MODEL

    return DEFAULT_MODEL.split("/majl-", 1)[-1]


SPEED_TARGET = 0.08  # compute seconds per audio second, whole pipeline (issue 13)


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM of its address space; ru_maxrss would also count the parent's
    RSS at fork/exec, which Linux carries into the child — the reason the parent stays small)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------------------------ peer workers
# These run in the peers' Python: numpy, torch and the peer package only (no majl_hf there).
def peer_track(name: str, audio, threads: int):
    """(times_s, f0_hz, voiced) of peer ``name`` on 16 kHz mono float32 ``audio``."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    if name.startswith("torchcrepe"):
        import torchcrepe

        f0, per = torchcrepe.predict(torch.from_numpy(audio)[None], 16000, hop_length=160, model=name.split("-")[1],
                                     batch_size=512, device="cpu", return_periodicity=True)
        f0, per = f0[0].numpy().astype(np.float64), per[0].numpy()
        return np.arange(f0.size) * 0.01, f0, per >= 0.5
    if name == "torchfcpe":
        from torchfcpe import spawn_bundled_infer_model

        model = spawn_bundled_infer_model(device="cpu")
        with torch.no_grad():
            f0 = model.infer(torch.from_numpy(audio)[None, :, None], sr=16000, decoder_mode="local_argmax",
                             threshold=0.006)
        f0 = f0[0, :, 0].numpy().astype(np.float64)
        return np.arange(f0.size) * model.get_hop_size() / 16000, f0, f0 > 0
    if name == "pesto":
        import pesto

        _, f0, conf, _ = pesto.predict(torch.from_numpy(audio), 16000, step_size=10.0, model_name="mir-1k_g7")
        f0, conf = f0.numpy().astype(np.float64), conf.numpy()
        return np.arange(f0.size) * 0.01, f0, conf >= 0.5
    if name == "swiftf0":
        from swift_f0 import SwiftF0

        res = SwiftF0(threads=threads).detect(audio, 16000)
        return res.timestamps, res.pitch_hz, res.confidence >= 0.5
    raise ValueError(f"unknown peer {name!r}")


def peer_worker(args) -> dict:
    import numpy as np

    audio = np.load(args.vocals16k).astype(np.float32)
    t0, c0 = time.perf_counter(), time.process_time()
    times, f0, voiced = peer_track(args.worker[len("peer:"):], audio, args.threads)
    compute, cpu = time.perf_counter() - t0, time.process_time() - c0
    if args.save_track:
        np.savez(args.save_track, times=np.asarray(times, float), f0=np.asarray(f0, float),
                 voiced=np.asarray(voiced, bool))
    return {"compute_s": compute, "cpu_s": cpu, "frames": int(len(f0)), "peak_rss_mb_self": peak_rss_mb()}


# ------------------------------------------------------------------------------------ our workers
def ours_worker(args) -> dict:
    import torch
    from transformers import pipeline

    import majl_hf  # noqa: F401  (registers the majl-vocal pipeline)

    torch.set_num_threads(args.threads)
    pipe = pipeline("majl-vocal", model=args.model)
    t0, c0 = time.perf_counter(), time.process_time()
    out = pipe(str(args.input))
    compute, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"compute_s": compute, "cpu_s": cpu, "frames": int(out["f0_hz"].shape[0]),
            "samples": int(out["vocals"].shape[-1]), "peak_rss_mb_self": peak_rss_mb()}


def cli_worker(args) -> dict:
    import soundfile as sf
    import torch

    from majl_hf.cli import main as cli_main

    torch.set_num_threads(args.threads)
    out = Path(args.save_track)
    t0, c0 = time.perf_counter(), time.process_time()
    code = cli_main([str(args.input), "-o", str(out), "--model", args.model, "-q"])
    compute, cpu = time.perf_counter() - t0, time.process_time() - c0
    if code != 0:
        raise RuntimeError(f"majl-vocal exited with {code}")
    frames = sf.info(str(args.input)).frames
    lengths = {p.name: sf.info(str(p)).frames for p in sorted(out.glob("*.wav"))}
    if len(lengths) != 2 or set(lengths.values()) != {frames}:
        raise RuntimeError(f"outputs {lengths} for an input of {frames} frames")
    f0_rows = sum(1 for _ in open(next(out.glob("*_f0.csv")))) - 1
    for p in out.iterdir():
        p.unlink()
    return {"compute_s": compute, "cpu_s": cpu, "frames": f0_rows, "samples": frames, "outputs_exact": True,
            "peak_rss_mb_self": peak_rss_mb()}


def separator_worker(args) -> dict:
    import numpy as np
    import soundfile as sf
    import torch

    from majl_hf import MajlModel
    from majl_hf.inference.apply import _separation_plan, level_gain, resample_long, separate_long

    torch.set_num_threads(args.threads)
    sep = MajlModel.from_pretrained(args.model).separator.eval()
    t0, c0 = time.perf_counter(), time.process_time()
    mix, sr = sf.read(str(args.input), dtype="float32", always_2d=True)
    mix = torch.from_numpy(mix.T.copy())
    gain = level_gain(mix, sr)
    mix = mix * gain
    chunk, ctx = _separation_plan(sep, mix.shape[-1], 12.0, None)
    with torch.no_grad():
        vocals, _ = separate_long(sep, mix, chunk, ctx)
    del mix
    y = (resample_long(vocals.mean(0), sr, 16000) / gain).numpy()
    compute, cpu = time.perf_counter() - t0, time.process_time() - c0
    if args.save_vocals:
        np.save(args.save_vocals, y.astype(np.float32))
    return {"compute_s": compute, "cpu_s": cpu, "samples_16k": int(y.shape[0]), "peak_rss_mb_self": peak_rss_mb()}


def prepare_worker(args) -> dict:
    """Save the pairs for the rows (built once) and write the tiled inputs: heavy work kept out of the parent."""
    import torch

    sys.path.insert(0, str(REPO / "scripts"))
    import evaluate_pairs as ep

    paths = ep.save_pairs(args.pairs, args.models_dir, args.wheels, args.shared / "weights")
    inputs = {f"{d:g}": str(make_input(d, Path(args.input))) for d in args.durations}
    return {"torch": torch.__version__, "paths": {k: str(v) for k, v in paths.items()}, "inputs": inputs,
            "model_args": {p: _model_arg(p, paths) for p in paths}}


def accuracy_worker(args) -> dict:
    paths = json.loads(args.model)
    return accuracy_rows(args, Path(args.input), args.peers_python, list(args.peers), list(args.pairs), paths)


def worker(args) -> dict:
    if args.worker == "prepare":
        return prepare_worker(args)
    if args.worker == "accuracy":
        return accuracy_worker(args)
    if args.worker.startswith("peer:"):
        return peer_worker(args)
    if args.worker == "ours":
        return ours_worker(args)
    if args.worker == "separator":
        return separator_worker(args)
    if args.worker == "cli":
        return cli_worker(args)
    raise ValueError(f"unknown worker {args.worker!r}")


# ------------------------------------------------------------------------------------ the parent
def run_child(python: str, worker_args: list[str], timeout: float, env: dict | None = None) -> dict:
    """Run this script as a worker in ``python``; wall time from process start to exit, its own ru_maxrss."""
    cmd = [python, str(Path(__file__).resolve()), *worker_args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", **(env or {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=str(REPO))
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                return {"error": f"timed out after {timeout:.0f} s"}
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()] or [f"exit status {proc.returncode}"]
        if proc.returncode < 0:
            lines.append(f"killed by signal {-proc.returncode} (memory?)")
        return {"error": lines[-1][:200]}
    res = json.loads(stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    res["peak_rss_mb"] = usage.ru_maxrss / 1024.0
    return res


def make_input(seconds: float, folder: Path) -> Path:
    sys.path.insert(0, str(REPO / "scripts"))
    from evaluate_pairs import tiled_example

    return tiled_example(seconds, Path(folder) / f"mix_{seconds:g}s.wav")


def check_peers_python(python: str) -> dict:
    """{peer: version or None} importable in ``python`` (raises when the interpreter cannot run)."""
    code = ("import importlib.metadata as m, json\nout = {}\n"
            "for n in ('torch', 'torchaudio', 'torchcrepe', 'torchfcpe', 'pesto-pitch', 'swift-f0', 'onnxruntime'):\n"
            "    try: out[n] = m.version(n)\n    except m.PackageNotFoundError: out[n] = None\nprint(json.dumps(out))")
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{python} cannot run: {proc.stderr.strip()[-200:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def build_peers_venv(folder: Path) -> str:
    subprocess.run(["bash", str(REPO / "scripts" / "peers_env.sh"), str(folder)], check=True)
    return str(Path(folder) / "bin" / "python")


def machine_load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "unknown"


def _rtf_cell(r: dict | None) -> str:
    if not r:
        return "—"
    if "error" in r:
        return f"not run: {r['error']}"
    cpu = f" ({r['cpu_per_audio_s']:.3f} CPU)" if "cpu_per_audio_s" in r else ""
    return f"{r['rtf']:.3f}{cpu} / {r['wall_s']:.0f} s / {r['peak_rss_mb']:.0f} MB"


def _acc_cells(acc: dict | None) -> list[str]:
    keys = [("mixture", "rpa"), ("mixture", "oa"), ("mixture", "vfa"), ("clean", "rpa"), ("clean", "oa")]
    if not acc:
        return ["—"] * len(keys)
    return ["—" if acc.get(c, {}).get(k) is None else f"{acc[c][k]:.1f}" for c, k in keys]


def choose_default(rows: dict, accuracy: dict, speed_target: float, peers: list[str]) -> dict:
    """The pair that should be DEFAULT_MODEL (see the module docstring), with the reason."""
    def rtf(label):
        runs = [r for r in rows.get(label, {}).values() if r and "rtf" in r]
        return min((r["input_s"], r["rtf"]) for r in runs)[1] if runs else None

    def score(label):
        m = accuracy.get(label, {}).get("mixture", {})
        return None if m.get("rpa") is None or m.get("oa") is None else (m["rpa"] + m["oa"]) / 2

    peer_rows = [f"peer: {p}" for p in peers if score(f"peer: {p}") is not None]
    best_peer_rpa = max((accuracy[p]["mixture"]["rpa"] for p in peer_rows), default=None)
    best_peer_oa = max((accuracy[p]["mixture"]["oa"] for p in peer_rows), default=None)
    ours = [f"ours: {p}" for p in PAIR_NAMES if score(f"ours: {p}") is not None]
    fast = [p for p in ours if rtf(p) is not None and rtf(p) <= speed_target]

    def ahead(p):
        m = accuracy[p]["mixture"]
        return best_peer_rpa is None or (m["rpa"] > best_peer_rpa and m["oa"] > best_peer_oa)

    pool, why = [p for p in fast if ahead(p)], "meets the speed target and is ahead of every peer on RPA and OA"
    if not pool:
        pool, why = fast, "meets the speed target (no fast pair is ahead of every peer on both RPA and OA)"
    if not pool:
        pool, why = ours, f"no pair meets ≤ {speed_target} s per audio second here: the most accurate"
    if not pool:
        return {"pair": None, "reason": "no pair was measured"}
    best = max(pool, key=score)
    return {"pair": best[len("ours: "):], "reason": why, "rtf": rtf(best), "mixture": accuracy[best]["mixture"],
            "clean": accuracy[best].get("clean"), "best_peer_rpa": best_peer_rpa, "best_peer_oa": best_peer_oa}


def to_markdown(results: dict) -> str:
    durations = results["durations"]
    lines = [
        f"Measured by `{results['command']}` ({results['when']}; torch {results['torch']}, {results['threads']} "
        f"threads, {results['cpus']} visible CPUs shared with other work: load average "
        f"{results['load_before']} before, {results['load_after']} after). Peers from their own Python "
        f"({', '.join(f'{k} {v}' for k, v in results.get('peer_versions', {}).items() if v)}).",
        "",
        "Speed and memory per input length (bundled example tiled, stereo 44.1 kHz): **compute seconds per audio "
        "second** (wall time of the call alone; a peer pipeline = our separator + the peer on its vocals), in "
        "brackets the CPU seconds (all threads) per audio second, which the machine's load does not inflate / "
        "process wall time "
        "(process start to outputs: imports, model load, decode, compute; for a peer pipeline the two processes "
        "added) / peak RSS (ru_maxrss of the process; for a peer pipeline the larger of the two).",
        "",
        "| row | " + " | ".join(_dur(d) for d in durations) + " |",
        "|---|" + "---|" * len(durations),
    ]
    for label, per in results["rows"].items():
        lines.append(f"| {label} | " + " | ".join(_rtf_cell(per.get(str(d))) for d in durations) + " |")
    lines += [
        "",
        "Accuracy on the labelled real excerpts (%, mir_eval.melody, 20 ms grid, 50 cents; default options): "
        "*mixture* = MedleyDB 80sRock (ours: the whole pipeline; peers: on our separated vocals of it), "
        "*clean* = MDB-stem-synth NightOwl (resynthesised, exact f0; ours: the pitch estimator alone).",
        "",
        "| row | mixture RPA | mixture OA | mixture VFA | clean RPA | clean OA |",
        "|---|---|---|---|---|---|",
    ]
    for label in results["rows"]:
        if label in ("separator", CLI_ROW):  # the CLI runs the default pair: its row above
            continue
        lines.append(f"| {label} | " + " | ".join(_acc_cells(results["accuracy"].get(label))) + " |")
    choice = results.get("choice") or {}
    if choice.get("pair"):
        m = choice["mixture"]
        lines += ["", f"**Measured choice of `majl_hf.DEFAULT_MODEL`: {choice['pair']}** — {choice['reason']} "
                  f"(compute {choice['rtf']:.3f} s per audio second; mixture RPA {m['rpa']:.1f}, OA {m['oa']:.1f}; "
                  f"best peer RPA {choice['best_peer_rpa']}, OA {choice['best_peer_oa']}; speed target "
                  f"≤ {results['speed_target']} s per audio second)."]
    if results.get("notes"):
        lines += [""] + [f"- {n}" for n in results["notes"]]
    return "\n".join(lines) + "\n"


def _dur(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 60 else f"{seconds / 60:g} min"


def accuracy_rows(args, tmp: Path, peers_python: str | None, peers: list[str], pairs: list[str], paths: dict) -> dict:
    """{row label: {"mixture": metrics, "clean": metrics}} for our pairs and the peers."""
    import numpy as np
    import torch

    sys.path.insert(0, str(REPO / "scripts"))
    import evaluate_pairs as ep

    from majl_hf.inference.apply import resample_long

    torch.set_num_threads(args.threads)
    out: dict = {}
    pairs_json = args.pairs_json
    cached = json.loads(pairs_json.read_text())["pairs"] if pairs_json.is_file() and not args.recompute_accuracy \
        else {}
    mix, clean = ep.mixture_clip(args.shared), ep.clean_clip(args.shared)
    todo = [p for p in pairs if "mixture" not in cached.get(p, {})]
    loaded = ep.load_pairs(todo, args.wheels, args.shared / "weights") if todo else {}
    for p in pairs:
        if p in loaded:
            from transformers import pipeline

            pipe = pipeline("majl-vocal", model=loaded[p][0])
            cached[p] = {"mixture": ep.evaluate_mixture(pipe, mix)["metrics"], "clean": ep.evaluate_clean(
                loaded[p][0], clean)}
        out[f"ours: {p}"] = {"mixture": cached[p]["mixture"]["default"], "clean": cached[p]["clean"]["default"]}
    if not (peers_python and peers):
        return out
    # the separated vocals every peer gets: our default separator's, through the pipeline (16 kHz mono)
    from transformers import pipeline

    from majl_hf import MajlModel

    model = MajlModel.from_pretrained(paths[default_pair()]).eval()
    vocals_16k = ep.evaluate_mixture(pipeline("majl-vocal", model=model), mix)["vocals_16k"]
    clean_16k = resample_long(torch.from_numpy(clean["audio"].mean(0)), clean["sampling_rate"], 16000).numpy()
    for clip, audio in (("mixture", vocals_16k), ("clean", clean_16k)):
        path = tmp / f"acc_{clip}.npy"
        np.save(path, audio.astype(np.float32))
        ref = mix if clip == "mixture" else clean
        for peer in peers:
            track = tmp / f"acc_{clip}_{peer}.npz"
            res = run_child(peers_python, ["--worker", f"peer:{peer}", "--vocals16k", str(path), "--save-track",
                                           str(track), "--threads", str(args.threads)], args.timeout)
            row = out.setdefault(f"peer: {peer}", {})
            if "error" in res:
                row[clip] = {"error": res["error"]}
                continue
            t = np.load(track)
            f0 = np.where(t["voiced"], t["f0"], -np.abs(t["f0"]))
            row[clip] = ep.score(ref["ref_times"], ref["ref_f0"], t["times"], f0, t["voiced"])
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--durations", type=float, nargs="+", default=[30, 180, 600, 3600],
                   help="input lengths in seconds (default: 30 s, 3, 10 and 60 min)")
    p.add_argument("--pairs", nargs="+", default=list(PAIR_NAMES), choices=list(PAIR_NAMES), help="our rows")
    p.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS), help="peer rows (none: ours only)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--peers-python", default=None, help="a Python with the peers installed (see peers_env.sh)")
    g.add_argument("--build-peers-venv", type=Path, default=None, metavar="DIR",
                   help="create (or complete) a venv for the peers in DIR with scripts/peers_env.sh and use it")
    p.add_argument("--threads", type=int, default=2, help="torch / onnxruntime threads per row")
    p.add_argument("--row-budget-s", type=float, default=900.0,
                   help="skip a row at a length whose predicted compute exceeds this (seconds)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds before a child process is killed")
    p.add_argument("--speed-target", type=float, default=SPEED_TARGET)
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    p.add_argument("--wheels", type=Path, default=REPO / "wheels")
    p.add_argument("--models-dir", type=Path, default=REPO / "converted" / "pairs",
                   help="where the converted pairs are saved for the child processes (built once)")
    p.add_argument("--pairs-json", type=Path, default=MEASURED_DIR / "pairs.json",
                   help="our accuracy rows from evaluate_pairs.py, when present")
    p.add_argument("--recompute-accuracy", action="store_true", help="measure our accuracy rows again")
    p.add_argument("--no-accuracy", action="store_true", help="speed and memory only")
    p.add_argument("--output", type=Path, default=MEASURED_DIR, help="where benchmark.{json,md} go")
    p.add_argument("--dry-run", action="store_true", help="print the plan (rows × lengths) and run nothing")
    # worker mode (internal)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--model", default=None, help=argparse.SUPPRESS)
    p.add_argument("--input", default=None, help=argparse.SUPPRESS)
    p.add_argument("--vocals16k", default=None, help=argparse.SUPPRESS)
    p.add_argument("--save-vocals", default=None, help=argparse.SUPPRESS)
    p.add_argument("--save-track", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if any(d <= 0 for d in args.durations):
        p.error("--durations must be positive seconds")
    if args.threads < 1:
        p.error("--threads must be >= 1")
    return args


def plan_rows(args) -> list[str]:
    return [f"ours: {p}" for p in args.pairs] + [CLI_ROW] + (["separator"] + [f"peer: {p}" for p in args.peers]
                                                             if args.peers else [])


def portable_command(argv) -> str:
    from majl_hf.utils import portable_command as portable

    return portable("OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 python scripts/benchmark.py", argv,
                    {"--peers-python": "<peers-venv>/bin/python"})


def _model_arg(pair: str, paths: dict) -> str:
    """The default pair loads as majl_hf.DEFAULT_MODEL when the HF cache holds it (what a user gets)."""
    if pair == default_pair():
        from huggingface_hub import try_to_load_from_cache

        import majl_hf

        hit = try_to_load_from_cache(majl_hf.DEFAULT_MODEL, "model.safetensors")
        if isinstance(hit, str):
            return majl_hf.DEFAULT_MODEL
    return str(paths[pair])


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    rows_planned = plan_rows(args)
    if args.dry_run:
        print("rows: " + ", ".join(rows_planned))
        print("lengths: " + ", ".join(_dur(d) for d in args.durations))
        return 0
    peers_python = args.peers_python
    if args.build_peers_venv is not None:
        peers_python = build_peers_venv(args.build_peers_venv)
    results = {"command": portable_command(sys.argv[1:] if argv is None else argv),
               "when": time.strftime("%Y-%m-%d %H:%M"), "threads": args.threads,
               "cpus": os.cpu_count(), "load_before": machine_load(), "durations": args.durations,
               "speed_target": args.speed_target, "rows": {}, "accuracy": {}, "notes": []}
    peers = list(args.peers)
    if peers and not peers_python:
        results["notes"].append("peer rows not run: no --peers-python or --build-peers-venv given")
        peers = []
    if peers:
        versions = check_peers_python(peers_python)
        results["peer_versions"] = versions
        needs = {"torchcrepe-full": "torchcrepe", "torchcrepe-tiny": "torchcrepe", "torchfcpe": "torchfcpe",
                 "pesto": "pesto-pitch", "swiftf0": "swift-f0"}
        for peer in list(peers):
            if versions.get(needs[peer]) is None:
                results["notes"].append(f"peer: {peer} not run: {needs[peer]} is not installed in the peers' Python")
                peers.remove(peer)
    print(f"benchmark: {args.threads} threads, load {results['load_before']}", flush=True)
    env = {"OMP_NUM_THREADS": str(args.threads)}
    common = ["--shared", str(args.shared), "--wheels", str(args.wheels), "--models-dir", str(args.models_dir),
              "--threads", str(args.threads)]
    labels = [f"ours: {p}" for p in args.pairs] + [CLI_ROW] + (["separator"] + [f"peer: {p}" for p in peers]
                                                               if peers else [])
    rows = {label: {} for label in labels}
    last_rtf: dict = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        prep = run_child(sys.executable, ["--worker", "prepare", "--input", str(tmp), "--durations",
                                          *map(str, args.durations), "--pairs",
                                          *dict.fromkeys(args.pairs + [default_pair()]), *common], args.timeout, env)
        if "error" in prep:
            raise RuntimeError(f"could not prepare the models and inputs: {prep['error']}")
        results["torch"], paths = prep["torch"], prep["paths"]
        for seconds in args.durations:
            path = Path(prep["inputs"][f"{seconds:g}"])
            vocals = tmp / f"vocals_{seconds:g}.npy"
            for label in labels:
                predicted = last_rtf.get(label, 0.0) * seconds
                if label.startswith("peer:"):
                    predicted += last_rtf.get("separator", 0.0) * seconds
                if predicted > args.row_budget_s and label != CLI_ROW:  # the CLI's memory at every length
                    res = {"error": f"skipped: predicted {predicted:.0f} s of compute > --row-budget-s "
                                    f"{args.row_budget_s:.0f}"}
                elif label.startswith("ours: "):
                    pair = label[len("ours: "):]
                    res = run_child(sys.executable, ["--worker", "ours", "--model", prep["model_args"][pair],
                                                     "--input", str(path), "--threads", str(args.threads)],
                                    args.timeout, env)
                elif label == CLI_ROW:
                    res = run_child(sys.executable, ["--worker", "cli", "--model", prep["model_args"][default_pair()],
                                                     "--input", str(path), "--save-track", str(tmp / "cli_out"),
                                                     "--threads", str(args.threads)], args.timeout, env)
                elif label == "separator":
                    res = run_child(sys.executable, ["--worker", "separator", "--model", str(paths[default_pair()]),
                                                     "--input", str(path), "--save-vocals", str(vocals),
                                                     "--threads", str(args.threads)], args.timeout, env)
                else:
                    sep = rows["separator"].get(str(seconds), {})
                    if "error" in sep or not vocals.is_file():
                        res = {"error": "no separated vocals at this length (the separator row did not run)"}
                    else:
                        one = run_child(peers_python, ["--worker", label.replace("peer: ", "peer:"),
                                                       "--vocals16k", str(vocals), "--threads", str(args.threads)],
                                        args.timeout, env)
                        res = one if "error" in one else {
                            "peak_rss_mb_self": max(sep["peak_rss_mb_self"], one["peak_rss_mb_self"]),
                            "compute_s": sep["compute_s"] + one["compute_s"], "cpu_s": sep["cpu_s"] + one["cpu_s"],
                            "wall_s": sep["wall_s"] + one["wall_s"],
                            "peak_rss_mb": max(sep["peak_rss_mb"], one["peak_rss_mb"]),
                            "peer_alone": {"compute_s": one["compute_s"], "rtf": one["compute_s"] / seconds,
                                           "wall_s": one["wall_s"], "peak_rss_mb": one["peak_rss_mb"]}}
                res["input_s"] = seconds
                if "compute_s" in res:
                    res["rtf"] = res["compute_s"] / seconds
                    res["cpu_per_audio_s"] = res["cpu_s"] / seconds
                    last_rtf[label] = res["peer_alone"]["rtf"] if "peer_alone" in res else res["rtf"]
                rows[label][str(seconds)] = res
                print(f"{_dur(seconds):>7}  {label:<26} {_rtf_cell(res)}   (load {machine_load()})", flush=True)
            vocals.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
        results["rows"] = rows
        if not args.no_accuracy:
            extra = ["--pairs-json", str(args.pairs_json)] + (["--recompute-accuracy"] if args.recompute_accuracy
                                                              else [])
            if peers:
                extra += ["--peers-python", peers_python, "--peers", *peers]
            else:
                extra += ["--peers"]
            acc = run_child(sys.executable, ["--worker", "accuracy", "--input", str(tmp), "--model", json.dumps(paths),
                                             "--pairs", *args.pairs, *extra, *common], args.timeout, env)
            if "error" in acc:
                results["notes"].append(f"accuracy not measured: {acc['error']}")
            else:
                results["accuracy"] = {k: v for k, v in acc.items() if k not in ("wall_s", "peak_rss_mb")}
    results["load_after"] = machine_load()
    results["choice"] = choose_default(rows, results["accuracy"], args.speed_target, peers)
    results["notes"].append(f"majl_hf.DEFAULT_MODEL today is {default_pair()} (majl-hf/majl-{default_pair()}).")
    md = to_markdown(results)
    print(md)
    from majl_hf.utils import write_json_atomic, write_text_atomic

    args.output.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.output / "benchmark.json", results)
    write_text_atomic(args.output / "benchmark.md", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
