#!/usr/bin/env bash
# The demo: set up (scripts/setup.sh), then run the appliance against the simulated junction,
# delivering through a real Mosquitto (TLS, per-device ACL) to a real collector; prints the
# scorer's table and what arrived. Extra arguments go to roadcam.tools.demo (e.g. --scenario smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m roadcam.tools.demo "$@"
