"""Evaluate a MAJL model on a corpus split: the model's ``majl-vocal`` pipeline on every track, the
metrics of :mod:`majl_hf.evaluation` on its outputs, and three files beside each other::

    metrics.json     summary + per-track scores, settings, command line, package versions and the
                     model's revision (HF-cache snapshot commit for a Hub id, sha256 of the weights)
    per_track.csv    one row per track (report.per_track_csv)
    table2.md        the summary laid out like the MAJL paper's Table 2 (report.table2_markdown)

    from majl_hf.evaluation.runner import EvaluationSettings, evaluate
    result = evaluate("majl-hf/majl-unet-crepe-full",
                      EvaluationSettings(corpus="mir1k", root="/data/MIR-1K", split="test"),
                      output_dir="eval/mir1k")

Metrics, per track then over the split (MAJL_SPEC §5):

- ``sdr``: BSS Eval v3 SDR (``mir_eval.separation``; ``bss_eval_sources`` for mono, ``_images`` for
  stereo) of the vocal estimate; summary = the length-weighted mean (GSDR).
- ``nsdr`` = SDR(ŝ, s) − SDR(x, s); summary ``gnsdr`` = its length-weighted mean (Hsu & Jang).
- ``sdr_energy``: the plain energy-ratio SDR 10·log10(‖s‖²/‖s − ŝ‖²); summary length-weighted.
- ``museval_sdr`` (MUSDB18 by default): BSS Eval v4 median over 1 s windows (museval); summary =
  the median over tracks, the SiSEC/MUSDB18 convention.
- ``conpoff_f``, ``conp_f``, ``con_f`` (with their precision / recall) for corpora with note
  annotations (MIR-ST500, whose corpus gives ``reference_notes(id)``): the pipeline's f0 (voiced
  frames) segmented into notes by :func:`majl_hf.notes.segment_notes` and scored with
  ``mir_eval.transcription`` (:func:`majl_hf.notes.note_metrics`: onset 50 ms, pitch 50 cents,
  offset 20 % / 50 ms); summaries are the mean over tracks (MIR-ST500's convention).
- ``rpa``, ``rca``, ``oa``, ``vr``, ``vfa`` on the 20 ms grid (``mir_eval.melody``), for tracks with
  pitch labels; summaries are frame-weighted (= the metric over all frames pooled). By default an
  unvoiced estimated frame keeps its pitch guess as a negative f0 (mir_eval / MIREX convention), so
  RPA and RCA measure pitch independently of the voicing decision; ``unvoiced_pitch="zero"``
  drops it.

A track whose reference vocals are silent (an instrumental track) has no SDR: its status is
``silent_reference``, it is listed under ``silent_reference_tracks`` and left out of the means — never
counted as 0 or ±inf. Needs the ``eval`` extra (mir_eval, museval).
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..utils import sha256_file, write_json_atomic
from .pitch import GRID_S, aggregate_melody_metrics, melody_metrics
from .report import summarize, table2_markdown, to_jsonable, write_per_track_csv
from .separation import (
    SILENT_RMS,
    STATUS_OK,
    STATUS_SILENT_REFERENCE,
    SdrScore,
    energy_ratio_sdr,
    gnsdr,
    gsdr,
    museval_median_sdr,
    museval_sdr,
    nsdr,
)

SCHEMA = "majl_hf.evaluation/1"
SPLITS = ("train", "test", "validation", "all")
UNVOICED_PITCH = ("guess", "zero")
MUSEVAL = ("auto", "on", "off")
SEPARATION_METRICS = ("sdr", "gnsdr", "sdr_energy", "museval_sdr")
PITCH_METRICS = ("rpa", "rca", "oa", "vr", "vfa")
NOTE_SUMMARY_METRICS = ("conpoff_f", "conp_f", "con_f")  # in the summary only for corpora with notes
SUMMARY_METRICS = SEPARATION_METRICS + PITCH_METRICS
# what each summary number is (written into metrics.json and used by the model cards)
METRIC_DESCRIPTIONS = {
    "sdr": "SDR of the vocals, BSS Eval v3 (mir_eval), length-weighted mean over tracks (dB)",
    "gnsdr": "GNSDR: length-weighted mean of NSDR = SDR(estimate) - SDR(mixture) (dB)",
    "sdr_energy": "energy-ratio SDR 10*log10(|s|^2/|s - s_hat|^2), length-weighted mean (dB)",
    "museval_sdr": "museval SDR (BSS Eval v4): median over 1 s windows, then median over tracks (dB)",
    "rpa": "raw pitch accuracy (50 cents), fraction of voiced reference frames on the 20 ms grid",
    "rca": "raw chroma accuracy (50 cents), fraction of voiced reference frames on the 20 ms grid",
    "oa": "overall accuracy, fraction of all frames on the 20 ms grid",
    "vr": "voicing recall, fraction of voiced reference frames",
    "vfa": "voicing false alarm, fraction of unvoiced reference frames",
    "conpoff_f": "note F-measure (onset 50 ms, pitch 50 cents, offset 20 % or 50 ms), mean over tracks",
    "conp_f": "note F-measure (onset 50 ms, pitch 50 cents), mean over tracks",
    "con_f": "note F-measure (onset 50 ms), mean over tracks",
}
VERSION_PACKAGES = (
    "majl_hf",
    "torch",
    "transformers",
    "huggingface_hub",
    "numpy",
    "mir_eval",
    "museval",
    "soxr",
    "julius",
    "soundfile",
)
FILES = {
    "metrics": "metrics.json",
    "per_track_csv": "per_track.csv",
    "table2_markdown": "table2.md",
    "settings": "evaluation_settings.json",
}


@dataclass
class EvaluationSettings:
    """What to evaluate on and how.

    Args:
        corpus: a name in :data:`majl_hf.data.CORPORA` (``"mir1k"``, ``"medleydb"``, ``"musdb18"``,
            ``"mirst500"``).
        root: the corpus folder in its own layout (the ``root`` of its corpus class; MIR-ST500: the
            audio folder).
        split: ``"train"``, ``"test"``, ``"validation"`` (MUSDB18 with ``validation``) or ``"all"``.
        notes_path: the corpus option ``notes_path`` when given (MIR-ST500's note file,
            ``MIR-ST500_corrected.json``, which that corpus requires).
        tracks: evaluate only these track ids (default all of the split).
        limit: at most this many tracks (after ``tracks``), for quick checks.
        corpus_kwargs: further options of the corpus class (e.g. ``split_by``, ``seed``,
            ``test_fraction``, ``fmt``, ``validation``).
        method, extra: the "Method" and "Extra" columns of the Table-2 rows (default: the model's
            name; no extra).
        chunk_length_s: seconds per chunk of the pipeline's long-audio inference (0 = unchunked).
        voicing_threshold: a frame is voiced iff its peak activation is ≥ this (default: the
            model config's ``voicing_threshold``).
        decoder: the pipeline's pitch decoder (``weighted_average``, ``argmax``, ``viterbi``).
        unvoiced_pitch: ``"guess"`` (default, mir_eval convention: unvoiced frames keep their pitch
            as a negative f0) or ``"zero"``.
        museval: ``"auto"`` (on for MUSDB18), ``"on"`` or ``"off"``.
        grid_s: the pitch-evaluation grid in seconds (0.02, the paper's).
        silent_rms: a reference at or below this RMS is silent (no SDR).
        on_error: ``"raise"`` or ``"skip"`` bad corpus data (the loaders' ``on_error``).
    """

    corpus: str
    root: str
    split: str = "test"
    notes_path: str | None = None
    tracks: list[str] | None = None
    limit: int | None = None
    corpus_kwargs: dict = field(default_factory=dict)
    method: str | None = None
    extra: str | None = None
    chunk_length_s: float = 30.0
    voicing_threshold: float | None = None
    decoder: str = "weighted_average"
    unvoiced_pitch: str = "guess"
    museval: str = "auto"
    grid_s: float = GRID_S
    silent_rms: float = SILENT_RMS
    on_error: str = "raise"

    def __post_init__(self):
        from ..data import CORPORA

        if self.corpus not in CORPORA:
            raise ValueError(f"corpus must be one of {tuple(CORPORA)}, got {self.corpus!r}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        self.corpus_source()  # the corpus class checks its options (a missing notes_path, a bad split_by ...)
        if self.unvoiced_pitch not in UNVOICED_PITCH:
            raise ValueError(f"unvoiced_pitch must be one of {UNVOICED_PITCH}, got {self.unvoiced_pitch!r}")
        if self.museval not in MUSEVAL:
            raise ValueError(f"museval must be one of {MUSEVAL}, got {self.museval!r}")
        if self.voicing_threshold is not None and not 0.0 <= self.voicing_threshold <= 1.0:
            raise ValueError(f"voicing_threshold must be in [0, 1], got {self.voicing_threshold}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be a positive number of tracks, got {self.limit}")
        if not (self.grid_s > 0 and math.isfinite(self.grid_s)):
            raise ValueError(f"grid_s must be a positive number of seconds, got {self.grid_s}")
        if self.chunk_length_s is not None and self.chunk_length_s < 0:
            raise ValueError(f"chunk_length_s must be >= 0 seconds (0 = unchunked), got {self.chunk_length_s}")

    @property
    def corpus_class(self):
        """The :class:`~majl_hf.data.corpus.Corpus` subclass registered as ``corpus``."""
        from ..data import CORPORA

        return CORPORA[self.corpus]

    def corpus_source(self):
        """The corpus instance of these settings (the split, ``on_error``, ``notes_path``, the
        ``tracks`` filter when the corpus has an ids option, and ``corpus_kwargs``)."""
        cls = self.corpus_class
        options = dict(self.corpus_kwargs)
        options.setdefault("on_error", self.on_error)
        if self.notes_path is not None:
            options.setdefault("notes_path", self.notes_path)
        if self.tracks and cls.ids_option is not None:
            options.setdefault(cls.ids_option, list(self.tracks))  # do not even read the others
        split = None if self.split == "all" else self.split
        try:
            return cls(self.root, split=split, **options)
        except TypeError as err:  # an option the corpus does not have
            raise ValueError(f"{cls.display_name}: {err} (its options: {', '.join(cls.option_names())})") from None

    @property
    def use_museval(self) -> bool:
        return self.museval == "on" or (self.museval == "auto" and self.corpus_class.museval_by_default)

    @property
    def dataset_name(self) -> str:
        return self.corpus_class.display_name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------------
# provenance


def model_provenance(name_or_path: str, revision: str | None = None, cache_dir=None) -> dict:
    """Where the weights came from: ``{"name_or_path", "source": "local"|"hub", "revision",
    "weights_sha256"}``. ``revision`` is the snapshot commit hash of the HF cache for a Hub id (the
    cache must hold the model: call after loading it), ``None`` for a folder, whose weights are
    identified by ``weights_sha256`` (of ``model.safetensors``)."""
    name_or_path = str(name_or_path)
    if os.path.isdir(name_or_path):
        weights = Path(name_or_path) / "model.safetensors"
        return {
            "name_or_path": name_or_path,
            "source": "local",
            "revision": None,
            "weights_sha256": sha256_file(weights) if weights.is_file() else None,
        }
    from huggingface_hub import try_to_load_from_cache

    out = {
        "name_or_path": name_or_path,
        "source": "hub",
        "revision": None,
        "weights_sha256": None,
        "requested_revision": revision,
    }
    config = try_to_load_from_cache(name_or_path, "config.json", cache_dir=cache_dir, revision=revision or "main")
    if isinstance(config, str):
        snapshot = Path(config).parent
        out["revision"] = snapshot.name  # .../snapshots/<commit>/config.json
        if (snapshot / "model.safetensors").is_file():
            out["weights_sha256"] = sha256_file(snapshot / "model.safetensors")
    return out


def package_versions(names: Sequence[str] = VERSION_PACKAGES) -> dict:
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    out["majl_hf_git"] = _git_commit()
    return out


def _git_commit() -> str | None:
    """The majl_hf source checkout's commit (with ``+dirty`` when it has local changes), if any."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


# --------------------------------------------------------------------------------------------------
# model and data


def load_pipeline(model, *, revision: str | None = None, cache_dir=None, device=None):
    """``(pipeline, provenance)`` for a model folder, a Hub id or an existing majl-vocal pipeline."""
    from transformers import Pipeline, pipeline

    from .. import pipelines as _registered  # noqa: F401  (registers the majl-vocal task)

    if isinstance(model, Pipeline):
        name = str(getattr(model.model, "name_or_path", "") or "")
        return model, model_provenance(name, revision, cache_dir) if name else {"name_or_path": None}
    name = str(model)
    model_kwargs = {"cache_dir": str(cache_dir)} if cache_dir is not None else {}
    pipe = pipeline("majl-vocal", model=name, revision=revision, device=device, model_kwargs=model_kwargs)
    return pipe, model_provenance(name, revision, cache_dir)


def iter_corpus(settings: EvaluationSettings, source=None) -> Iterator[dict]:
    """The split's examples (the schema of :mod:`majl_hf.data.base`), filtered by ``tracks``/``limit``
    (``source``: the corpus instance, default ``settings.corpus_source()``)."""
    wanted = set(settings.tracks) if settings.tracks else None
    n = 0
    for example in settings.corpus_source() if source is None else source:
        if wanted is not None and str(example["id"]) not in wanted:
            continue
        yield example
        n += 1
        if settings.limit is not None and n >= settings.limit:
            return


def predict(pipe, example: Mapping, settings: EvaluationSettings) -> dict:
    """The pipeline on one example's mixture. Returns ``vocals`` (the example's channels, rate and
    length), ``times_s``, ``f0_hz`` (the pitch of *every* frame), ``confidence`` (peak activation),
    ``voiced`` (confidence ≥ the voicing threshold) and ``est_f0_hz`` (f0 of voiced frames, minus
    the pitch guess or 0 for unvoiced ones: the estimate that mir_eval scores)."""
    threshold = settings.voicing_threshold
    if threshold is None:
        threshold = float(pipe.model.config.voicing_threshold)
    out = pipe(
        {"array": example["mixture"], "sampling_rate": int(example["sampling_rate"])},
        voicing_threshold=0.0,  # every frame gets its pitch; voicing is decided below
        decoder=settings.decoder,
        chunk_length_s=settings.chunk_length_s,
        return_accompaniment=False,
    )
    f0_all = np.asarray(out["f0_hz"], dtype=np.float64)
    confidence = np.asarray(out["confidence"], dtype=np.float64)
    voiced = confidence >= threshold
    unvoiced = -f0_all if settings.unvoiced_pitch == "guess" else np.zeros_like(f0_all)
    return {
        "vocals": np.asarray(out["vocals"]),
        "times_s": np.asarray(out["times_s"], dtype=np.float64),
        "f0_hz": f0_all,
        "confidence": confidence,
        "voiced": voiced,
        "est_f0_hz": np.where(voiced, f0_all, unvoiced),
        "voicing_threshold": threshold,
    }


# --------------------------------------------------------------------------------------------------
# scoring


@dataclass
class TrackScores:
    """Everything measured on one track: the CSV ``row`` and the score objects the summary
    aggregates (``None`` where the track has no such label)."""

    row: dict
    sdr: SdrScore | None = None
    nsdr: object | None = None
    sdr_energy: SdrScore | None = None
    museval: object | None = None
    melody: dict | None = None
    notes: dict | None = None


def score_track(example: Mapping, prediction: Mapping, settings: EvaluationSettings, method: str,
                reference_notes=None) -> TrackScores:
    """Score one track's prediction against its labels (see the module docstring); with
    ``reference_notes`` (the track's annotated notes) also the note metrics."""
    n_samples = int(np.asarray(example["mixture"]).shape[-1])
    row = {
        "method": method,
        "extra": settings.extra or "",
        "dataset": settings.dataset_name,
        "track": str(example["id"]),
        "split": example["split"],
        "duration_s": float(example["duration_s"]),
        "sampling_rate": int(example["sampling_rate"]),
        "n_samples": n_samples,
        "has_vocals": bool(example["has_vocals"]),
        "has_f0": bool(example["has_f0"]),
    }
    scores = TrackScores(row=row)
    sep_keys = (
        "sdr",
        "sdr_status",
        "nsdr",
        "nsdr_status",
        "sdr_mixture",
        "sdr_energy",
        "sdr_energy_status",
        "museval_sdr",
        "museval_status",
        "sdr_reason",
    )
    row.update({k: None for k in sep_keys})
    if example["has_vocals"]:
        ref, est, mix = example["vocals"], prediction["vocals"], example["mixture"]
        n = nsdr(ref, est, mix, silent_rms=settings.silent_rms)
        if n.sdr is not None:
            sdr = SdrScore(n.sdr, STATUS_OK, n.n_samples, n.method)
        else:  # the estimate's own status (silent reference / estimate) is the SDR's
            sdr = SdrScore(None, n.status, n.n_samples, n.method, n.reason)
        energy = energy_ratio_sdr(ref, est, silent_rms=settings.silent_rms)
        scores.sdr, scores.nsdr, scores.sdr_energy = sdr, n, energy
        row.update(
            sdr=sdr.sdr,
            sdr_status=sdr.status,
            nsdr=n.nsdr,
            nsdr_status=n.status,
            sdr_mixture=n.sdr_mixture,
            sdr_energy=energy.sdr,
            sdr_energy_status=energy.status,
            sdr_reason=sdr.reason or n.reason,
        )
        if settings.use_museval:
            m = museval_sdr(
                {"vocals": ref},
                {"vocals": est},
                sampling_rate=int(example["sampling_rate"]),
                silent_rms=settings.silent_rms,
            )["vocals"]
            scores.museval = m
            row.update(museval_sdr=m.sdr, museval_status=m.status)
    else:
        row.update(sdr_status="no_label", nsdr_status="no_label", sdr_energy_status="no_label")
    pitch_keys = ("rpa", "rca", "oa", "vr", "vfa", "n_frames", "n_ref_voiced", "n_ref_unvoiced", "pitch_undefined")
    row.update({k: None for k in pitch_keys})
    if example["has_f0"]:
        mel = melody_metrics(
            example["times_s"],
            example["f0_hz"],
            prediction["times_s"],
            prediction["est_f0_hz"],
            grid_s=settings.grid_s,
        )
        scores.melody = mel
        row.update({k: mel[k] for k in pitch_keys[:-1]})
        row["pitch_undefined"] = mel["undefined"] or None
    if reference_notes is not None:
        from ..notes import note_metrics, segment_notes

        f0 = np.where(prediction["voiced"], prediction["f0_hz"], 0.0)
        scores.notes = note_metrics(reference_notes, segment_notes(prediction["times_s"], f0))
        row.update({k: scores.notes[k] for k in NOTE_SUMMARY_METRICS})
        row.update(n_ref_notes=scores.notes["n_ref"], n_est_notes=scores.notes["n_est"])
    return scores


def summarize_scores(tracks: Sequence[TrackScores]) -> dict:
    """The split's summary: each metric through its aggregation function of
    :mod:`majl_hf.evaluation` (gsdr, gnsdr, museval_median_sdr, aggregate_melody_metrics), with
    the number of tracks scored and skipped (by status) under ``details``."""
    sep = [t for t in tracks if t.sdr is not None]
    details: dict = {}
    summary: dict = {
        "n_tracks": len(tracks),
        "n_with_vocals": len(sep),
        "n_with_f0": sum(t.melody is not None for t in tracks),
        "duration_s": float(sum(t.row["duration_s"] for t in tracks)),
    }
    summary.update({k: None for k in SUMMARY_METRICS})
    if sep:
        g = gsdr([t.sdr for t in sep])
        summary["sdr"], details["sdr"] = g.pop("sdr"), g
        g = gnsdr([t.nsdr for t in sep])
        summary["gnsdr"], details["gnsdr"] = g.pop("gnsdr"), g
        g = gsdr([t.sdr_energy for t in sep])
        summary["sdr_energy"], details["sdr_energy"] = g.pop("sdr"), g
    mus = [t.museval for t in tracks if t.museval is not None]
    if mus:
        m = museval_median_sdr(mus)
        summary["museval_sdr"], details["museval_sdr"] = m.pop("sdr"), m
    mel = [t.melody for t in tracks if t.melody is not None]
    if mel:
        agg = aggregate_melody_metrics(mel)
        for k in PITCH_METRICS:
            summary[k] = agg.pop(k)
        details["pitch"] = agg
    with_notes = [t.notes for t in tracks if t.notes is not None]
    if with_notes:
        from ..notes import aggregate_note_metrics

        agg = aggregate_note_metrics(with_notes)
        for k in NOTE_SUMMARY_METRICS:
            summary[k] = agg.pop(k)
        summary["n_with_notes"] = len(with_notes)
        details["notes"] = agg
    summary["silent_reference_tracks"] = [
        t.row["track"] for t in tracks if t.row.get("sdr_status") == STATUS_SILENT_REFERENCE
    ]
    summary["details"] = details
    return summary


# --------------------------------------------------------------------------------------------------
# the run


def evaluate(
    model,
    settings: EvaluationSettings,
    output_dir=None,
    *,
    revision: str | None = None,
    cache_dir=None,
    device=None,
    progress: bool = True,
    command: Sequence[str] | None = None,
) -> dict:
    """Evaluate ``model`` (folder, Hub id or majl-vocal pipeline) on ``settings``' split.

    Returns the metrics dict (what ``metrics.json`` holds); with ``output_dir`` the three files of
    the module docstring (and ``evaluation_settings.json``) are written there. ``command`` is the
    command line to record (default ``sys.argv``).
    """
    from tqdm.auto import tqdm

    started = time.time()
    pipe, provenance = load_pipeline(model, revision=revision, cache_dir=cache_dir, device=device)
    method = settings.method or _model_name(provenance.get("name_or_path"))
    tracks: list[TrackScores] = []
    licences: set = set()
    source = settings.corpus_source()
    notes_of = getattr(source, "reference_notes", None)  # corpora with note annotations (MIR-ST500)
    bar = tqdm(
        iter_corpus(settings, source),
        desc=f"{settings.corpus}/{settings.split}",
        unit="track",
        disable=not progress,
        total=settings.limit,
    )
    for example in bar:
        bar.set_postfix_str(str(example["id"])[:40])
        licences.add(str(example["licence"]))
        prediction = predict(pipe, example, settings)
        ref_notes = notes_of(example["id"]) if notes_of is not None else None
        tracks.append(score_track(example, prediction, settings, method, reference_notes=ref_notes))
    bar.close()
    if not tracks:
        raise ValueError(
            f"no track of {settings.corpus} split {settings.split!r} under {settings.root} "
            f"(tracks={settings.tracks}); nothing to evaluate"
        )
    rows = [t.row for t in tracks]
    summary = summarize_scores(tracks)
    table_rows = summarize(rows)
    result = {
        "schema": SCHEMA,
        "model": {
            **provenance,
            "method": method,
            "class": type(pipe.model).__name__,
            "config": _config_facts(pipe.model),
        },
        "dataset": {
            "corpus": settings.corpus,
            "name": settings.dataset_name,
            "root": str(settings.root),
            "split": settings.split,
            "licences": sorted(licences),
        },
        "settings": {
            **settings.to_dict(),
            "voicing_threshold_used": _threshold_used(pipe, settings),
            "device": str(pipe.device),
            "museval_used": settings.use_museval,
        },
        "metric_descriptions": dict(METRIC_DESCRIPTIONS),
        "summary": summary,
        "table2": table_rows,
        "per_track": rows,
        "command": shlex.join([str(a) for a in (sys.argv if command is None else command)]),
        "versions": package_versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "runtime_s": None,
        "files": dict(FILES),
    }
    result["runtime_s"] = round(time.time() - started, 3)
    result = to_jsonable(result)
    if output_dir is not None:
        write_outputs(result, output_dir)
    return result


def _model_name(name_or_path) -> str:
    if not name_or_path:
        return "model"
    name_or_path = str(name_or_path)
    return Path(name_or_path).name if os.path.isdir(name_or_path) else name_or_path


def _threshold_used(pipe, settings) -> float:
    if settings.voicing_threshold is not None:
        return float(settings.voicing_threshold)
    return float(pipe.model.config.voicing_threshold)


def _config_facts(model) -> dict:
    cfg = model.config
    sep, pe = cfg.separator_config, cfg.pitch_config
    return {
        "model_type": cfg.model_type,
        "joint_method": getattr(cfg, "joint_method", None),
        "separator": sep.model_type,
        "separator_sampling_rate": getattr(sep, "sampling_rate", None),
        "separator_channels": getattr(sep, "audio_channels", None),
        "pitch_estimator": pe.model_type,
        "pitch_sampling_rate": getattr(pe, "sampling_rate", None),
        "pitch_hop_length": getattr(pe, "hop_length", None),
        "voicing_threshold": getattr(cfg, "voicing_threshold", None),
    }


def table2_text(result: Mapping) -> str:
    """The markdown of ``table2.md``: the Table-2 layout plus a caption saying what the numbers are."""
    table = table2_markdown(result["table2"])
    summary = result["summary"]
    lines = [f"<!-- generated by majl_hf.evaluation.runner from {FILES['metrics']}; do not edit -->", "", table]
    lines.append(
        "SDR: BSS Eval v3 SDR of the vocals, length-weighted mean over tracks (dB); GNSDR: length-weighted "
        "mean NSDR (dB); RPA/RCA: raw pitch/chroma accuracy on the 20 ms grid (%), frame-weighted. "
        f"Model `{result['model'].get('name_or_path')}`, {result['dataset']['name']} split "
        f"`{result['dataset']['split']}`, {summary['n_tracks']} track(s)."
    )
    if summary.get("silent_reference_tracks"):
        lines.append("")
        lines.append(
            "Tracks with silent reference vocals (no SDR, left out of SDR/GNSDR): "
            + ", ".join(f"`{t}`" for t in summary["silent_reference_tracks"])
            + "."
        )
    if summary.get("conpoff_f") is not None:
        lines.append("")
        lines.append(
            "Notes (the f0 segmented by majl_hf.notes; mir_eval.transcription, mean over tracks): "
            + ", ".join(f"{name} F {100 * summary[k]:.1f} %" for name, k in
                        (("COnPOff", "conpoff_f"), ("COnP", "conp_f"), ("COn", "con_f")) if summary.get(k) is not None)
            + "."
        )
    if summary.get("museval_sdr") is not None:
        lines.append("")
        lines.append(f"museval SDR (median over 1 s windows, median over tracks): {summary['museval_sdr']:.2f} dB.")
    return "\n".join(lines) + "\n"


def write_outputs(result: Mapping, output_dir) -> dict:
    """Write metrics.json, per_track.csv, table2.md and evaluation_settings.json; returns their paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / v for k, v in FILES.items()}
    write_json_atomic(paths["metrics"], result)
    write_per_track_csv(result["per_track"], paths["per_track_csv"])
    paths["table2_markdown"].write_text(table2_text(result), encoding="utf-8")
    resolved = {
        "command": result["command"],
        "model": result["model"]["name_or_path"],
        "settings": result["settings"],
        "versions": result["versions"],
    }
    write_json_atomic(paths["settings"], resolved)
    return paths


def load_metrics(path) -> dict:
    """Read a ``metrics.json`` written by :func:`evaluate` (checks its schema)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("schema") != SCHEMA:
        raise ValueError(
            f"{path}: not a majl_hf evaluation metrics file (schema {data.get('schema')!r}, expected {SCHEMA!r})"
        )
    return data


def combined_table2(results: Iterable) -> str:
    """One Table-2 markdown over several runs (metrics dicts or metrics.json paths): one line per
    (method, extra), one column group per dataset, as in the paper."""
    rows = []
    for r in results:
        data = load_metrics(r) if isinstance(r, (str, os.PathLike)) else r
        rows.extend(data["table2"])
    return table2_markdown(rows)


__all__ = [
    "METRIC_DESCRIPTIONS",
    "PITCH_METRICS",
    "SCHEMA",
    "SEPARATION_METRICS",
    "EvaluationSettings",
    "TrackScores",
    "combined_table2",
    "evaluate",
    "iter_corpus",
    "load_metrics",
    "load_pipeline",
    "model_provenance",
    "package_versions",
    "predict",
    "score_track",
    "summarize_scores",
    "table2_text",
    "write_outputs",
]
