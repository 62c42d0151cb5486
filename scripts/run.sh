#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine and runs RaptorFlow. Until the desktop
# app lands this is the CLI demo: it creates a sample workspace with a
# campaign and moves in a fresh data directory and prints it.
# Extra arguments are passed to `raptorflow` instead of `demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked -p rf-cli
bin="$CARGO_TARGET_DIR/release/raptorflow"
if [ "$#" -gt 0 ]; then
    exec "$bin" "$@"
fi
data_dir="${RAPTORFLOW_DATA_DIR:-$(mktemp -d -t raptorflow-demo.XXXXXX)}"
"$bin" --data-dir "$data_dir" demo
echo "(raptorflow is $bin; './scripts/run.sh ARGS...' runs it with other arguments)" >&2
