#!/usr/bin/env bash
# The test command: set up (scripts/setup.sh), then run the whole pytest suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
