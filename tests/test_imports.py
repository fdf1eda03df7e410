"""The package root is light: importing the pitch utilities or the corpora loads no backbone and not
``transformers.pipelines``; the three-line pipeline use still registers everything it needs."""

import json
import subprocess
import sys

import pytest

HEAVY = ("transformers.pipelines", "majl_hf.models.crepe.modeling_crepe", "majl_hf.models.unet.modeling_unet",
         "majl_hf.modeling_majl", "majl_hf.hub.publish", "majl_hf.pipelines")


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("statement", ["import majl_hf", "import majl_hf.pitch", "import majl_hf.data"])
def test_light_imports_load_no_backbone_and_no_pipelines(statement):
    assert _loaded_after(statement) == []


def test_root_import_does_not_even_import_torch():
    code = "import sys, majl_hf; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]


def test_registration_follows_transformers_imports():
    code = (
        "import majl_hf\n"
        "from transformers import AutoConfig, AutoModel, pipeline\n"
        "from transformers.pipelines import PIPELINE_REGISTRY\n"
        "cfg = AutoConfig.for_model('majl', pitch_config={'model_type': 'crepe', 'capacity': 'tiny'})\n"
        "m = AutoModel.from_config(cfg)\n"
        "print(type(m).__name__, type(m.pitch_estimator).__name__, 'majl-vocal' in PIPELINE_REGISTRY.supported_tasks)"
    )
    out = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.split() == ["MajlModel", "CrepeModel", "True"]


def test_importing_pipelines_first_registers_the_task_without_warnings():
    code = ("import majl_hf.pipelines\nfrom transformers.pipelines import PIPELINE_REGISTRY\n"
            "print('majl-vocal' in PIPELINE_REGISTRY.supported_tasks)")
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "True"
