#!/usr/bin/env bash
# How often an idle sync server wakes up: context switches per second,
# summed over its threads, over SECONDS (default 10) with no client.
#
#   scripts/bench/idle_wakeups.sh [SECONDS] [BINARY]
#
# BINARY defaults to the release raptorflow-sync in the target directory
# (cargo build --release -p raptorflow-sync). Linux only (/proc).
set -euo pipefail
secs=${1:-10}
target=${CARGO_TARGET_DIR:-$(dirname "$0")/../../target}
binary=${2:-$target/release/raptorflow-sync}
[[ -x $binary ]] || { echo "no server binary at $binary: build it with cargo build --release -p raptorflow-sync" >&2; exit 2; }
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RAPTORFLOW_SYNC_LISTEN=127.0.0.1:$port "$binary" --db "sqlite://$dir/sync.db" serve >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
switches() {
    local total=0 n
    for status in /proc/$pid/task/*/status; do
        n=$(awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }' "$status" 2>/dev/null || echo 0)
        total=$((total + n))
    done
    echo $total
}
sleep 3 # start-up settles
before=$(switches)
sleep "$secs"
after=$(switches)
echo "idle wakeups: $(( (after - before) / secs ))/s over ${secs} s ($binary)"
