# Sourced (from the repository root) by scripts/demo.sh and scripts/run_tests.sh: the set-up from nothing
# (scripts/setup_env.sh), the venv activated, one Hugging Face cache for both (the repo-local .hf_home
# unless HF_HOME is already set), offline, and the pretrained defaults (full and tiny) built into it once,
# from the original weights, the same way whichever script runs first.
bash scripts/setup_env.sh
. .venv/bin/activate
export HF_HOME="${HF_HOME:-$PWD/.hf_home}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if ! python - <<'PY'
import sys, majl_hf
from majl_hf.defaults import PRETRAINED_MODELS
from majl_hf.hub.pretrained import is_built
sys.exit(0 if all(is_built(PRETRAINED_MODELS[v]) for v in ("full", "tiny")) else 1)
PY
then
  SHARED_ARGS=()
  [ -d ../shared/reference ] && SHARED_ARGS=(--shared ../shared)
  echo "building the pretrained pairs Spleeter 2stems U-Net + CREPE tiny (the default) / full into $HF_HOME ..."
  python scripts/build_default.py --variants full tiny --wheels wheels --output-dir converted "${SHARED_ARGS[@]}"
fi
