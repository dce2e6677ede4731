#!/usr/bin/env bash
# Build the benchmarks in release mode and run them.
# Usage: scripts/bench.sh [ipam|ovsdb] [benchmark args]
# Results and the exact commands are recorded in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/release}
scripts/bootstrap.sh
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOVSPLANE_BUILD_TESTS=ON \
  -DOVSPLANE_BUILD_BENCH=ON >/dev/null
which=${1:-ipam}
shift || true
cmake --build "$BUILD_DIR" --target "${which}_bench"
"$BUILD_DIR/bench/${which}_bench" "$@"
