#!/usr/bin/env bash
# Stops everything scripts/up.sh started (containers, dockerd, OVS, the proxy, the namespace)
# and removes its directory. Safe to run when nothing is running.
set -euo pipefail
cd "$(dirname "$0")/.."
LAB_DIR=${LAB_DIR:-/tmp/ovsplane-demo}
[ "$(id -u)" = 0 ] || { echo "down: run as root (sudo $0)" >&2; exit 1; }
if [ ! -f "$LAB_DIR/lab.env" ]; then
  echo "down: nothing running in $LAB_DIR"
  exit 0
fi
# shellcheck source=../integration/lib.sh
. integration/lib.sh
lab_teardown "$LAB_DIR"
echo "down: stopped and removed $LAB_DIR"
