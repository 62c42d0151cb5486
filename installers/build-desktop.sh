#!/usr/bin/env bash
# Builds the desktop app's installers with the Tauri bundler. On Linux:
# a .deb and an .rpm (AppImage needs a download the build machines cannot
# reach). On Windows (msi, nsis) and macOS (app, dmg) the same command uses
# src-tauri/tauri.windows.conf.json or tauri.macos.conf.json; see
# installers/README.md for what a release pipeline there needs.
#
#   installers/build-desktop.sh            # release build
#   installers/build-desktop.sh --debug    # the debug build the tests use
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
profile=release
args=()
if [ "${1:-}" = "--debug" ]; then
    profile=debug
    args+=(--debug)
fi
case "$(uname -s)" in
    Linux) bundles=deb,rpm ;;
    Darwin) bundles=app,dmg ;;
    *) bundles=msi,nsis ;;
esac
# setup.sh built ui/dist; the bundler builds the app (embedding it), then
# packs it. On Linux the release binary loses its line tables first (kept
# in the build for profiling, not wanted in what users download).
ui/node_modules/.bin/tauri build --ci "${args[@]}" --no-bundle >&2
if [ "$profile" = release ] && [ "$(uname -s)" = Linux ]; then
    strip --strip-debug "$CARGO_TARGET_DIR/release/raptorflow-desktop"
fi
ui/node_modules/.bin/tauri bundle --ci "${args[@]}" --bundles "$bundles" >&2
out="$CARGO_TARGET_DIR/$profile/bundle"
find "$out" -maxdepth 2 -type f \( -name '*.deb' -o -name '*.rpm' -o -name '*.msi' -o -name '*.exe' -o -name '*.dmg' \) -print
