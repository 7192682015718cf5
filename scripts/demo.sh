#!/usr/bin/env bash
# The demo: set up (scripts/setup.sh), then run the appliance against the simulated junction
# and print the scorer's table. Extra arguments go to `roadcam simulate`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
rm -rf out/demo
exec .venv/bin/roadcam simulate --scenario junction --out out/demo "$@"
