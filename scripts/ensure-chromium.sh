#!/usr/bin/env bash
# The browser tests drive Debian's Chromium with Playwright (no browser download from elsewhere
# works here). Install it when missing: apt-get as root, else sudo; say what to do otherwise.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "ensure-chromium: Debian's chromium is missing and this user cannot install it;" \
       "run: apt-get install chromium" >&2
  exit 1
fi
echo "ensure-chromium: installing Debian's chromium (browser tests of the report)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
