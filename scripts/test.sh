#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine and runs every test of the workspace
# (unit, integration, end-to-end and doc tests). Extra arguments go to
# `cargo test`, e.g. `scripts/test.sh -p rf-store`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
if [ "$#" -eq 0 ]; then set -- --workspace; fi
log="$(mktemp -t raptorflow-test.XXXXXX)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked "$@" 2>&1 | tee "$log" || status=$?
# cargo prints one result line per test binary, the last often for an empty
# doc-test binary; close with the totals so the outcome is read at a glance.
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
