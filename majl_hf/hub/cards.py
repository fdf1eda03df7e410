"""Model cards for published MAJL models, generated — never typed — from the model's config, its
training configuration (``training_config.yaml`` beside the weights, when there is one), the
metrics JSON files of :mod:`majl_hf.evaluation.runner` and the corpora's licence facts
(:mod:`majl_hf.data`). Template: ``model_cards/evaluated_model.md`` (package data), rendered by
:func:`majl_hf.hub.render.render_card`.

Every number in the card comes from those files: the Hub metadata (``model-index``) holds one
:class:`huggingface_hub.EvalResult` per summary metric of each metrics JSON (the exact value), and
the markdown tables print the same values (SDR in dB, pitch metrics in percent, 2 decimals).

    from majl_hf.hub.cards import write_model_card
    write_model_card("hub/my-model", repo_id="me/my-model", metrics=["eval/mir1k/metrics.json"])
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..data import CORPORA
from ..evaluation.runner import METRIC_DESCRIPTIONS, PITCH_METRICS, SEPARATION_METRICS, load_metrics
from .render import cell_text as _cell
from .render import render_card

TEMPLATE = "evaluated_model.md"
TRAINING_CONFIG = "training_config.yaml"
REMOTE_TASK = "majl-vocal-remote"  # the custom pipeline task of published folders (see publish.py)
# model-index groups results by (task type, dataset, split) only: one task for both outputs
TASK_TYPE, TASK_NAME = "audio-to-audio", "Singing-voice separation and vocal pitch estimation"
METRIC_NAMES = {
    "sdr": "SDR",
    "gnsdr": "GNSDR",
    "sdr_energy": "energy-ratio SDR",
    "museval_sdr": "museval SDR",
    "rpa": "RPA",
    "rca": "RCA",
    "oa": "OA",
    "vr": "VR",
    "vfa": "VFA",
}
CARD_METRICS = SEPARATION_METRICS + PITCH_METRICS


# --------------------------------------------------------------------------------------------------
# numbers


def format_metric(metric: str, value) -> str:
    """How the card prints a summary value: dB with 2 decimals, pitch fractions in % with 2 decimals."""
    if value is None:
        return "—"
    if metric in PITCH_METRICS:
        return f"{100.0 * float(value):.2f}"
    return f"{float(value):.2f}"


def metric_unit(metric: str) -> str:
    return "%" if metric in PITCH_METRICS else "dB"


def _as_metrics(items) -> list[dict]:
    out = []
    for item in items or ():
        out.append(load_metrics(item) if isinstance(item, (str, os.PathLike)) else dict(item))
    return out


def eval_results_from_metrics(metrics: Iterable) -> list:
    """One :class:`~huggingface_hub.EvalResult` per defined summary metric of each metrics JSON (dict
    or path), in the order ``model-index`` groups them (by dataset and split), so that the list
    round-trips through the card's metadata. ``metric_value`` is the JSON's value as is (dB, or a
    fraction for pitch metrics)."""
    from huggingface_hub import EvalResult

    results = []
    for data in _as_metrics(metrics):
        ds = data["dataset"]
        summary = data["summary"]
        for key in CARD_METRICS:
            value = summary.get(key)
            if value is None:
                continue
            results.append(
                EvalResult(
                    task_type=TASK_TYPE,
                    task_name=TASK_NAME,
                    dataset_type=ds["corpus"],
                    dataset_name=ds.get("name") or _display_name(ds["corpus"]),
                    dataset_split=ds["split"],
                    dataset_args={"tracks": summary["n_tracks"]},
                    metric_type=key,
                    metric_name=METRIC_NAMES[key],
                    metric_value=value,
                    metric_config=METRIC_DESCRIPTIONS[key],
                )
            )
    order = {}
    for r in results:  # model-index keeps the first-seen order of (task, dataset, split) groups
        order.setdefault(r.unique_identifier, len(order))
    return sorted(results, key=lambda r: order[r.unique_identifier])


def results_markdown(metrics: Iterable) -> str:
    """The card's results: a Table-2 layout over every run, then one table per run with every
    summary metric, the tracks scored and skipped, and what each number is."""
    from ..evaluation.runner import combined_table2

    runs = _as_metrics(metrics)
    if not runs:
        return "Not evaluated yet: run `python scripts/evaluate.py` and publish again with `--metrics`."
    parts = ["In the layout of the MAJL paper's Table 2 (SDR, GNSDR in dB; RPA, RCA in %):", "", combined_table2(runs)]
    for data in runs:
        ds, summary = data["dataset"], data["summary"]
        details = summary.get("details", {})
        parts.append(
            f"### {ds['name']} — split `{ds['split']}`, {summary['n_tracks']} track(s), "
            f"{summary['duration_s'] / 60.0:.1f} min"
        )
        parts.append("")
        parts.append("| metric | value | unit | tracks scored | what it is |")
        parts.append("|---|---:|---|---:|---|")
        for key in CARD_METRICS:
            value = summary.get(key)
            if value is None:
                continue
            detail = details.get("pitch" if key in PITCH_METRICS else key, {})
            scored = detail.get("n_scored", detail.get("n_clips", ""))
            if key in PITCH_METRICS:
                scored = summary["n_with_f0"] - detail.get("skipped", {}).get(key, 0)
            parts.append(
                f"| {METRIC_NAMES[key]} | {format_metric(key, value)} | {metric_unit(key)} | {scored} | "
                f"{_cell(METRIC_DESCRIPTIONS[key])} |"
            )
        absent = [METRIC_NAMES[k] for k in CARD_METRICS if summary.get(k) is None]
        if absent:
            parts.append("")
            parts.append("Not defined on this split (no such labels, or not measured): " + ", ".join(absent) + ".")
        silent = summary.get("silent_reference_tracks") or []
        if silent:
            parts.append("")
            parts.append(
                f"{len(silent)} track(s) with silent reference vocals have no SDR and are left out of the "
                "SDR means (not counted as 0): " + ", ".join(f"`{t}`" for t in silent) + "."
            )
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def protocol_markdown(metrics: Iterable) -> str:
    """How each number was measured: command line, model revision, settings, package versions."""
    runs = _as_metrics(metrics)
    if not runs:
        return ""
    lines = ["### How these numbers were measured", ""]
    for data in runs:
        model, ds, st, v = data["model"], data["dataset"], data["settings"], data["versions"]
        rev = model.get("revision") or "local folder"
        lines.append(
            f"- **{ds['name']} `{ds['split']}`**: `{data['command']}` — model `{model.get('name_or_path')}` "
            f"(revision `{rev}`, weights sha256 `{model.get('weights_sha256')}`); chunks of "
            f"{st.get('chunk_length_s')} s, voicing threshold {st.get('voicing_threshold_used')}, decoder "
            f"`{st.get('decoder')}`, unvoiced frames' pitch: `{st.get('unvoiced_pitch')}`, device "
            f"`{st.get('device')}`; majl_hf {v.get('majl_hf')} ({v.get('majl_hf_git') or 'no git'}), "
            f"torch {v.get('torch')}, transformers {v.get('transformers')}, mir_eval {v.get('mir_eval')}, "
            f"museval {v.get('museval')}; {data.get('created')}."
        )
    lines.append("")
    lines.append("Per-track scores are in `evaluation/*/metrics.json` in this repository.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# licences and training


def corpus_licences() -> dict[str, str]:
    """``{corpus: licence}`` as the corpus classes of :data:`majl_hf.data.CORPORA` state them."""
    return {name: cls.licence for name, cls in CORPORA.items()}


def _display_name(corpus: str) -> str:
    """The corpus's ``display_name`` in the registry (the name itself for anything else)."""
    cls = CORPORA.get(corpus)
    return cls.display_name if cls is not None else corpus


