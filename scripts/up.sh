#!/usr/bin/env bash
# The main job: install what is missing, build ovsplane (release) and show what it does.
# Today it builds and prints `ovsplane --help`; it grows into "bring up OVS, the adapter and the
# proxy on this host and show two containers on one CIDR pinging" as the issues land.
# Usage: sudo scripts/up.sh   (env: BUILD_DIR, JOBS)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/release}
JOBS=${JOBS:-$(nproc)}

scripts/bootstrap.sh
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOVSPLANE_BUILD_TESTS=OFF \
  >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target ovsplane
echo
"$BUILD_DIR/adapter/ovsplane" --version
"$BUILD_DIR/adapter/ovsplane" --help
echo
"$BUILD_DIR/adapter/ovsplane" cidr 10.0.6.1/24
