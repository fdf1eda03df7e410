"""The default's quality numbers committed in model_cards/measured/ (rendered into its model card
and the README) are reproduced by measuring again: no number is typed by hand."""

import json

import pytest

from majl_hf.hub.render import measured_dir
from tests.conftest import REPO_ROOT, shared_path
from tests.hub.conftest import load_script

MEASURED = measured_dir() / "default_quality.json"


@pytest.mark.slow
def test_committed_quality_numbers_are_reproduced():
    import majl_hf
    from majl_hf.hub import is_cached

    measure = load_script("evaluate_default").measure  # repository maintenance: lives in scripts/

    if not all(is_cached(m) for m in (majl_hf.DEFAULT_MODEL, majl_hf.DEFAULT_MODEL_TINY)):
        pytest.skip("the defaults are not in the HF cache: run python scripts/build_default.py")
    committed = json.loads(MEASURED.read_text())
    fresh = measure(shared_path(), torchcrepe_python=None)  # torchcrepe rows need torchcrepe: not re-run here
    for system, row in fresh["separation"].items():
        for clip, value in row.items():
            assert value == pytest.approx(committed["separation"][system][clip], abs=0.02), (system, clip)
    for system, row in fresh["pitch"].items():
        for metric, value in row.items():
            assert value == pytest.approx(committed["pitch"][system][metric], abs=0.15), (system, metric)
    # the like-for-like comparison: our port on the original's own input gives the original's SDR
    concat = "MedleyDB 80sRock, inside real_concat_17s.wav (the original's input)"
    original = committed["separation"]["Spleeter 2stems (TensorFlow original)"][concat]
    assert fresh["separation"][majl_hf.DEFAULT_MODEL][concat] == pytest.approx(original, abs=0.05)


def test_card_template_renders_the_committed_numbers(tmp_path):
    """The card of a converted default carries the measured table verbatim."""
    from majl_hf.hub.pretrained import write_card

    (tmp_path / "model.safetensors").write_bytes(b"stand-in weights for the hash line")
    md = (MEASURED.parent / "default_quality.md").read_text()
    write_card(tmp_path, "majl-hf/majl-unet-crepe-full", "full", {"crepe_full_activation_max_abs_error": 2.4e-7}, md)
    card = (tmp_path / "README.md").read_text()
    committed = json.loads(MEASURED.read_text())
    rpa = committed["pitch"]["majl-hf/majl-unet-crepe-full (from the mixture)"]["rpa"]
    assert f"| {rpa} |" in card
    assert "license: mit" in card and "2.40e-07" in card


def test_readme_shows_the_committed_table():
    readme = (REPO_ROOT / "README.md").read_text()
    table_rows = [
        line for line in (MEASURED.parent / "default_quality.md").read_text().splitlines() if line.startswith("| ")
    ]
    assert table_rows and all(row in readme for row in table_rows)
