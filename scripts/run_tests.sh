#!/usr/bin/env bash
# Set-up from nothing, the pretrained defaults built once into the HF cache the demo uses too
# (scripts/prepare.sh), the linter, then the whole test suite (slow tests included; CI runs exactly
# this). The summary lists every skipped test with its reason (-rs) and the suite's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prepare.sh
ruff check .  # the linter (ruff.toml), clean on every commit
python -m pytest -q -rs -p no:cacheprovider tests "$@"
