#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine and runs every test of the workspace
# (unit, integration, end-to-end and doc tests). Extra arguments go to
# `cargo test`, e.g. `scripts/test.sh -p rf-store`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
if [ "$#" -eq 0 ]; then set -- --workspace; fi
cargo test --locked "$@"
