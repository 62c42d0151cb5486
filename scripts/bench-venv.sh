#!/usr/bin/env bash
# Makes (once) the Python environment the benchmark anchors run in, and
# prints its python. Usage: EMBED_BENCH_PYTHON=$(scripts/bench-venv.sh)
set -euo pipefail
venv="${RAPTORFLOW_BENCH_VENV:-$HOME/.cache/raptorflow/bench-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check -q \
        onnx==1.23.2 onnxruntime==1.32.0 safetensors==0.8.0 tokenizers==0.23.3 numpy==2.4.6 >&2
fi
echo "$venv/bin/python"
