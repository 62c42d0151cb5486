#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine, builds RaptorFlow and starts the
# desktop app. Without a display (DISPLAY and WAYLAND_DISPLAY unset) it says
# so and runs the command-line demo instead: a sample workspace with a
# campaign and moves in a fresh data directory, printed.
# Extra arguments are passed to the `raptorflow` CLI instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
if [ "$#" -gt 0 ]; then
    cargo build --release --locked -p rf-cli
    exec "$CARGO_TARGET_DIR/release/raptorflow" "$@"
fi
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    cargo build --release --locked -p raptorflow-desktop
    echo "(the app keeps its data where the CLI does; RAPTORFLOW_DATA_DIR=DIR picks another directory)" >&2
    exec "$CARGO_TARGET_DIR/release/raptorflow-desktop"
fi
echo "run: there is no display (DISPLAY and WAYLAND_DISPLAY are unset), so the desktop app cannot open its window; running the command-line demo instead" >&2
cargo build --release --locked -p rf-cli
bin="$CARGO_TARGET_DIR/release/raptorflow"
data_dir="${RAPTORFLOW_DATA_DIR:-$(mktemp -d -t raptorflow-demo.XXXXXX)}"
"$bin" --data-dir "$data_dir" demo
echo "(raptorflow is $bin; './scripts/run.sh ARGS...' runs it with other arguments)" >&2
