"""Measure the voicing rules of ``majl_hf.pitch.voicing`` (and the Viterbi decoder's speed) on the
labelled real excerpts of ``shared/data``, with the real pretrained default model.

For each excerpt the cascade runs once (``majl_hf.inference.apply.apply_majl``); the evidence of
every pitch frame (peak activation, separated vocals' level, mixture's level, both through
``resample_long`` + ``frame_rms_db`` as the cascade measures them) then goes through each rule.
Printed per rule: RPA / RCA / OA / VR / VFA (%, ``majl_hf.evaluation.pitch``, 20 ms grid, 50 cents)
pooled over the labelled excerpts with vocals, the same from the mixtures only, and the % of frames
voiced on the excerpts without voice (instrumental MusicDelta_Beethoven, MIR-1K amy_3_01's first
2 s where nobody sings yet, digital silence, white noise).

    HF_HOME=.hf_home HF_HUB_OFFLINE=1 python scripts/measure_voicing.py [--model tiny|full|REPO] \\
        [--shared ../shared] [--cache evidence.npz] [--decoder weighted_average|viterbi]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from majl_hf.pitch.voicing import (  # noqa: E402
    DEFAULT_VOICING,
    All,
    FillGaps,
    Hysteresis,
    MinDuration,
    PeakThreshold,
    ViterbiVoicing,
    VocalEnergyGate,
    VoicingEvidence,
)

RULES = {
    "paper: PeakThreshold(0.5)": PeakThreshold(0.5),
    "PeakThreshold(0.7)": PeakThreshold(0.7),
    "Hysteresis(0.5, 0.3)": Hysteresis(0.5, 0.3),
    "VocalEnergyGate(-20, -80) & PeakThreshold(0.5)": All(PeakThreshold(0.5), VocalEnergyGate(-20.0, -80.0)),
    "VocalEnergyGate(-10, -80) & PeakThreshold(0.5)": All(PeakThreshold(0.5), VocalEnergyGate(-10.0, -80.0)),
    "MinDuration(0.06, PeakThreshold(0.5))": MinDuration(0.06, PeakThreshold(0.5)),
    "ViterbiVoicing(0.5, 0.01)": ViterbiVoicing(0.5, 0.01),
    "ViterbiVoicing(0.5, 0.01, gate=VocalEnergyGate(-15, -80))": ViterbiVoicing(0.5, 0.01, gate=VocalEnergyGate()),
    "VocalEnergyGate(-15, -80) & PeakThreshold(0.5)": All(PeakThreshold(0.5), VocalEnergyGate(-15.0, -80.0)),
    "MinDuration(0.06, Hysteresis(0.5, 0.3) & VocalEnergyGate(-15, -80))":
        MinDuration(0.06, All(Hysteresis(0.5, 0.3), VocalEnergyGate(-15.0, -80.0))),
    "FillGaps(0.04, DEFAULT)": FillGaps(0.04, DEFAULT_VOICING),
    "DEFAULT: MinDuration(0.06, PeakThreshold(0.5) & VocalEnergyGate(-15, -80))": DEFAULT_VOICING,
}


def _excerpts(data: Path):
    """(name, mixture (C, N) float32, sampling rate, reference f0 on the 20 ms grid or None, is_mixture)."""
    import soundfile as sf

    from majl_hf.data import iter_medleydb, iter_mir1k
    from majl_hf.data.base import grid_times
    from majl_hf.data.medleydb import pitch_csv_on_grid
    from majl_hf.pitch import resample_f0

    rock = next(iter_medleydb(data / "MedleyDB", tracks=["MusicDelta_80sRock"]))
    yield "MedleyDB 80sRock (mixture)", rock["mixture"], rock["sampling_rate"], rock["f0_hz"], True
    beet = next(iter_medleydb(data / "MedleyDB", tracks=["MusicDelta_Beethoven"]))
    yield "MedleyDB Beethoven (instrumental mixture)", beet["mixture"], beet["sampling_rate"], beet["f0_hz"], True
    amy = next(iter_mir1k(data / "MIR-1K", max_label_excess_s=2.5))
    yield "MIR-1K amy_3_01 (mixture, 2 s before the voice)", amy["mixture"], amy["sampling_rate"], amy["f0_hz"], True
    stem = data / "MedleyDB" / "Audio" / "AClassicEducation_NightOwl" / "AClassicEducation_NightOwl_STEMS"
    x, sr = sf.read(stem / "AClassicEducation_NightOwl_STEM_08.wav", dtype="float32", always_2d=True)
    f0 = pitch_csv_on_grid(data / "MedleyDB" / "Annotations" / "Pitch" / "AClassicEducation_NightOwl_STEM_08.csv",
                           x.shape[0], sr)
    yield "MedleyDB NightOwl vocal stem (clean singing)", x.T, sr, f0, False
    synth = data / "extra" / "mdb_stem_synth"
    x, sr = sf.read(synth / "audio_stems" / "AClassicEducation_NightOwl_STEM_08.RESYN.wav", dtype="float32",
                    always_2d=True)
    ann = np.loadtxt(synth / "annotation_stems" / "AClassicEducation_NightOwl_STEM_08.RESYN.csv", delimiter=",")
    f0 = resample_f0(ann[:, 0], ann[:, 1], grid_times(x.shape[0], sr), max_gap_s=0.01)
    yield "MDB-stem-synth NightOwl (resynthesised voice)", x.T, sr, f0, False
    rng = np.random.default_rng(0)
    yield "digital silence (2 s)", np.zeros((2, 88200), np.float32), 44100, np.zeros(101), True
    noise = (0.1 * rng.standard_normal((2, 88200))).astype(np.float32)
    yield "white noise, -20 dBFS (2 s)", noise, 44100, np.zeros(101), True


def _cascade_fields(res):
    """(probabilities (T, bins), vocals (C, N), times (T,) numpy) of apply_majl's result (a MajlOutput
    with a batch axis, or the older CascadeResult)."""
    probs = getattr(res, "pitch_probabilities", None)
    if probs is None:
        return res.probabilities, res.vocals, np.asarray(res.times_s)
    return probs[0], res.vocals[0], np.asarray(res.times_s)


def collect(model_id: str, data: Path) -> list[dict]:
    from majl_hf import MajlModel
    from majl_hf.feature_extraction_majl import load_audio, to_model_input
    from majl_hf.inference.apply import apply_majl

    model = MajlModel.from_pretrained(model_id).eval()
    pe_cfg = model.pitch_estimator.config
    out = []
    for name, mix, sr, f0, is_mix in _excerpts(data):
        audio, info = load_audio({"array": mix, "sampling_rate": sr})
        x = torch.from_numpy(to_model_input(audio, info, model.sampling_rate, model.audio_channels))
        t0 = time.perf_counter()
        res = apply_majl(model, x)
        wall = time.perf_counter() - t0
        probs, vocals, times = _cascade_fields(res)
        ev = VoicingEvidence.from_audio(probs.amax(-1), vocals, x, model.sampling_rate,
                                        pitch_sampling_rate=pe_cfg.sampling_rate, hop_length=pe_cfg.hop_length,
                                        frame_length=getattr(pe_cfg, "frame_length", 1024))
        out.append(dict(name=name, probs=probs.numpy(), times=times, ref_f0=np.asarray(f0),
                        confidence=ev.confidence, vocals_db=ev.vocals_db, mixture_db=ev.mixture_db,
                        period=ev.frame_period_s, is_mixture=is_mix, seconds=x.shape[-1] / model.sampling_rate,
                        wall_s=wall))
        print(f"  {name}: {out[-1]['seconds']:.1f} s audio, cascade {wall:.1f} s", flush=True)
    return out


def _save(path: Path, clips: list[dict]):
    flat = {}
    for i, c in enumerate(clips):
        for k, v in c.items():
            flat[f"{i}/{k}"] = np.asarray(v)
    np.savez_compressed(path, **flat)


def _load(path: Path) -> list[dict]:
    z = np.load(path, allow_pickle=False)
    clips: dict[int, dict] = {}
    for key in z.files:
        i, k = key.split("/", 1)
        v = z[key]
        clips.setdefault(int(i), {})[k] = v.item() if v.ndim == 0 else v
    return [clips[i] for i in sorted(clips)]


def evaluate(clips: list[dict], decoder: str) -> list[tuple[str, dict]]:
    from majl_hf import CrepeConfig
    from majl_hf.evaluation.pitch import aggregate_melody_metrics, melody_metrics
    from majl_hf.pitch import cents_to_hz, decode_cents

    bins = CrepeConfig().pitch_bins
    for c in clips:
        if len(c["probs"]) and c["probs"].shape[-1] != bins.n_bins:
            raise SystemExit("measure_voicing.py decodes CREPE's 360-bin layout; this model has another")
        c["f0"] = cents_to_hz(decode_cents(torch.from_numpy(c["probs"]), bins, decoder).double()).numpy()
    rows = []
    for label, rule in RULES.items():
        per_all, per_mix, silent = [], [], {}
        for c in clips:
            ev = VoicingEvidence(c["confidence"], c["vocals_db"], c["mixture_db"], float(c["period"]))
            voiced = rule(ev)
            ref = c["ref_f0"]
            n = min(len(ref), len(voiced))
            if not (ref > 0).any():
                silent[c["name"]] = 100.0 * voiced.mean()
            m = melody_metrics(c["times"][:n], ref[:n], c["times"][:n], c["f0"][:n],
                               est_voicing=voiced[:n].astype(float))
            if (ref > 0).any():
                per_all.append(m)
                if c["is_mixture"]:
                    per_mix.append(m)
        rows.append((label, {"all": aggregate_melody_metrics(per_all), "mix": aggregate_melody_metrics(per_mix),
                             "silent": silent}))
    return rows


def _pct(x):
    return "—" if x is None else f"{100 * x:.1f}"


def print_table(rows, clips, decoder):
    silent_names = [c["name"] for c in clips if not (c["ref_f0"] > 0).any()]
    print(f"\nVoicing rules, decoder={decoder}; metrics in % (mir_eval.melody, 20 ms, 50 cents)")
    print("pooled over excerpts with voice: " + "; ".join(c["name"] for c in clips if (c["ref_f0"] > 0).any()))
    head = ["rule", "RPA", "RCA", "OA", "VR", "VFA", "OA mix", "VR mix", "VFA mix"]
    head += [f"voiced % {n}" for n in silent_names]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for label, r in rows:
        a, m = r["all"], r["mix"]
        cells = [label] + [_pct(a[k]) for k in ("rpa", "rca", "oa", "vr", "vfa")]
        cells += [_pct(m[k]) for k in ("oa", "vr", "vfa")]
        cells += [f"{r['silent'][n]:.1f}" for n in silent_names]
        print("| " + " | ".join(cells) + " |")


def time_viterbi(clips):
    """Viterbi decoding time per audio hour, from the real activations tiled to one hour."""
    from majl_hf.pitch.decode import viterbi_paths

    real = np.concatenate([c["probs"] for c in clips if len(c["probs"])])
    reps = int(np.ceil(180000 / len(real)))
    hour = torch.from_numpy(np.tile(real, (reps, 1))[:18000])  # 6 minutes, scaled to the hour below
    t0 = time.perf_counter()
    viterbi_paths(hour)
    dt = (time.perf_counter() - t0) * 10
    print(f"\nviterbi_paths on real activations: {dt:.2f} s per hour of 20 ms frames (measured on 6 min × 10)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="full", help="'full' (majl_hf.DEFAULT_MODEL), 'tiny' or a repo/folder")
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    p.add_argument("--cache", type=Path, default=None, help="npz of the evidence: written if absent, read if present")
    p.add_argument("--decoder", default="weighted_average", choices=("weighted_average", "argmax", "viterbi"))
    p.add_argument("--time-viterbi", action="store_true")
    args = p.parse_args(argv)
    import majl_hf

    model_id = {"full": majl_hf.DEFAULT_MODEL, "tiny": majl_hf.DEFAULT_MODEL_TINY}.get(args.model, args.model)
    if args.cache is not None and args.cache.is_file():
        clips = _load(args.cache)
    else:
        print(f"running {model_id} on the excerpts of {args.shared / 'data'}", flush=True)
        clips = collect(model_id, args.shared / "data")
        if args.cache is not None:
            _save(args.cache, clips)
    print(f"model: {model_id}")
    for c in clips:
        ref = c["ref_f0"]
        sung = ref[: len(c["vocals_db"])] > 0
        if sung.any() and c["is_mixture"]:
            ratio = (c["vocals_db"] - c["mixture_db"])[: len(sung)]
            print(f"  {c['name']}: vocal-to-mixture ratio on sung frames median {np.median(ratio[sung]):.1f} dB, "
                  f"5th percentile {np.percentile(ratio[sung], 5):.1f} dB; on unsung frames median "
                  f"{np.median(ratio[~sung]) if (~sung).any() else float('nan'):.1f} dB")
        elif not sung.any():
            ratio = c["vocals_db"] - c["mixture_db"]
            print(f"  {c['name']}: vocal-to-mixture ratio median {np.median(ratio):.1f} dB, max {ratio.max():.1f} dB; "
                  f"peak activation median {np.median(c['confidence']):.2f}, max {c['confidence'].max():.2f}")
    rows = evaluate(clips, args.decoder)
    print_table(rows, clips, args.decoder)
    if args.time_viterbi:
        time_viterbi(clips)
    return 0


if __name__ == "__main__":
    sys.exit(main())
