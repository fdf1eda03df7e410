#!/usr/bin/env bash
# Build a separate virtual environment holding the peer pitch trackers that scripts/benchmark.py compares
# against: torchcrepe 0.0.24, torchfcpe 0.0.4, PESTO (pesto-pitch) and SwiftF0 (swift-f0).
#
#     bash scripts/peers_env.sh /tmp/majl_peers        # then: --peers-python /tmp/majl_peers/bin/python
#
# The peers pull torchaudio, which must never go into the project's own .venv. torch 2.9.1 with torchaudio 2.9.*
# is the pair known to install and import together on these machines (PyPI's x86_64 torch is a CUDA build: several
# GB in the venv; everything here runs on the CPU). The pip cap in /etc/xdg/pip (torch <= 2.14.1) admits 2.9.1.
# Re-running on an existing folder only installs what is missing.
set -euo pipefail

DIR="${1:?usage: peers_env.sh DIR}"
PYTHON="${PEERS_BASE_PYTHON:-python3}"
TORCH="${PEERS_TORCH:-2.9.1}"
TORCHAUDIO="${PEERS_TORCHAUDIO:-2.9.*}"

if [ ! -x "$DIR/bin/python" ]; then
    "$PYTHON" -m venv "$DIR"
fi
PIP=("$DIR/bin/python" -m pip install --disable-pip-version-check --quiet)
"${PIP[@]}" "torch==$TORCH"
"${PIP[@]}" "torch==$TORCH" "torchaudio==$TORCHAUDIO"
# the peers, with the torch above held fixed so that no resolver moves it
"${PIP[@]}" "torch==$TORCH" "torchaudio==$TORCHAUDIO" \
    "torchcrepe==0.0.24" "torchfcpe==0.0.4" "pesto-pitch==2.0.1" "swift-f0==0.3.0" soundfile numpy
"$DIR/bin/python" - <<'EOF'
import importlib.metadata as md

for name in ("torch", "torchaudio", "torchcrepe", "torchfcpe", "pesto-pitch", "swift-f0", "onnxruntime"):
    try:
        print(f"{name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name} MISSING")
import torchcrepe, torchfcpe, pesto, swift_f0  # noqa: E401,F401  (fails loudly if one does not import)
print("peers import OK")
EOF
