#!/usr/bin/env bash
# Build the benchmarks in release mode and run one of them.
# Usage: scripts/bench.sh ipam|ovsdb [benchmark args]    Google Benchmark programs
#        scripts/bench.sh hooks                           hook server: passthrough hooks/s, RSS
#        scripts/bench.sh proxy                           proxy vs dockerd direct (root: a lab host)
#        scripts/bench.sh attach [N]                      docker run -d on each network kind (root)
# Results and the exact commands are recorded in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/release}
scripts/bootstrap.sh
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOVSPLANE_BUILD_TESTS=ON \
  -DOVSPLANE_BUILD_BENCH=ON >/dev/null
which=${1:-ipam}
shift || true
LOAD=$BUILD_DIR/bench/http_load

case $which in
ipam | ovsdb)
  cmake --build "$BUILD_DIR" --target "${which}_bench"
  "$BUILD_DIR/bench/${which}_bench" "$@"
  ;;
hooks)
  cmake --build "$BUILD_DIR" --target ovsplane http_load
  dir=$(mktemp -d /tmp/ovsplane-bench-XXXXXX)
  # No OVS, state database or dockerd is needed for passthrough hooks (they never reach them).
  "$BUILD_DIR/adapter/ovsplane" adapter --listen "unix:$dir/hooks.sock" --ovsdb "unix:$dir/none" \
    --state-db "unix:$dir/none" --docker "unix://$dir/none" --log-level warn >"$dir/adapter.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
  for _ in $(seq 100); do [ -S "$dir/hooks.sock" ] && break; sleep 0.05; done
  printf '%s' '{"PowerstripProtocolVersion":1,"Type":"pre-hook","ClientRequest":{"Method":"GET","Request":"/v1.41/containers/json?all=1","Body":null}}' >"$dir/hook.json"
  "$LOAD" "$dir/hooks.sock" POST /adapter "$dir/hook.json" 4 500 close >/dev/null  # warm-up
  for mode in close keepalive; do
    for clients in 1 16; do
      printf 'passthrough pre-hook, %-9s %2d clients: ' "$mode" "$clients"
      "$LOAD" "$dir/hooks.sock" POST /adapter "$dir/hook.json" "$clients" $((40000 / clients)) "$mode"
    done
  done
  echo "adapter RSS after the runs: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
  ;;
proxy)
  [ "$(id -u)" = 0 ] || { echo "bench proxy: needs root (a lab host with its own dockerd)" >&2; exit 1; }
  cmake --build "$BUILD_DIR" --target ovsplane http_load relay_floor
  export OVSPLANE_BIN=$PWD/$BUILD_DIR/adapter/ovsplane OVP_MODE=proxy
  # shellcheck source=../integration/lib.sh
  . integration/lib.sh
  lab_init bench
  host_up 1
  d=$(hdir 1)
  # The floor: an HTTP-blind byte relay with the proxy's threading model (bench/relay_floor.cc).
  "$BUILD_DIR/bench/relay_floor" "$d/floor.sock" "$d/docker.sock" &
  floor_pid=$!
  on_exit "kill $floor_pid"
  wait_until 5 test -S "$d/floor.sock"
  ratio() {  # ratio A B: "p50 B/A, throughput B/A"
    awk -v a="$1" -v b="$2" 'BEGIN {
      split(a, x, /[ =]/); split(b, y, /[ =]/);
      for (i in x) { if (x[i] == "rps") dr = x[i+1]; if (x[i] == "p50_us") dp = x[i+1] }
      for (i in y) { if (y[i] == "rps") pr = y[i+1]; if (y[i] == "p50_us") pp = y[i+1] }
      printf "p50 %.2fx, throughput %.2fx", pp / dp, pr / dr }'
  }
  for path in /_ping "/v1.41/containers/json?all=1"; do
    for clients in 1 16; do
      n=$((8000 / clients))
      direct=$("$LOAD" "$d/docker.sock" GET "$path" - "$clients" "$n" keepalive)
      floor=$("$LOAD" "$d/floor.sock" GET "$path" - "$clients" "$n" keepalive)
      proxied=$("$LOAD" "$d/proxy.sock" GET "$path" - "$clients" "$n" keepalive)
      printf 'GET %-28s %2d clients  direct: %s\n%48s relay:  %s\n%48s proxy:  %s\n' "$path" "$clients" \
        "$direct" "" "$floor" "" "$proxied"
      printf '%48s proxy vs direct: %s; relay vs direct: %s; proxy vs relay: %s\n' "" \
        "$(ratio "$direct" "$proxied")" "$(ratio "$direct" "$floor")" "$(ratio "$floor" "$proxied")"
    done
  done
  # Streaming: a 10,000-line log read in full, direct and through the proxy.
  dk 1 run --pull=never -d --name logger "$LAB_IMAGE" sh -c 'seq 1 200000' >/dev/null
  wait_until 30 sh -c "[ \"\$(docker -H unix://$d/docker.sock inspect -f '{{.State.Running}}' logger)\" = false ]"
  for target in docker floor proxy; do
    start=$(date +%s%N)
    bytes=$(curl -s --unix-socket "$d/$target.sock" "http://x/v1.41/containers/logger/logs?stdout=1" | wc -c)
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "logs of 200,000 lines via $target: $bytes bytes in $ms ms"
  done
  ;;
