"""The `evaluate` metric module loads offline from its local path and returns the library's numbers."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from majl_hf.evaluation import bss_eval_sdr, melody_metrics, metric_module_path, nsdr

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter so that the offline variables are read when evaluate is imported,
# with sockets disabled so that any network attempt fails loudly.
_SCRIPT = r"""
import json, socket, sys
def _no_network(*args, **kwargs):
    raise OSError("network access attempted during an offline test")
socket.socket.connect = _no_network
socket.create_connection = _no_network

import numpy as np
import evaluate
from majl_hf.evaluation import metric_module_path

metric = evaluate.load(metric_module_path(), keep_in_memory=True)
rng = np.random.default_rng(0)
ref = rng.standard_normal(4000)
est = ref + 0.3 * rng.standard_normal(4000)
mix = ref + rng.standard_normal(4000)
t = np.arange(50) * 0.02
f0 = np.full(50, 220.0)
f0[:10] = 0.0
est_f0 = f0 * 2 ** (np.where(np.arange(50) < 30, 30, 70) / 1200)
out = {"name": metric.name, "class": type(metric).__name__}
out["full"] = metric.compute(
    predictions=[{"vocals": est, "times_s": t, "f0_hz": est_f0}, {"vocals": est[:2000]}],
    references=[{"vocals": ref, "mixture": mix, "times_s": t, "f0_hz": f0},
                {"vocals": np.zeros(2000), "mixture": mix[:2000]}],
    return_per_clip=True,
)
out["bare"] = metric.compute(predictions=[est], references=[ref], sdr_method="energy_ratio")
stereo_ref = np.stack([ref, 0.5 * ref])
stereo_est = np.stack([est, 0.5 * est])
metric.add_batch(predictions=[{"vocals": stereo_est}], references=[{"vocals": stereo_ref}])
out["stereo"] = metric.compute()
out["pitch_only"] = metric.compute(
    predictions=[{"times_s": t, "f0_hz": f0}], references=[{"times_s": t, "f0_hz": np.zeros(50)}]
)
try:
    metric.compute(predictions=[{"vocal": est}], references=[{"vocals": ref}])
except ValueError as err:
    out["typo_error"] = str(err)
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def metric_run(tmp_path_factory):
    for module in ("evaluate", "datasets", "mir_eval"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install 'majl_hf[eval]')")
    home = tmp_path_factory.mktemp("hf_home")
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_EVALUATE_OFFLINE="1",
        HF_HOME=str(home),
        HF_MODULES_CACHE=str(home / "modules"),
        PYTHONPATH=os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])),
    )
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=home, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def _signals():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(4000)
    est = ref + 0.3 * rng.standard_normal(4000)
    mix = ref + rng.standard_normal(4000)
    return ref, est, mix


def test_metric_module_file_exists_and_has_one_import_per_line():
    path = Path(metric_module_path())
    assert path.is_file() and path.name == "majl_metric.py"
    imports = [ln for ln in path.read_text().splitlines() if ln.startswith(("import ", "from "))]
    assert imports and all("," not in ln for ln in imports)


def test_evaluate_load_offline_and_numbers_match_the_library(metric_run):
    assert metric_run["class"] == "MajlMetric" and metric_run["name"] == "majl_metric"
    ref, est, mix = _signals()
    full = metric_run["full"]
    # the silent-vocals clip is skipped and counted, so the means are the first clip's values
    assert full["n_clips"] == 2
    assert full["sdr"] == pytest.approx(bss_eval_sdr(ref, est).sdr, abs=1e-9)
    assert full["gnsdr"] == pytest.approx(nsdr(ref, est, mix).nsdr, abs=1e-9)
    assert full["skipped"]["sdr"] == {"silent_reference": 1} and full["skipped"]["gnsdr"] == {"silent_reference": 1}
    t = np.arange(50) * 0.02
    f0 = np.full(50, 220.0)
    f0[:10] = 0.0
    est_f0 = f0 * 2 ** (np.where(np.arange(50) < 30, 30, 70) / 1200)
    pitch = melody_metrics(t, f0, t, est_f0)
    for key in ("rpa", "rca", "oa", "vr", "vfa"):
        assert full[key] == pytest.approx(pitch[key], abs=1e-12), key
    assert 0 < full["rpa"] < 1 and full["skipped"]["rpa"] == {"missing": 1}
    assert full["per_clip"][1]["sdr"]["status"] == "silent_reference"
    # bare arrays, energy-ratio SDR
    assert metric_run["bare"]["sdr"] == pytest.approx(
        10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2)), abs=1e-9
    )
    assert metric_run["bare"]["gnsdr"] is None and metric_run["bare"]["rpa"] is None
    # (channels, samples) audio through add_batch
    stereo = bss_eval_sdr(np.stack([ref, 0.5 * ref]), np.stack([est, 0.5 * est]))
    assert metric_run["stereo"]["sdr"] == pytest.approx(stereo.sdr, abs=1e-9)
    # an all-unvoiced reference: RPA undefined, not 0
    only = metric_run["pitch_only"]
    assert only["rpa"] is None and only["oa"] == pytest.approx(0.2) and only["skipped"]["rpa"] == {"undefined": 1}
    assert "unknown key(s) ['vocal']" in metric_run["typo_error"]
