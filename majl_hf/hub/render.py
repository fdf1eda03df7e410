"""The one model-card renderer of majl_hf: a template of :data:`TEMPLATES` (package data, so that a
wheel install renders the very card a repository checkout does) filled by
``huggingface_hub.ModelCard.from_template``, and the committed measurements (:data:`MEASURED`)
that cards quote.

Three cards use it: a published model with its evaluation metrics (:mod:`majl_hf.hub.cards`,
``evaluated_model.md``), a model trained by :mod:`majl_hf.training` (``trained_model.md``) and a
pretrained pair built from original weights (:mod:`majl_hf.hub.pretrained`, ``pretrained_model.md``).
A missing template is an error, never a silently thinner card.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Sequence

PACKAGE = "majl_hf.hub"
TEMPLATE_DIR = "model_cards"
MEASURED_DIR = "measured"


def templates_dir() -> Path:
    """The folder of the card templates inside the installed package."""
    return Path(str(resources.files(PACKAGE).joinpath(TEMPLATE_DIR)))


def measured_dir() -> Path:
    """The committed measurements the cards quote (``model_cards/measured/`` in the package)."""
    return templates_dir() / MEASURED_DIR


def template_path(name: str) -> Path:
    """``model_cards/<name>`` of the package; :class:`FileNotFoundError` naming the package data if absent."""
    path = templates_dir() / name
    if not path.is_file():
        raise FileNotFoundError(
            f"card template {name} is missing from {templates_dir()}: majl_hf was installed without its "
            "package data (setup.py package_data 'hub/model_cards/*.md')"
        )
    return path


def render_card(template: str, card_data, **values):
    """A :class:`huggingface_hub.ModelCard` from the template ``template`` (a name in
    :data:`TEMPLATE_DIR`, or a path) with the metadata ``card_data`` and the Jinja ``values``."""
    from huggingface_hub import ModelCard

    path = Path(template) if Path(template).is_absolute() else template_path(template)
    return ModelCard.from_template(card_data, template_path=str(path), **values)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A markdown table; ``|`` and newlines inside cells are escaped."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell_text(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def cell_text(text) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


__all__ = ["cell_text", "markdown_table", "measured_dir", "render_card", "template_path", "templates_dir"]
