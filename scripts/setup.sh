#!/usr/bin/env bash
# Prepare this checkout on a fresh Debian machine: system packages when missing, then .venv.
# Safe to run again: it only installs what is not there yet.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto mosquitto-clients)
python3.11 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3.11 python3.11-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} from Debian's packages"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp=.venv/.installed-$(sha256sum setup.cfg | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: creating .venv and installing roadcam with its [device,dev,postgres] extras"
  python3.11 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[device,dev,postgres]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
