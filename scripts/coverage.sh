#!/usr/bin/env bash
# Line coverage per crate of the whole test suite, with cargo-llvm-cov.
# Every test runs as in scripts/test.sh (same set-up, same services), built
# with coverage instrumentation in a target directory of its own; the
# binaries the end-to-end tests spawn (raptorflow, raptorflow-sync) are
# instrumented too and count. Prints a table and writes the JSON summary
# to coverage/summary.json. Slow: a second full build, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
if ! rustup component list --installed 2>/dev/null | grep -q '^llvm-tools'; then
    echo "coverage: installing llvm-tools" >&2
    rustup component add llvm-tools
fi
if ! cargo llvm-cov --version >/dev/null 2>&1; then
    echo "coverage: installing cargo-llvm-cov" >&2
    cargo install cargo-llvm-cov --locked
fi
# Instrumented builds get a target directory of their own: the normal one
# stays warm for scripts/test.sh.
export CARGO_TARGET_DIR="${RAPTORFLOW_COVERAGE_TARGET_DIR:-$HOME/.cache/raptorflow/coverage-target}"
mkdir -p "$CARGO_TARGET_DIR"
# A rustc wrapper that instruments the workspace's crates (not the
# dependencies), and where every process, spawned binaries included,
# writes its profile.
# shellcheck disable=SC1090
source <(cargo llvm-cov show-env --sh 2>/dev/null)
cargo llvm-cov clean --workspace
status=0
./scripts/test.sh --workspace || status=$?
mkdir -p coverage
cargo llvm-cov report --json --summary-only --ignore-filename-regex '(/tests/|/benches/|/\.cargo/|/rustc/)' --output-path coverage/summary.json
python3 - coverage/summary.json <<'PY'
import json, os, re, sys
files = json.load(open(sys.argv[1]))["data"][0]["files"]
root = os.getcwd() + "/"
crates = {}
for f in files:
    path = f["filename"].removeprefix(root)
    m = re.match(r"(crates/[^/]+|sync-server|tests)/", path)
    if not m:
        continue
    lines = f["summary"]["lines"]
    total = crates.setdefault(m.group(1), [0, 0])
    total[0] += lines["covered"]
    total[1] += lines["count"]
print(f"{'crate':<24} {'lines':>8} {'covered':>8} {'line coverage':>14}")
covered = count = 0
for name, (c, n) in sorted(crates.items()):
    covered, count = covered + c, count + n
    print(f"{name:<24} {n:>8} {c:>8} {100 * c / max(n, 1):>13.1f}%")
print(f"{'all':<24} {count:>8} {covered:>8} {100 * covered / max(count, 1):>13.1f}%")
PY
exit "$status"
