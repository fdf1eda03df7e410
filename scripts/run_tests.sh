#!/usr/bin/env bash
# Set-up from nothing, then the whole test suite (slow tests included; CI runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The pretrained defaults, built from the original weights into a repo-local HF cache (once).
export HF_HOME="$PWD/.hf_home"
SHARED_ARGS=()
[ -d ../shared/reference ] && SHARED_ARGS=(--shared ../shared)
python - <<'PY' || python scripts/build_default.py --wheels wheels --output-dir converted "${SHARED_ARGS[@]}"
import sys, majl_hf
from majl_hf.hub import is_cached
sys.exit(0 if all(is_cached(m) for m in (majl_hf.DEFAULT_MODEL, majl_hf.DEFAULT_MODEL_TINY)) else 1)
PY
ruff check .  # the linter (ruff.toml), clean on every commit
python -m pytest -q -rs -p no:cacheprovider tests "$@"
