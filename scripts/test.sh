#!/usr/bin/env bash
# The whole ovsplane test suite: install what is missing (apt), build with ASan+UBSan, run every
# ctest tier. Tiers whose prerequisites are missing are skipped loudly, never passed silently.
# Usage: sudo scripts/test.sh [extra ctest args]   (env: BUILD_DIR, JOBS)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/test}
JOBS=${JOBS:-$(nproc)}

if [[ $(id -u) -eq 0 ]]; then
  scripts/bootstrap.sh
else
  scripts/bootstrap.sh || { echo "test: run as root to install packages" >&2; exit 1; }
fi

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOVSPLANE_SANITIZE=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"

# Which tiers can run here. The ctest label of each tier is its name.
exclude=()
skip_tier() {
  echo "test: SKIPPING tier '$1': $2" >&2
  exclude+=("$1")
}
if [[ $(id -u) -ne 0 ]]; then
  skip_tier netns "needs root (network namespaces)"
  skip_tier e2e "needs root (dockerd, OVS, namespaces)"
fi
command -v ovsdb-server >/dev/null || skip_tier ovsdb "ovsdb-server not installed"

ctest_args=(--test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 600)
if ((${#exclude[@]})); then
  ctest_args+=(-LE "^($(IFS='|'; echo "${exclude[*]}"))$")
fi
# UBSan: fail on the first report with a stack; ASan: leaks are errors.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
ctest "${ctest_args[@]}" "$@"
