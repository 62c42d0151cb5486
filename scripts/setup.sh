#!/usr/bin/env bash
# Installs what building RaptorFlow needs on Debian or Ubuntu, skipping
# whatever is already there. Sourced by run.sh and test.sh.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# System packages: a C toolchain (bundled SQLite is compiled from C),
# pkg-config, OpenSSL (TLS for sync and HTTP) and D-Bus (the OS keyring on
# Linux is reached over D-Bus).
needed=()
for pkg in build-essential pkg-config ca-certificates curl libssl-dev libdbus-1-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || needed+=("$pkg")
done
if [ "${#needed[@]}" -gt 0 ]; then
    echo "setup: installing ${needed[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}"
fi

# Rust: edition 2024 needs rustc 1.85 or newer, newer than Debian's; rustup
# provides it.
if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "setup: installing the Rust toolchain with rustup" >&2
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
fi

# Reuse one build directory outside the checkout, so a second clone or a CI
# run does not rebuild every dependency from scratch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/raptorflow/target}"
mkdir -p "$CARGO_TARGET_DIR"
