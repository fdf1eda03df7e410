# Sourced (from the repository root) by scripts/demo.sh and scripts/run_tests.sh: the set-up from nothing
# (scripts/setup_env.sh), the venv activated, one Hugging Face cache for both (the repo-local .hf_home
# unless HF_HOME is already set), offline, and the pretrained defaults (full and tiny) built into it once,
# from the original weights, the same way whichever script runs first.
bash scripts/setup_env.sh
. .venv/bin/activate
export HF_HOME="${HF_HOME:-$PWD/.hf_home}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# Every real pair when the shared weights folder is there (HarmoF0's checkpoints and SwiftF0's ONNX
# are not on PyPI), else the two CREPE pairs (the default among them).
VARIANTS=(full tiny)
EXTRA_ARGS=()
if [ -d ../shared/weights ]; then
  VARIANTS=(full tiny harmof0-mdb harmof0-mir1k fcpe swiftf0)
  EXTRA_ARGS=(--weights ../shared/weights)
fi
[ -d ../shared/reference ] && EXTRA_ARGS+=(--shared ../shared)
if ! python - "${VARIANTS[@]}" <<'PY'
import sys
from majl_hf.defaults import PRETRAINED_MODELS
from majl_hf.hub.pretrained import is_built
sys.exit(0 if all(is_built(PRETRAINED_MODELS[v]) for v in sys.argv[1:]) else 1)
PY
then
  echo "building the pretrained pairs (${VARIANTS[*]}) from the original weights into $HF_HOME ..."
  python scripts/build_default.py --variants "${VARIANTS[@]}" --wheels wheels --output-dir converted "${EXTRA_ARGS[@]}"
fi
