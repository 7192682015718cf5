#!/usr/bin/env bash
# The test command: set up (scripts/setup.sh), install the headless browser the fault-report
# rendering test needs (scripts/test-browser.sh: Debian's Chromium, when missing), lint (ruff) and
# type-check (mypy on roadcam.protocol; both set up in pyproject.toml), then run the whole pytest suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/test-browser.sh
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest "$@"
