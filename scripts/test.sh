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

# Fuzzing (libFuzzer, clang): the hook decoder, the CIDR/env parsers, request targets / bounded
# JSON, adapters.yml, dockerd's replies and the proxy's request framing, for a bounded time each.
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
if command -v clang++-16 >/dev/null && [ "$FUZZ_SECONDS" -gt 0 ]; then
  cmake -S fuzz -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 >/dev/null
  cmake --build build/fuzz -j "$JOBS"
  for target in hook cidr target adapters docker_reply framing; do
    corpus=$(mktemp -d)
    cp fuzz/corpus/"$target"/* "$corpus"/
    echo "test: fuzzing $target for ${FUZZ_SECONDS}s"
    if ! (cd "$corpus" && "$OLDPWD/build/fuzz/${target}_fuzz" -max_total_time="$FUZZ_SECONDS" \
          -timeout=10 -print_final_stats=1 . >fuzz.log 2>&1); then
      tail -n 40 "$corpus/fuzz.log" >&2
      echo "test: fuzz target $target FAILED (reproducer in $corpus)" >&2
      exit 1
    fi
    grep -E '^stat::number_of_executed_units' "$corpus/fuzz.log" || true
    rm -rf "$corpus"
  done
else
  echo "test: SKIPPING fuzzing: clang++-16 not installed (or FUZZ_SECONDS=0)" >&2
fi

ctest_args=(--test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 600)
if ((${#exclude[@]})); then
  ctest_args+=(-LE "^($(IFS='|'; echo "${exclude[*]}"))$")
fi
# UBSan: fail on the first report with a stack; ASan: leaks are errors.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
ctest "${ctest_args[@]}" "$@"
