"""Measure the quality of the pretrained defaults on the real excerpts in ``shared/data`` and write
it into their model cards (``quality.json`` + ``quality.md`` beside the weights; the card is
re-rendered and the HF cache re-seeded):

* vocal SDR (BSS Eval, mir_eval) of the default's vocals from the mixture, on the MUSDB18-HQ and
  MedleyDB "80s Rock" excerpts — beside the original TensorFlow Spleeter's own output from
  ``shared/reference/spleeter/real_concat_17s_vocals.wav`` (whose second part is that MedleyDB mix);
* RPA / RCA / OA / VR / VFA (mir_eval.melody, 20 ms grid, 50 cents) against the MedleyDB 80sRock
  vocal pitch annotation, from the mixture — beside torchcrepe run on the same separated vocals
  (its defaults: 10 ms hop, Viterbi decoding; voiced where periodicity ≥ 0.5, our rule), when a
  Python with torchcrepe is given.

    python scripts/evaluate_default.py --converted converted --shared ../shared [--torchcrepe-python PY]

Repository maintenance wired to the shared excerpts (not part of the package).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate_pairs  # noqa: E402  (scripts/: the pipeline's pitch on every frame, scored as there)

from majl_hf.defaults import DEFAULT_VARIANTS  # noqa: E402
from majl_hf.evaluation import bss_eval_sdr, melody_metrics
from majl_hf.hub.render import measured_dir

MEASURED_DIR = measured_dir()  # majl_hf/hub/model_cards/measured: package data the cards quote

TORCHCREPE_SNIPPET = r"""
import sys, types, json, numpy as np, torch
sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))  # only torchcrepe.load uses it
import torchcrepe
audio = torch.from_numpy(np.load(sys.argv[1]))[None]
out = {}
for model in ("tiny", "full"):
    f0, per = torchcrepe.predict(audio, 16000, model=model, batch_size=512, device="cpu", return_periodicity=True)
    out[model] = {"f0_hz": f0[0].tolist(), "periodicity": per[0].tolist()}
print(json.dumps(out))
"""


def _sdr(reference: np.ndarray, estimate: np.ndarray) -> float | None:
    score = bss_eval_sdr(reference, estimate, allow_length_mismatch=True)
    return None if score.sdr is None else round(float(score.sdr), 2)


def _pct(x):
    return None if x is None else round(100.0 * float(x), 1)


def measure(shared: Path, torchcrepe_python: str | None) -> dict:
    import torch
    from transformers import pipeline

    from majl_hf.data import iter_medleydb
    from majl_hf.inference.apply import resample_long

    data = shared / "data"
    musdb = data / "MUSDB18-HQ" / "train" / "Music Delta - 80s Rock"
    medley = next(iter_medleydb(data / "MedleyDB", tracks=["MusicDelta_80sRock"]))
    clips = {
        "MUSDB18-HQ 80sRock": (
            sf.read(musdb / "mixture.wav", dtype="float32")[0].T,
            sf.read(musdb / "vocals.wav", dtype="float32")[0].T,
        ),
        "MedleyDB 80sRock": (medley["mixture"], medley["vocals"]),
    }
    results: dict = {"separation": {}, "pitch": {}}
    # the original TensorFlow Spleeter's vocals on the MedleyDB mix (second part of real_concat_17s)
    ref_dir = shared / "reference" / "spleeter"
    spleeter_vocals, _ = sf.read(ref_dir / "real_concat_17s_vocals.wav", dtype="float32")
    n_medley = clips["MedleyDB 80sRock"][0].shape[-1]
    spleeter_medley = spleeter_vocals[-n_medley:].T
    results["separation"]["Spleeter 2stems (TensorFlow original)"] = {
        "MedleyDB 80sRock, inside real_concat_17s.wav (the original's input)": _sdr(
            clips["MedleyDB 80sRock"][1], spleeter_medley
        )
    }
    # like for like: our default on the very file the original saw (the excerpt then sits at the
    # same place within Spleeter's independent 512-frame patches)
    concat, _ = sf.read(ref_dir / "real_concat_17s.wav", dtype="float32")
    ref_times, ref_f0 = medley["times_s"], medley["f0_hz"]
    vocals_16k = None
    for variant, repo_id in DEFAULT_VARIANTS.items():
        pipe = pipeline("majl-vocal", model=repo_id)
        row = {}
        for name, (mix, voc) in clips.items():
            with torch.no_grad():  # every frame analysed, as evaluate_pairs (RPA sees the pitch everywhere)
                outputs = pipe._forward(pipe.preprocess({"array": mix, "sampling_rate": 44100}), skip_unvoiced=False)
            out = pipe.postprocess(outputs)
            row[name] = _sdr(voc, out["vocals"])
            if name == "MedleyDB 80sRock":
                # the pitch on every frame, the voicing apart (mir_eval's convention, as the torchcrepe rows):
                # RPA / RCA then score the pitch on every annotated frame, OA / VR / VFA the voicing
                times, f0, voiced = evaluate_pairs._pipeline_f0(pipe, outputs, {})
                m = melody_metrics(ref_times, ref_f0, times, np.abs(f0), est_voicing=voiced.astype(float))
                results["pitch"][f"{repo_id} (from the mixture)"] = {
                    k: _pct(m[k]) for k in ("rpa", "rca", "oa", "vr", "vfa")
                }
                if vocals_16k is None:
                    vocals_16k = resample_long(torch.from_numpy(out["vocals"].mean(0)), 44100, 16000).numpy()
        # at the file's own level, as the original saw it (no level normalisation: like for like)
        same = pipe({"array": concat.T, "sampling_rate": 44100}, return_accompaniment=False, normalize_level=False)
        row["MedleyDB 80sRock, inside real_concat_17s.wav (the original's input)"] = _sdr(
            clips["MedleyDB 80sRock"][1], same["vocals"][:, -n_medley:]
        )
        results["separation"][repo_id] = row
    mix, _ = clips["MedleyDB 80sRock"]
    results["separation"]["mixture as the estimate"] = {name: _sdr(v, m) for name, (m, v) in clips.items()}
    if torchcrepe_python:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "vocals16k.npy"
            np.save(path, vocals_16k.astype(np.float32))
            proc = subprocess.run(
                [torchcrepe_python, "-c", TORCHCREPE_SNIPPET, str(path)], capture_output=True, text=True
            )
        if proc.returncode == 0:
            tc = json.loads(proc.stdout.strip().splitlines()[-1])
            for model, track in tc.items():
                f0 = np.asarray(track["f0_hz"])
                voiced = np.asarray(track["periodicity"]) >= 0.5
                times = np.arange(len(f0)) * 0.01
                m = melody_metrics(ref_times, ref_f0, times, f0, est_voicing=voiced.astype(float))
                results["pitch"][f"torchcrepe {model} (same separated vocals)"] = {
                    k: _pct(m[k]) for k in ("rpa", "rca", "oa", "vr", "vfa")
                }
        else:
            results["pitch"]["torchcrepe"] = {"error": proc.stderr.strip().splitlines()[-1][:200]}
    return results


def _portable_command(argv) -> str:
    """The command line without this machine's paths (absolute paths become their last part)."""
    from majl_hf.utils import portable_command

    return portable_command("python scripts/evaluate_default.py", argv,
                            {"--torchcrepe-python": "<python-with-torchcrepe-0.0.24>"})


