#!/usr/bin/env bash
# The main job on the bundled real example, from nothing: set-up, the pretrained default built from
# the original weights (once; it lands in the local Hugging Face cache), then vocals + f0 + plot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1
if ! python -c "import sys, majl_hf; from majl_hf.hub import is_cached; sys.exit(0 if is_cached(majl_hf.DEFAULT_MODEL) else 1)"; then
  echo "building the pretrained default (Spleeter 2stems U-Net + CREPE) into the HF cache ..."
  python scripts/build_default.py --wheels wheels --output-dir converted
fi
majl-vocal examples/audio_example.mp3 -o demo_output "$@"
ls -l demo_output
