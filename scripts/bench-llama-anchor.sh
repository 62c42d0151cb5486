#!/usr/bin/env bash
# Makes (once) the llama.cpp anchor for the LLM benchmark: node-llama-cpp
# (prebuilt, from npm) beside a copy of the anchor script, and prints the
# directory. Usage: LLM_BENCH_ANCHOR_DIR=$(scripts/bench-llama-anchor.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${RAPTORFLOW_LLAMA_ANCHOR:-$HOME/.cache/raptorflow/llama-anchor}"
mkdir -p "$dir/anchor-scripts"
cp "$here/tests/data/anchor-scripts/llamacpp_bench.mjs" "$here/tests/data/anchor-scripts/gemma_greedy.mjs" "$dir/anchor-scripts/"
cp "$here/tests/data/corpus.json" "$dir/"
if [ ! -d "$dir/anchor-scripts/node_modules/node-llama-cpp" ]; then
    (cd "$dir/anchor-scripts" && npm install --no-audit --no-fund --loglevel=error node-llama-cpp@3.22.1 >&2)
fi
echo "$dir"
