#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the browser tests (tests/web/test_browser.py):
# Playwright drives that binary, as it cannot download its own browsers here.
set -euo pipefail

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

if command -v chromium >/dev/null; then exit 0; fi

echo "ensure-chromium: installing chromium" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null || { echo "ensure-chromium: chromium not on PATH" >&2; exit 1; }