attach)
  # N `docker run -d` (whole docker process, until it returns: the container runs, its network
  # wired) on each kind of network of one lab host, interleaved so that drift hits all alike.
  [ "$(id -u)" = 0 ] || { echo "bench attach: needs root (a lab host with its own dockerd)" >&2; exit 1; }
  n=${1:-15}
  cmake --build "$BUILD_DIR" --target ovsplane
  export OVSPLANE_BIN=$PWD/$BUILD_DIR/adapter/ovsplane OVP_MODE=proxy
  # shellcheck source=../integration/lib.sh
  . integration/lib.sh
  lab_init bench
  host_up 1
  dk 1 network create -d bridge --subnet 10.89.0.0/24 dbridge >/dev/null
  dk 1 network create -d ovsplane --ipam-driver ovsplane --subnet 10.89.1.0/24 ovp >/dev/null
  kinds=(bridge plugin powerstrip none)
  declare -A times
  for i in $(seq 1 "$n"); do
    for kind in "${kinds[@]}"; do
      case $kind in
      bridge) cmd=(dk 1 run --pull=never -d --network dbridge) ;;
      plugin) cmd=(dk 1 run --pull=never -d --network ovp) ;;
      powerstrip) cmd=(dp 1 run --pull=never -d -e OVSPLANE_CIDR=10.89.2.1/24) ;;
      none) cmd=(dk 1 run --pull=never -d --network none) ;;
      esac
      start=$(date +%s%N)
      "${cmd[@]}" --name "b-$kind-$i" "$LAB_IMAGE" sleep 3600 >/dev/null
      times[$kind]+="$(( ($(date +%s%N) - start) / 1000 )) "
    done
  done
  stats() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR] = $1} END {
      printf "p50 %.3f s, p90 %.3f s", v[int((NR + 1) / 2)] / 1e6, v[int(NR * 0.9 + 0.5)] / 1e6 }'; }
  p50() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
  echo "docker run -d, $n each, one lab host (userspace OVS), interleaved:"
  for kind in "${kinds[@]}"; do printf '  %-11s %s\n' "$kind" "$(stats "${times[$kind]}")"; done
  base=$(p50 "${times[bridge]}")
  for kind in plugin powerstrip none; do
    awk -v k="$kind" -v a="$(p50 "${times[$kind]}")" -v b="$base" \
      'BEGIN { printf "  %s / Docker bridge (p50): %.2fx\n", k, a / b }'
  done
  ;;
*)
  echo "bench: unknown benchmark $which (ipam, ovsdb, hooks, proxy, attach)" >&2
  exit 2
  ;;
esac
