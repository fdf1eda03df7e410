"""The bundled example through Spleeter + CREPE full (the default when the fingerprint was taken)
gives bit-identical outputs across refactors.

``example_fingerprint.json`` was recorded on the commit before the backbone-contract redesign with
``python scripts/example_fingerprint.py`` and the options below: level normalisation, the
evidence-based voicing and the Viterbi default, added after it, are switched off here so that the
check keeps meaning the same.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bundled_example_is_bit_identical_to_the_recorded_fingerprint(tmp_path):
    import majl_hf
    import majl_hf.defaults
    from majl_hf.hub import is_cached

    if not is_cached(majl_hf.defaults.MODEL_CREPE_FULL):
        pytest.skip("the default is not in the HF cache: run python scripts/build_default.py")
    out = tmp_path / "fp.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "example_fingerprint.py"),
            "--json",
            str(out),
            "--options",
            json.dumps({"normalize_level": False, "voicing": "paper", "decoder": "weighted_average"}),
        ],
        check=True,
        capture_output=True,
    )
    recorded = json.loads((Path(__file__).parent / "example_fingerprint.json").read_text())
    assert json.loads(out.read_text()) == recorded
