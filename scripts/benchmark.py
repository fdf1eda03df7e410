"""Speed and memory of majl_hf's inference, side by side with torchcrepe, in one run.

For each input length (default 30 s, 3 min, 10 min of real stereo 44.1 kHz music: the bundled
example tiled), each measurement runs in its own subprocess so that its peak RSS is its own:

  separator      our separator alone (streamed STFT, Spleeter U-Net), mixture → vocals
  pitch-tiny/full  our pitch stage alone on the same vocals (resample + CREPE), 20 ms grid
  pipeline-tiny/full  the whole `pipeline("majl-vocal")` call on the file: decode → vocals,
                 accompaniment, f0 (what a user runs)
  torchcrepe-tiny/full  torchcrepe.predict on the same vocals at 16 kHz (its default 10 ms hop),
                 run with --torchcrepe-python (a Python where torchcrepe is installed; its
                 torchaudio import is stubbed because only its file loader uses it)

Prints real-time factor (seconds of compute per second of audio) and peak RSS per row.

    python scripts/benchmark.py --durations 30 180 600 --torchcrepe-python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "audio_example.mp3"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_inputs(seconds_list, folder: Path) -> dict:
    import numpy as np
    import soundfile as sf

    x, sr = sf.read(str(EXAMPLE), dtype="float32", always_2d=True)
    paths = {}
    for seconds in seconds_list:
        n = int(seconds * sr)
        reps = -(-n // len(x))
        y = np.concatenate([x if i % 2 == 0 else x[::-1] for i in range(reps)])[:n]
        path = folder / f"mix_{seconds}s.wav"
        sf.write(path, y, sr, subtype="FLOAT")
        paths[seconds] = path
    return paths


# ------------------------------------------------------------------ workers (one per subprocess)
def worker(args) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    what = args.worker
    if what.startswith("torchcrepe"):
        import types

        sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))  # only torchcrepe.load uses it
        import torchcrepe

        audio = torch.from_numpy(np.load(args.vocals16k))[None]
        base = peak_rss_mb()
        t = time.perf_counter()
        torchcrepe.predict(audio, 16000, hop_length=160, model=what.split("-")[1], batch_size=512,
                           device="cpu", return_periodicity=True)
        return {"seconds": time.perf_counter() - t, "base_rss_mb": base, "peak_rss_mb": peak_rss_mb()}

    import soundfile as sf
    from transformers import pipeline

    import majl_hf
    from majl_hf.inference.apply import pitch_long, resample_long, separate_long

    model_id = majl_hf.DEFAULT_MODEL_TINY if what.endswith("tiny") else majl_hf.DEFAULT_MODEL
    if what.startswith("pipeline"):
        pipe = pipeline("majl-vocal", model=model_id)
        base = peak_rss_mb()
        t = time.perf_counter()
        pipe(str(args.input), vocal_gate_db=args.gate_db)
        return {"seconds": time.perf_counter() - t, "base_rss_mb": base, "peak_rss_mb": peak_rss_mb()}
    model = majl_hf.MajlModel.from_pretrained(model_id).eval()
    if what == "separator":
        mix, _ = sf.read(str(args.input), dtype="float32", always_2d=True)
        mix = torch.from_numpy(mix.T.copy())
        base = peak_rss_mb()
        t = time.perf_counter()
        vocals, _ = separate_long(model.separator, mix)
        elapsed = time.perf_counter() - t
        if args.save_vocals:
            np.save(args.save_vocals, vocals.numpy())
            y = resample_long(vocals.mean(0), 44100, 16000).numpy()
            np.save(args.save_vocals.replace(".npy", "_16k.npy"), y)
        return {"seconds": elapsed, "base_rss_mb": base, "peak_rss_mb": peak_rss_mb()}
    if what.startswith("pitch"):
        vocals = torch.from_numpy(np.load(args.vocals))
        base = peak_rss_mb()
        t = time.perf_counter()
        pitch_long(model, vocals, gate_db=args.gate_db)
        return {"seconds": time.perf_counter() - t, "base_rss_mb": base, "peak_rss_mb": peak_rss_mb()}
    raise ValueError(what)


def run_worker(python, what, input_path, seconds, extra, threads, gate_db, timeout):
    cmd = [python, str(Path(__file__).resolve()), "--worker", what, "--input", str(input_path),
           "--threads", str(threads), *extra]
    if gate_db is not None:
        cmd += ["--gate-db", str(gate_db)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["rtf"] = res["seconds"] / seconds
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--durations", type=float, nargs="+", default=[30, 180, 600], help="input lengths in seconds")
    p.add_argument("--what", nargs="+", default=["separator", "pitch-tiny", "pitch-full", "pipeline-tiny",
                                                   "pipeline-full", "torchcrepe-tiny", "torchcrepe-full"])
    p.add_argument("--torchcrepe-python", default=None, help="a Python with torchcrepe installed (else skipped)")
    p.add_argument("--baseline-max-seconds", type=float, default=180,
                   help="run torchcrepe only on inputs up to this length (its RTF does not depend on length)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gate-db", type=float, default=None, help="vocal-activity gate for our pitch stage (dBFS)")
    p.add_argument("--timeout", type=int, default=3600)
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    # worker mode
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--input", default=None, help=argparse.SUPPRESS)
    p.add_argument("--vocals", default=None, help=argparse.SUPPRESS)
    p.add_argument("--vocals16k", default=None, help=argparse.SUPPRESS)
    p.add_argument("--save-vocals", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    import torch

    print(f"majl_hf benchmark — torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs visible, "
          f"gate {args.gate_db} dBFS")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(args.durations, Path(tmp))
        for seconds, path in inputs.items():
            vocals = Path(tmp) / f"vocals_{seconds}.npy"
            first = run_worker(sys.executable, "separator", path, seconds, ["--save-vocals", str(vocals)],
                               args.threads, args.gate_db, args.timeout)
            for what in args.what:
                if what == "separator":
                    res = first
                elif what.startswith("torchcrepe"):
                    if not args.torchcrepe_python:
                        res = {"error": "skipped: no --torchcrepe-python"}
                    elif seconds > args.baseline_max_seconds:
                        res = {"error": f"skipped: > {args.baseline_max_seconds:.0f} s (--baseline-max-seconds)"}
                    else:
                        res = run_worker(args.torchcrepe_python, what, path, seconds,
                                         ["--vocals16k", str(vocals).replace(".npy", "_16k.npy")],
                                         args.threads, None, args.timeout)
                else:
                    res = run_worker(sys.executable, what, path, seconds, ["--vocals", str(vocals)],
                                     args.threads, args.gate_db, args.timeout)
                rows.append({"input_s": seconds, "what": what, **res})
                r = rows[-1]
                if "error" in r:
                    print(f"{seconds:>6.0f} s  {what:<16} {r['error']}", flush=True)
                else:
                    print(f"{seconds:>6.0f} s  {what:<16} RTF {r['rtf']:7.3f}   peak RSS {r['peak_rss_mb']:7.0f} MB"
                          f"   (after load {r['base_rss_mb']:.0f} MB)", flush=True)
    print("\nsummary (RTF = compute seconds per audio second; lower is faster)")
    whats = list(dict.fromkeys(r["what"] for r in rows))
    print(f"{'':<16}" + "".join(f"{d:>14.0f} s" for d in args.durations))
    for w in whats:
        cells = []
        for d in args.durations:
            r = next((r for r in rows if r["what"] == w and r["input_s"] == d), {})
            cells.append(f"{r['rtf']:6.3f}/{r['peak_rss_mb']:5.0f}MB" if "rtf" in r else f"{'—':>16}")
        print(f"{w:<16}" + "".join(f"{c:>16}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