def to_markdown(results: dict) -> str:
    lines = [
        f"Measured by `{results['command']}` on the real excerpts of `shared/data` (6.8 s each; "
        'MUSDB18-HQ and MedleyDB hold the same "80s Rock" excerpt, the former decoded from AAC).',
        "",
        "Vocal SDR (dB, BSS Eval `mir_eval.separation`, vocals from the mixture):",
        "",
        "| system | MUSDB18-HQ 80sRock | MedleyDB 80sRock | MedleyDB 80sRock inside `real_concat_17s.wav` (the original's input) |",  # noqa: E501
        "|---|---|---|---|",
    ]
    concat_key = "MedleyDB 80sRock, inside real_concat_17s.wav (the original's input)"
    for system, row in results["separation"].items():
        cells = [row.get(k) for k in ("MUSDB18-HQ 80sRock", "MedleyDB 80sRock", concat_key)]
        lines.append(f"| {system} | " + " | ".join("—" if c is None else str(c) for c in cells) + " |")
    lines += [
        "",
        "Pitch on the MedleyDB 80sRock vocal annotation (%, mir_eval.melody, 20 ms grid, 50 cents; every row "
        "gives its pitch on every frame and its voicing apart, mir_eval's convention: RPA / RCA score the pitch "
        "on every annotated frame, OA / VR / VFA the voicing):",
        "",
        "| system | RPA | RCA | OA | VR | VFA |",
        "|---|---|---|---|---|---|",
    ]
    for system, row in results["pitch"].items():
        if "error" in row:
            lines.append(f"| {system} | not run: {row['error']} | | | | |")
        else:
            lines.append(f"| {system} | " + " | ".join(str(row[k]) for k in ("rpa", "rca", "oa", "vr", "vfa")) + " |")
    if any(k.startswith("torchcrepe") for k in results["pitch"]):
        lines += [
            "",
            "torchcrepe dithers its bin-to-cents weights with random noise (±20 cents) at every run, "
            "so its rows move by up to about a percentage point between runs; ours are deterministic.",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from majl_hf.hub.cache import seed_hf_cache
    from majl_hf.hub.pretrained import measured_quality, write_card

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--converted", type=Path, default=Path("converted"), help="output folder of build_default.py")
    p.add_argument("--shared", type=Path, default=Path("../shared"))
    p.add_argument("--torchcrepe-python", default=None)
    p.add_argument(
        "--output",
        type=Path,
        default=MEASURED_DIR,
        help="where default_quality.{json,md} go (committed: build_default.py renders cards from it)",
    )
    args = p.parse_args(argv)
    results = measure(args.shared, args.torchcrepe_python)
    results["command"] = _portable_command(sys.argv[1:] if argv is None else argv)
    md = to_markdown(results)
    print(md)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "default_quality.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.output / "default_quality.md").write_text(md)
    for variant, repo_id in DEFAULT_VARIANTS.items():
        folder = args.converted / repo_id.split("/")[-1]
        if not folder.is_dir():
            continue
        report = json.loads((folder / "conversion_report.json").read_text())
        write_card(folder, repo_id, variant, report["equivalence"], measured_quality(repo_id))
        seed_hf_cache(folder, repo_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
