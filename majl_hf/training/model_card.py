"""The model card of a trained model, generated from the training config, the final metrics and the
data sources' licence facts (template: ``model_cards/trained_model.md``, package data, rendered by
:func:`majl_hf.hub.render.render_card`, the one card renderer)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

from ..dwhs import CASES
from ..hub.render import markdown_table as _table
from ..hub.render import render_card

TEMPLATE = "trained_model.md"
CASE_NAMES = {1: "both right", 2: "noisy label", 3: "hard for MSS", 4: "hard for PE"}


def _num(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _source_name(src: Mapping) -> str:
    spec = src.get("source", {})
    name = spec.get("corpus", "?")
    if spec.get("split"):
        name += f" ({spec['split']})"
    if name.startswith("pseudo"):
        name = f"pseudo-labelled ({', '.join(src.get('corpora', []))})"
    return name


def data_table(summary: Mapping) -> str:
    rows = []
    for role in ("train", "eval"):
        for src in summary.get(role, []):
            rows.append(
                [
                    role,
                    _source_name(src),
                    src.get("examples"),
                    src.get("with_vocals"),
                    src.get("with_f0"),
                    "; ".join(src.get("licences", [])),
                ]
            )
    if not rows:
        return "(no data description)"
    return _table(["role", "source", "examples", "with vocals", "with f0", "licence"], rows)


def pseudo_section(summary: Mapping) -> str:
    items = summary.get("pseudo_labels") or []
    if not items:
        return ""
    rows = []
    for m in items:
        model = m.get("model", {})
        rows.append(
            [
                m.get("path"),
                model.get("name_or_path", "?"),
                (model.get("weights_sha256") or "?")[:16],
                m.get("examples"),
            ]
        )
    return "Pseudo-labels (MAJL stage I → II):\n\n" + _table(
        ["folder", "labelling model", "weights sha256", "examples"], rows
    )


#: the evaluation metrics a run reports (the trainer's eval columns) and the training losses
EVAL_KEYS = ["eval_loss", "eval_loss_mss", "eval_loss_pe", "eval_sdr_db", "eval_rpa", "eval_rca", "eval_oa",
             "eval_samples"]
TRAIN_LOSS_KEYS = ["train_loss", "train_loss_mss", "train_loss_pe", "train_loss_dwhs"]


def metrics_table(metrics: Mapping) -> str:
    keys = [k for k in (*EVAL_KEYS, *TRAIN_LOSS_KEYS) if k in metrics]
    if not keys:
        return "No evaluation data was given."
    return _table(["metric", "value"], [[k, _num(metrics[k])] for k in keys])


def dwhs_section(log_history: Sequence[Mapping]) -> str:
    if not log_history or all(
        not row.get("n_case1") and not row.get("n_case4") and not row.get("n_case2") and not row.get("n_case3")
        for row in log_history
    ):
        return ""
    last = log_history[-1]
    rows = [
        [
            f"{c} ({CASE_NAMES[c]})",
            last.get(f"n_case{c}"),
            _num(last.get(f"w_mss_case{c}")),
            _num(last.get(f"w_pe_case{c}")),
        ]
        for c in CASES
    ]
    return "## DWHS weights in the last epoch (the paper's Fig. 5)\n\n" + _table(
        ["case (Table 1)", "samples", "mean ω_mss", "mean ω_pe"], rows
    )


def write_model_card(folder, *, model, args, metrics: Mapping, data_summary: Mapping, log_history) -> Path:
    """Fill the template and save ``folder/README.md``."""
    from huggingface_hub import ModelCardData

    folder = Path(folder)
    cfg = model.config
    pe = model.pitch_estimator.config
    name = args.model_name or Path(args.output_dir).name
    licences = sorted(
        {lic for role in ("train",) for src in data_summary.get(role, []) for lic in src.get("licences", [])}
    )
    if args.init_from:
        start = f"pretrained `{args.init_from}`" + (
            f", with {dict(args.config_overrides)}" if args.config_overrides else ""
        )
    elif args.config_from:
        start = f"from scratch (fresh weights) with the architecture of `{args.config_from}`"
    else:
        start = "from scratch (fresh weights)"
    stage = (
        "stage II of the paper's two-stage training (fully-labelled data plus pseudo-labelled single-labelled data)."
        if data_summary.get("pseudo_labels")
        else "trained on the data below (stage I of the paper when that is fully-labelled)."
    )
    card_data = ModelCardData(
        license=args.card_license,
        library_name="majl_hf",
        pipeline_tag="audio-to-audio",
        base_model=args.init_from or None,
        tags=[
            "music-source-separation",
            "pitch-estimation",
            "singing-voice",
            "majl",
            cfg.joint_method,
            model.separator.config.model_type,
            pe.model_type,
        ],
        model_name=name,
    )
    try:
        import accelerate

        num_processes = accelerate.PartialState().num_processes
    except Exception:  # noqa: BLE001 - the card must not fail on this
        num_processes = 1
    values = dict(
        model_name=name,
        model_id=name,
        separator_type=model.separator.config.model_type,
        pitch_type=pe.model_type,
        joint_method=cfg.joint_method,
        stage_description=stage,
        start_description=start,
        frozen=", ".join(args.freeze) or "nothing",
        learning_rate=args.learning_rate,
        lr_decay_gamma=args.lr_decay_gamma,
        lr_decay_epochs=args.lr_decay_epochs,
        batch_size=args.batch_size,
        segment_s=args.segment_s,
        sampling_rate=model.sampling_rate,
        channels=model.audio_channels,
        hop_ms=_num(1000.0 * pe.hop_length / pe.sampling_rate),
        global_step=metrics.get("global_step", "?"),
        epochs=metrics.get("epochs", "?"),
        seed=args.seed,
        num_processes=num_processes,
        threshold=cfg.pseudo_label_threshold,
        data_table=data_table(data_summary)
        + ("\n\nTraining-data licences: " + "; ".join(licences) if licences else ""),
        pseudo_section=pseudo_section(data_summary),
        config_yaml=args.to_yaml(),
        metrics_table=metrics_table(metrics),
        dwhs_section=dwhs_section(log_history),
    )
    card = render_card(TEMPLATE, card_data, **values)
    path = folder / "README.md"
    card.save(path)
    return path


__all__ = ["write_model_card"]