def read_training_config(folder) -> dict | None:
    """``training_config.yaml`` of a model folder as a dict (``None`` when absent)."""
    path = Path(folder) / TRAINING_CONFIG
    if not path.is_file():
        return None
    import yaml  # a huggingface_hub dependency

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def _sources(items) -> list[dict]:
    return [s for s in (items or []) if isinstance(s, Mapping)]


def training_markdown(training: Mapping | None, source: str | None, source_card: str | None = None) -> str:
    if not training:
        where = (
            f"`{source_card}` (the source model's own card, kept here)"
            if source_card
            else "the source model's own card"
        )
        return (
            "No training configuration (`training_config.yaml`) came with these weights"
            + (f" (source: `{source}`)" if source else "")
            + f": see {where} for how they were made."
        )
    import yaml

    start = (
        "fine-tuned from `" + str(training["init_from"]) + "`"
        if training.get("init_from")
        else "trained from scratch with the architecture of `" + str(training["config_from"]) + "`"
        if training.get("config_from")
        else "trained from scratch"
    )
    rows = [("start", start)]
    for key in ("num_epochs", "max_steps", "batch_size", "learning_rate", "segment_s", "seed"):
        if training.get(key) is not None:
            rows.append((key, str(training[key])))
    overrides = training.get("config_overrides") or {}
    if overrides:
        rows.append(("config overrides", ", ".join(f"{k}={v}" for k, v in overrides.items())))
    lines = ["| | |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in rows]
    lines += ["", "Data:", "", "| role | corpus | split / path |", "|---|---|---|"]
    for role in ("train_data", "eval_data"):
        for src in _sources(training.get(role)):
            where = src.get("split") or src.get("path") or ""
            lines.append(f"| {role.split('_')[0]} | {_cell(src.get('corpus', '?'))} | {_cell(where)} |")
    lines += [
        "",
        "<details><summary>Resolved training configuration</summary>",
        "",
        "```yaml",
        yaml.safe_dump(dict(training), sort_keys=False, allow_unicode=True).rstrip(),
        "```",
        "",
        "</details>",
    ]
    return "\n".join(lines)


def licence_markdown(metrics: Sequence[Mapping], training: Mapping | None, license: str | None) -> str:
    known = corpus_licences()
    uses: dict[str, set] = {}
    for src in _sources((training or {}).get("train_data")):
        uses.setdefault(str(src.get("corpus")), set()).add("training")
    for data in metrics:
        uses.setdefault(data["dataset"]["corpus"], set()).add("evaluation")
    lines = [f"Weights: licence `{license or 'unspecified'}` (card metadata). The code is majl_hf's (MIT)."]
    if uses:
        lines += [
            "",
            "| corpus | used for | licence (as its majl_hf loader states it) | dataset card |",
            "|---|---|---|---|",
        ]
        for corpus in sorted(uses):
            if corpus == "pseudo":
                lic = "pseudo-labels derived from the corpora above; their licences apply"
            else:
                lic = known.get(corpus, "unknown")
            card = f"`majl_hf/data/cards/{corpus}.md`" if corpus in known else ""
            lines.append(f"| {_display_name(corpus)} | {', '.join(sorted(uses[corpus]))} | {_cell(lic)} | {card} |")
        if any("training" in u for u in uses.values()):
            lines += ["", "Weights trained on these corpora are not more permissive than their terms."]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# the card


def _config_dict(config) -> dict:
    if config is None:
        return {}
    if isinstance(config, (str, os.PathLike)):
        path = Path(config)
        path = path / "config.json" if path.is_dir() else path
        return json.loads(path.read_text(encoding="utf-8"))
    if hasattr(config, "to_dict"):
        return config.to_dict()
    return dict(config)


def build_model_card(
    *,
    repo_id: str,
    config,
    metrics: Iterable = (),
    training_config: Mapping | None = None,
    license: str | None = None,
    base_model: str | None = None,
    source: str | None = None,
    remote_code: bool = True,
    model_name: str | None = None,
    source_card: str | None = None,
    template_path=None,
):
    """A :class:`huggingface_hub.ModelCard` for ``repo_id``.

    Args:
        repo_id: the Hub repository (``org/name``); the card's title and usage lines.
        config: the model's config (a ``PreTrainedConfig``, a dict, ``config.json`` or its folder).
        metrics: metrics dicts or ``metrics.json`` paths of :func:`majl_hf.evaluation.runner.evaluate`.
        training_config: the resolved training configuration (``training_config.yaml`` as a dict).
        license: the weights' licence id for the metadata (e.g. ``"mit"``, ``"cc-by-nc-sa-4.0"``).
        base_model: the model these weights start from (default: the training config's ``init_from``).
        source: where the weights were taken from (recorded in the card).
        source_card: file name of the source model's card kept beside this one, if any.
        remote_code: the repository ships remote code (usage without majl_hf).
        template_path: default ``model_cards/evaluated_model.md`` of the package.
    """
    from huggingface_hub import ModelCardData

    from .. import __version__

    runs = _as_metrics(metrics)
    cfg = _config_dict(config)
    sep, pe = cfg.get("separator_config", {}), cfg.get("pitch_config", {})
    name = model_name or repo_id.split("/")[-1]
    base_model = base_model or (training_config or {}).get("init_from") or None
    if base_model and os.path.isdir(str(base_model)):
        base_model = None  # a local folder is not a Hub reference
    eval_results = eval_results_from_metrics(runs)
    tags = [
        "music-source-separation",
        "pitch-estimation",
        "singing-voice",
        "majl",
        "majl_hf",
        str(sep.get("model_type", "")),
        str(pe.get("model_type", "")),
    ]
    if remote_code:
        tags.append("custom_code")
    card_data = ModelCardData(
        license=license,
        library_name="transformers",
        pipeline_tag="audio-to-audio",
        tags=[t for t in tags if t],
        base_model=base_model,
        model_name=name,
        eval_results=eval_results or None,
    )
    description = (
        f"Vocals **and** their pitch from a mixture: a MAJL cascade — separator `{sep.get('model_type')}` "
        f"({sep.get('sampling_rate')} Hz, {sep.get('audio_channels')} channel(s)) → pitch estimator "
        f"`{pe.get('model_type')}` ({pe.get('sampling_rate')} Hz, hop {pe.get('hop_length')} samples), "
        f"joint method `{cfg.get('joint_method')}`, voicing threshold {cfg.get('voicing_threshold')}."
    )
    usage = [
        "## Use",
        "",
        "With majl_hf installed:",
        "",
        "```python",
        "import majl_hf",
        "from transformers import pipeline",
        f'result = pipeline("majl-vocal", model="{repo_id}")("song.mp3")',
        "```",
    ]
    if remote_code:
        usage += [
            "",
            f"Without majl_hf: the code ships in this repository (flat copies of majl_hf {__version__}'s modules, "
            "listed in `remote_code_manifest.json`):",
            "",
            "```python",
            "from transformers import pipeline",
            f'pipe = pipeline(model="{repo_id}", trust_remote_code=True)  # task "{REMOTE_TASK}"',
            'result = pipe("song.mp3")',
            "```",
        ]
    usage += [
        "",
        "`result` holds `vocals` and `accompaniment` (float32, channels × samples at the input's rate), "
        "and per pitch frame `f0_hz` (0 where unvoiced), `times_s`, `confidence`, `voiced`.",
    ]
    values = dict(
        repo_id=repo_id,
        model_name=name,
        description=description,
        usage="\n".join(usage),
        results_section=results_markdown(runs),
        protocol_section=protocol_markdown(runs),
        training_section=training_markdown(training_config, source, source_card),
        licence_section=licence_markdown(runs, training_config, license),
        source=source or "",
        majl_hf_version=__version__,
    )
    return render_card(str(Path(template_path).resolve()) if template_path is not None else TEMPLATE, card_data,
                       **values)


def write_model_card(
    folder, *, repo_id: str, metrics: Iterable = (), config=None, training_config=None, **kwargs
) -> Path:
    """Build the card of the model in ``folder`` (its ``config.json`` and ``training_config.yaml``
    unless given) and save it as ``folder/README.md``."""
    folder = Path(folder)
    card = build_model_card(
        repo_id=repo_id,
        config=config if config is not None else folder,
        metrics=metrics,
        training_config=training_config if training_config is not None else read_training_config(folder),
        **kwargs,
    )
    path = folder / "README.md"
    card.save(path)
    return path


__all__ = [
    "REMOTE_TASK",
    "build_model_card",
    "corpus_licences",
    "eval_results_from_metrics",
    "format_metric",
    "read_training_config",
    "results_markdown",
    "write_model_card",
]
