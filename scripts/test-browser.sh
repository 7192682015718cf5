#!/usr/bin/env bash
# The headless browser the tests render the fault report's HTML in (tests/test_fault_report_browser.py):
# Debian's Chromium, installed when missing. scripts/test.sh calls it; scripts/setup.sh does not,
# so the demo and a device never pull a browser in. Quiet and safe to run again.
# A failed install does not stop the tests: that test then fails under CI=true and skips locally,
# naming the reason.
set -uo pipefail

command -v chromium >/dev/null 2>&1 && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
    echo "test-browser: chromium missing and no root (sudo -n) to install it" >&2
    exit 0
  fi
  SUDO="sudo -n"
fi
echo "test-browser: installing chromium from Debian's packages (for the report rendering test)"
log=$(mktemp)
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
         --no-install-recommends chromium fonts-dejavu-core; } >"$log" 2>&1; then
  echo "test-browser: installing chromium failed:" >&2
  tail -n 5 "$log" >&2
fi
rm -f "$log"
exit 0
