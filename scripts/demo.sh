#!/usr/bin/env bash
# The main job on the bundled real example, from nothing: set-up and the pretrained defaults built
# from the original weights (scripts/prepare.sh: once, into the HF cache the tests use too), then
# vocals + f0 + plot.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prepare.sh
majl-vocal examples/audio_example.mp3 -o demo_output "$@"
ls -l demo_output
echo "the model is cached in $HF_HOME: export HF_HOME=\"$HF_HOME\" to use it from Python or majl-vocal elsewhere"
