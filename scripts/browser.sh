#!/usr/bin/env bash
# The headless browser of the console's end-to-end tests (test/console/): Debian's chromium package,
# driven by playwright-core with executablePath /usr/bin/chromium. Nothing downloads a browser build:
# playwright-core has no install script, and the tests never call `playwright install`.
#   scripts/browser.sh install   installs chromium with apt-get when it is missing (idempotent)
#   scripts/browser.sh path      prints the browser's path (exit 1 when it is not installed)
set -euo pipefail

BROWSER="${AUTHMESH_BROWSER:-/usr/bin/chromium}"

case "${1:-}" in
  install)
    if [ -x "$BROWSER" ]; then
      echo "browser: $("$BROWSER" --version 2>/dev/null | tail -1) at $BROWSER"
      exit 0
    fi
    if ! command -v apt-get >/dev/null; then
      echo "browser: $BROWSER is missing and there is no apt-get: install Chromium and set AUTHMESH_BROWSER" >&2
      exit 1
    fi
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    # The package lists may be absent on a fresh machine: refresh them once, then install.
    if ! apt-cache show chromium >/dev/null 2>&1; then $sudo apt-get update -qq; fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    echo "browser: $("$BROWSER" --version 2>/dev/null | tail -1) installed at $BROWSER"
    ;;
  path)
    if [ -x "$BROWSER" ]; then echo "$BROWSER"; else exit 1; fi
    ;;
  *)
    echo "usage: scripts/browser.sh install|path" >&2
    exit 2
    ;;
esac
