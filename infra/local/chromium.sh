#!/usr/bin/env bash
# Makes sure headless Chromium (Debian's `chromium` package) is installed, for
# the browser test of the connect page (tests/integration/tests/stack/connect_page.rs).
# Idempotent; prints one line. Never fails the caller: where Chromium cannot be
# installed (not root and no sudo, no apt-get, no package source) it says why
# and the browser test skips itself with the same advice.
#
#   infra/local/chromium.sh
set -uo pipefail

found() { command -v chromium || command -v chromium-browser; } 2>/dev/null

if path="$(found)"; then
    echo "chromium: $path"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: not installed and no apt-get here; install Chromium by hand to run the connect page's browser test"
    exit 0
fi

as_root=()
if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        echo "chromium: not installed, and installing it needs root (or sudo): apt-get install chromium"
        exit 0
    fi
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# The package lists may be missing or stale on a fresh machine: update once,
# then install without recommends (no fonts packs, no desktop extras).
if DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y --no-install-recommends chromium >"$log" 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get update >>"$log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y --no-install-recommends chromium >>"$log" 2>&1; }; then
    echo "chromium: installed $(found)"
else
    echo "chromium: could not be installed (apt-get said: $(tail -1 "$log")); the connect page's browser test will skip"
fi
exit 0
