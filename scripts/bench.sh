#!/usr/bin/env bash
# Build the benchmarks in release mode and run one of them.
# Usage: scripts/bench.sh ipam|ovsdb|netlink [args]      Google Benchmark programs (netlink: root)
#        scripts/bench.sh hooks                           hook server: passthrough hooks/s, RSS
#        scripts/bench.sh proxy                           proxy vs dockerd direct (root: a lab host)
#        scripts/bench.sh dataplane [MIB]                 TCP and ping: overlay, underlay, veth (root; TSO=1)
#        scripts/bench.sh scale [N] [NETS]                N containers over NETS networks (root; 1000 10)
#        scripts/bench.sh attach [N]                      docker run -d on each network kind (root; POOL=4)
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
ipam | ovsdb | netlink)
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
  # The floor: an HTTP-blind byte relay with the proxy's threading model (bench/relay_floor.cc),
  # and the same relay as a one-thread epoll event loop (what an asio/Beast proxy does).
  "$BUILD_DIR/bench/relay_floor" "$d/floor.sock" "$d/docker.sock" threads &
  floor_pid=$!
  on_exit "kill $floor_pid"
  "$BUILD_DIR/bench/relay_floor" "$d/epoll.sock" "$d/docker.sock" epoll &
  epoll_pid=$!
  on_exit "kill $epoll_pid"
  wait_until 5 test -S "$d/floor.sock"
  wait_until 5 test -S "$d/epoll.sock"
  # socat relaying the same sockets: the relay users would put in front of dockerd themselves.
  command -v socat >/dev/null || { echo "bench proxy: needs socat (scripts/bootstrap.sh)" >&2; exit 1; }
  socat "UNIX-LISTEN:$d/socat.sock,fork" "UNIX-CONNECT:$d/docker.sock" &
  socat_pid=$!
  on_exit "kill $socat_pid"
  wait_until 5 test -S "$d/socat.sock"
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
      epoll=$("$LOAD" "$d/epoll.sock" GET "$path" - "$clients" "$n" keepalive)
      socat=$("$LOAD" "$d/socat.sock" GET "$path" - "$clients" "$n" keepalive)
      proxied=$("$LOAD" "$d/proxy.sock" GET "$path" - "$clients" "$n" keepalive)
      printf 'GET %-28s %2d clients  direct: %s\n%48s relay:  %s\n%48s epoll:  %s\n%48s socat:  %s\n%48s proxy:  %s\n' \
        "$path" "$clients" "$direct" "" "$floor" "" "$epoll" "" "$socat" "" "$proxied"
      printf '%48s proxy vs socat: %s; socat vs direct: %s; proxy vs relay: %s; epoll relay vs thread relay: %s\n' "" \
        "$(ratio "$socat" "$proxied")" "$(ratio "$direct" "$socat")" "$(ratio "$floor" "$proxied")" "$(ratio "$floor" "$epoll")"
    done
  done
  # Streaming: a 10,000-line log read in full, direct and through the proxy.
  dk 1 run --pull=never -d --name logger "$LAB_IMAGE" sh -c 'seq 1 200000' >/dev/null
  wait_until 30 sh -c "[ \"\$(docker -H unix://$d/docker.sock inspect -f '{{.State.Running}}' logger)\" = false ]"
  for target in docker floor epoll socat proxy; do
    start=$(date +%s%N)
    bytes=$(curl -s --unix-socket "$d/$target.sock" "http://x/v1.41/containers/logger/logs?stdout=1" | wc -c)
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "logs of 200,000 lines via $target: $bytes bytes in $ms ms"
  done
  ;;
attach)
  # N `docker run -d` (whole docker process, until it returns: the container runs, its network
  # wired) on each kind of network of one lab host, interleaved so that drift hits all alike;
  # then the same with the pool off (ovsplane restarted with --network-pool 0).
  [ "$(id -u)" = 0 ] || { echo "bench attach: needs root (a lab host with its own dockerd)" >&2; exit 1; }
  n=${1:-50}
  pool=${POOL:-4}  # the daemon's default
  cmake --build "$BUILD_DIR" --target ovsplane
  export OVSPLANE_BIN=$PWD/$BUILD_DIR/adapter/ovsplane OVP_MODE=proxy OVP_POOL=$pool
  # shellcheck source=../integration/lib.sh
  . integration/lib.sh
  lab_init bench
  host_up 1
  daemons_save 1
  d=$(hdir 1)
  dk 1 network create -d bridge --subnet 10.89.0.0/24 dbridge >/dev/null
  dk 1 network create -d ovsplane --ipam-driver ovsplane --subnet 10.89.1.0/24 ovp >/dev/null
  declare -A times
  pool_full() {
    [ "$(curl -s --unix-socket "$d/adapter.sock" http://adapter/metrics | awk '$1 == "ovsplane_pool_ready" {print $2}')" = "$pool" ]
  }
  # rounds ROUND KIND...: N interleaved runs of each kind; times[KIND] gets microseconds.
  rounds() {
    local round=$1 i kind cmd start
    shift
    for i in $(seq 1 "$n"); do
      for kind in "$@"; do
        case $kind in
        bridge*) cmd=(dk 1 run --pull=never -d --network dbridge) ;;
        plugin) cmd=(dk 1 run --pull=never -d --network ovp) ;;
        powerstrip*) cmd=(dp 1 run --pull=never -d -e OVSPLANE_CIDR=10.89.4.1/22) ;;
        none) cmd=(dk 1 run --pull=never -d --network none) ;;
        esac
        # Every run starts with dockerd quiet: the pool's refill after a claim (one container
        # create and start) is not left running into the next kind's run. (back-to-back below.)
        [ "$round" != 1 ] || wait_until 10 pool_full || true
        start=$(date +%s%N)
        "${cmd[@]}" --name "b$round-$kind-$i" "$LAB_IMAGE" sleep 3600 >/dev/null
        times[$kind]+="$(( ($(date +%s%N) - start) / 1000 )) "
      done
    done
  }
  stats() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR] = $1} END {
      printf "p50 %.3f s, p90 %.3f s, p99 %.3f s", v[int((NR + 1) / 2)] / 1e6, v[int(NR * 0.9 + 0.5)] / 1e6,
        v[int(NR * 0.99 + 0.5)] / 1e6 }'; }
  p50() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
  ratio() { awk -v a="$(p50 "${times[$1]}")" -v b="$(p50 "${times[$2]}")" 'BEGIN { printf "%.2fx", a / b }'; }
  # The adapter's own time per attach, by phase: mean and an upper bound of the median (the
  # first histogram bucket holding half the attaches), from /metrics.
  phases() {
    curl -s --unix-socket "$d/adapter.sock" http://adapter/metrics | awk '
      /^ovsplane_attach_phase_seconds_bucket/ { match($0, /phase="[a-z_]+"/); p = substr($0, RSTART + 7, RLENGTH - 8)
        match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); nb[p]++; bl[p, nb[p]] = le; bc[p, nb[p]] = $2 }
      /^ovsplane_attach_phase_seconds_sum/ { match($0, /phase="[a-z_]+"/); sum[substr($0, RSTART + 7, RLENGTH - 8)] = $2 }
      /^ovsplane_attach_phase_seconds_count/ { match($0, /phase="[a-z_]+"/); cnt[substr($0, RSTART + 7, RLENGTH - 8)] = $2 }
      /^ovsplane_attach_pooled_total/ { pooled = $2 }
      END { for (p in cnt) { med = "+Inf"; for (i = 1; i <= nb[p]; i++) if (bc[p, i] >= cnt[p] / 2) { med = bl[p, i]; break }
              printf "    %-9s mean %6.2f ms, p50 <= %s s\n", p, 1000 * sum[p] / cnt[p], med; total += sum[p] / cnt[p] }
            printf "    all       mean %6.2f ms; %d of the attaches pooled\n", 1000 * total, pooled }' | sort
  }
  echo "docker run -d, $n each, one lab host (userspace OVS), interleaved"
  echo "pool of $pool started network-only containers (the default):"
  rounds 1 bridge plugin powerstrip none
  for kind in bridge plugin powerstrip none; do printf '  %-16s %s\n' "$kind" "$(stats "${times[$kind]}")"; done
  echo "  the adapter's own time per Powerstrip attach:"
  phases
  echo "back to back, the pool refilling while the next runs go (no waits):"
  rounds 3 bridge-3 powerstrip-b2b
  for kind in bridge-3 powerstrip-b2b; do printf '  %-16s %s\n' "$kind" "$(stats "${times[$kind]}")"; done
  echo "pool off (--network-pool 0), ovsplane restarted:"
  daemon_stop 1 adapter
  python3 - "$d/adapter.argv" <<'PY'
import sys
path = sys.argv[1]
argv = open(path, 'rb').read().split(b'\0')
argv[argv.index(b'--network-pool') + 1] = b'0'
open(path, 'wb').write(b'\0'.join(argv))
PY
  daemon_start 1 adapter
  wait_until 30 adapter_ready 1 || fail "ovsplane did not come back with --network-pool 0"
  rounds 2 bridge-2 powerstrip-nopool
  for kind in bridge-2 powerstrip-nopool; do printf '  %-16s %s\n' "$kind" "$(stats "${times[$kind]}")"; done
  echo "  the adapter's own time per Powerstrip attach:"
  phases
  echo "ratios of p50:"
  echo "  powerstrip (pool) / Docker bridge:  $(ratio powerstrip bridge)   (target <= 1.0)"
  echo "  powerstrip (pool) / none:           $(ratio powerstrip none)"
  echo "  powerstrip (pool, back to back) / Docker bridge: $(ratio powerstrip-b2b bridge-3)"
  echo "  powerstrip (no pool) / Docker bridge: $(ratio powerstrip-nopool bridge-2)   (target <= 1.3)"
  echo "  plugin / Docker bridge:             $(ratio plugin bridge)"
  echo "  none / Docker bridge:               $(ratio none bridge)"
  ;;
dataplane)
  # One TCP stream of MIB MiB (default 200) and a ping, in one run, between: two containers on one
  # CIDR on two lab hosts (VXLAN, userspace datapath), the two hosts' own namespaces (their
  # underlay addresses, on the same OVS userspace bridges) and a plain veth pair (no OVS: the
  # kernel's floor here). socat runs inside each network namespace (nsenter), so every path is
  # measured with the same tool. TSO=1 also sets other_config:userspace-tso-enable=true.
  [ "$(id -u)" = 0 ] || { echo "bench dataplane: needs root (lab namespaces)" >&2; exit 1; }
  command -v socat >/dev/null || { echo "bench dataplane: needs socat (scripts/bootstrap.sh)" >&2; exit 1; }
  mib=${1:-200}
  cmake --build "$BUILD_DIR" --target ovsplane
  export OVSPLANE_BIN=$PWD/$BUILD_DIR/adapter/ovsplane OVP_MODE=proxy
  # shellcheck source=../integration/lib.sh
  . integration/lib.sh
  lab_init benchdp
  underlay_up 2
  host_up 1
  host_up 2
  if [ "${TSO:-0}" = 1 ]; then
    for h in 1 2; do
      daemons_save "$h"
      vsctl "$h" set Open_vSwitch . other_config:userspace-tso-enable=true
      daemon_stop "$h" ovs-vswitchd
      daemon_start "$h" ovs-vswitchd
      wait_until 20 vswitchd_ready "$h" || fail "ovs-vswitchd of host $h did not come back"
    done
  fi
  for h in 1 2; do
    dp "$h" run --pull=never -d --name "s$h" -e OVSPLANE_CIDR=10.89.8.1/24 "$LAB_IMAGE" sleep 3600 >/dev/null
  done
  ip netns add "ovp${LAB_ID}va"
  on_exit "ip netns del ovp${LAB_ID}va"
  ip netns add "ovp${LAB_ID}vb"
  on_exit "ip netns del ovp${LAB_ID}vb"
  ip -n "ovp${LAB_ID}va" link add eth0 type veth peer name eth0 netns "ovp${LAB_ID}vb"
  ip -n "ovp${LAB_ID}va" addr add 10.89.9.1/24 dev eth0
  ip -n "ovp${LAB_ID}vb" addr add 10.89.9.2/24 dev eth0
  for v in va vb; do ip -n "ovp${LAB_ID}$v" link set eth0 up; ip -n "ovp${LAB_ID}$v" link set lo up; done
  netpid() { dk "$1" inspect -f '{{.State.Pid}}' "ovsplane-net-s$1"; }
  c1=(nsenter -t "$(netpid 1)" -n) c2=(nsenter -t "$(netpid 2)" -n)
  h1=(ip netns exec "$(hns 1)") h2=(ip netns exec "$(hns 2)")
  va=(ip netns exec "ovp${LAB_ID}va") vb=(ip netns exec "ovp${LAB_ID}vb")
  ip_c1=$(container_ip 1 s1)
  wait_until 10 "${c2[@]}" ping -c 1 -W 1 "$ip_c1" >/dev/null || fail "s2 cannot reach s1"
  # path NAME RECEIVER SENDER ADDRESS: MB/s of one stream, and ping's average round trip.
  path() {
    local name=$1 addr=$4 rx tx start secs rtt
    read -ra rx <<<"$2"
    read -ra tx <<<"$3"
    "${rx[@]}" socat -b 262144 -u TCP-LISTEN:5201,reuseaddr OPEN:/dev/null &
    local listener=$!
    sleep 0.5
    start=$(date +%s%N)
    head -c $((mib * 1048576)) /dev/zero | "${tx[@]}" socat -b 262144 -u - "TCP:$addr:5201"
    wait "$listener"
    secs=$(awk -v ns=$(($(date +%s%N) - start)) 'BEGIN {print ns / 1e9}')
    rtt=$("${tx[@]}" ping -q -c 20 -i 0.05 "$addr" | awk -F/ '/^rtt/ {print $5}')
    awk -v n="$name" -v m="$mib" -v s="$secs" -v r="$rtt" \
      'BEGIN { printf "  %-44s %7.0f MB/s  ping avg %.3f ms\n", n, m * 1.048576 / s, r }'
    RESULT[$name]=$(awk -v m="$mib" -v s="$secs" 'BEGIN {print m * 1.048576 / s}')
  }
  declare -A RESULT
  echo "one TCP stream of $mib MiB, then 20 pings (TSO ${TSO:-0}):"
  path overlay "${c1[*]}" "${c2[*]}" "$ip_c1"
  path underlay "${h1[*]}" "${h2[*]}" "$UNDERLAY_PREFIX.1"
  path veth "${va[*]}" "${vb[*]}" 10.89.9.1
  awk -v o="${RESULT[overlay]}" -v u="${RESULT[underlay]}" -v v="${RESULT[veth]}" \
    'BEGIN { printf "  overlay / underlay: %.2fx (target >= 0.9); underlay / veth: %.2fx\n", o / u, u / v }'
  ;;
scale)
  # N `docker run -d` through the proxy, one after the other, over NETS networks on one lab host
  # (default 1000 over 10): the attach time at #10 and at #500 (p50 of the 21 runs around each),
  # then a ping across each network (its first and last container), and the proxy's RSS.
  [ "$(id -u)" = 0 ] || { echo "bench scale: needs root (a lab host with its own dockerd)" >&2; exit 1; }
  n=${1:-1000}
  nets=${2:-10}
  cmake --build "$BUILD_DIR" --target ovsplane
  export OVSPLANE_BIN=$PWD/$BUILD_DIR/adapter/ovsplane OVP_MODE=proxy OVP_POOL=${POOL:-4}
  # shellcheck source=../integration/lib.sh
  . integration/lib.sh
  lab_init benchscale
  raise_neighbour_limits
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"  # as many as this shell may
  host_up 1
  d=$(hdir 1)
  : >"$d/times.txt"
  : >"$d/bridge-times.txt"
  # Docker's own bridge at the same container counts (the baseline dockerd's growth sets).
  dk 1 network create -d bridge --subnet 10.89.0.0/24 sbridge >/dev/null
  declare -A phase_sum phase_count
  scale_phases() {  # the adapter's phases over the last window, mean ms (from /metrics)
    local line name sum count out=""
    while read -r name sum count; do
      out+="$name $(awk -v s="$sum" -v ps="${phase_sum[$name]:-0}" -v c="$count" -v pc="${phase_count[$name]:-0}" \
        'BEGIN { if (c > pc) printf "%.1f", 1000 * (s - ps) / (c - pc); else printf "-" }') "
      phase_sum[$name]=$sum
      phase_count[$name]=$count
    done < <(curl -s --unix-socket "$d/adapter.sock" http://adapter/metrics | awk '
      /^ovsplane_attach_phase_seconds_sum/ { match($0, /phase="[a-z_]+"/); s[substr($0, RSTART + 7, RLENGTH - 8)] = $2 }
      /^ovsplane_attach_phase_seconds_count/ { match($0, /phase="[a-z_]+"/); c[substr($0, RSTART + 7, RLENGTH - 8)] = $2 }
      END { for (p in c) print p, s[p], c[p] }' | sort)
    echo "$out"
  }
  rss_parts() {  # the adapter's RSS by kind of mapping (KiB): heap, other anonymous, files
    awk '/^[0-9a-f]+-[0-9a-f]+ / { kind = ($6 == "") ? "anon" : ($6 ~ /^\[/ ? $6 : "file") }
         /^Rss:/ { r[kind] += $2 } END { for (k in r) printf "%s %d KiB; ", k, r[k] }' \
      "/proc/$(cat "$d/adapter.pid")/smaps"
    printf 'threads %s; ' "$(ls "/proc/$(cat "$d/adapter.pid")/task" | wc -l)"
    curl -s --unix-socket "$d/adapter.sock" http://adapter/metrics |
      awk '/^ovsplane_heap_bytes/ { match($0, /state="[a-z_]+"/); printf "heap %s %d KiB ", substr($0, RSTART + 7, RLENGTH - 8), $2 / 1024 }'
  }
  in_window() { local i=$1 c; for c in 10 500 "$((n - 10))"; do [ "$i" -lt $((c - 10)) ] || [ "$i" -gt $((c + 10)) ] || return 0; done; return 1; }
  for i in $(seq 1 "$n"); do
    net=$(( (i - 1) % nets ))
    start=$(date +%s%N)
    dp 1 run --pull=never -d --name "s$i" -e "OVSPLANE_CIDR=10.$((100 + net)).0.1/20" "$LAB_IMAGE" sleep 1d >/dev/null ||
      fail "docker run #$i"
    echo "$i $(( ($(date +%s%N) - start) / 1000 ))" >>"$d/times.txt"
    if in_window "$i"; then
      start=$(date +%s%N)
      dk 1 run --pull=never -d --name "b$i" --network sbridge "$LAB_IMAGE" sleep 1d >/dev/null || fail "bridge run #$i"
      echo "$i $(( ($(date +%s%N) - start) / 1000 ))" >>"$d/bridge-times.txt"
    fi
    [ $((i % 100)) != 0 ] || log "$i containers; proxy RSS $(awk '/VmRSS/ {print $2, $3}' "/proc/$(cat "$d/adapter.pid")/status") ($(rss_parts)); adapter's own time over the last 100 (mean ms): $(scale_phases)"
  done
  around() {  # around FILE I: p50 (s) of the runs I-10..I+10
    awk -v i="$2" '$1 >= i - 10 && $1 <= i + 10 {print $2}' "$1" | sort -n |
      awk '{v[NR] = $1} END {printf "%.3f", v[int((NR + 1) / 2)] / 1e6}'
  }
  at10=$(around "$d/times.txt" 11)
  at500=$(around "$d/times.txt" 500)
  last=$(around "$d/times.txt" $((n - 10)))
  b10=$(around "$d/bridge-times.txt" 11)
  b500=$(around "$d/bridge-times.txt" 500)
  blast=$(around "$d/bridge-times.txt" $((n - 10)))
  echo "docker run -d through the proxy, $n containers over $nets networks, one after the other"
  echo "(and Docker's bridge, a container each, in the windows around #10, #500 and #$((n - 10))):"
  echo "  ovsplane p50 around #10: $at10 s; around #500: $at500 s; around #$((n - 10)): $last s"
  echo "  bridge   p50 around #10: $b10 s; around #500: $b500 s; around #$((n - 10)): $blast s"
  awk -v a="$at10" -v b="$at500" -v c="$last" -v ba="$b10" -v bb="$b500" -v bc="$blast" 'BEGIN {
    printf "  #500 / #10: %.2fx (target <= 1.2); last / #10: %.2fx\n", b / a, c / a
    printf "  bridge #500 / #10: %.2fx; last / #10: %.2fx\n", bb / ba, bc / ba
    printf "  ovsplane / bridge at #10: %.2fx, at #500: %.2fx, at the last: %.2fx\n", a / ba, b / bb, c / bc }'
  ok=0
  for net in $(seq 0 $((nets - 1))); do
    first=$((net + 1))
    lastc=$(( ( (n - 1 - net) / nets ) * nets + net + 1 ))
    if dk 1 exec "s$first" ping -c 1 -W 2 "$(container_ip 1 "s$lastc")" >/dev/null; then ok=$((ok + 1)); fi
  done
  echo "  ping first -> last container on each network: $ok of $nets answered"
  echo "  proxy RSS with $n containers: $(awk '/VmRSS/ {print $2, $3}' "/proc/$(cat "$d/adapter.pid")/status") (target < 30 MiB): $(rss_parts)"
  ;;
*)
  echo "bench: unknown benchmark $which (ipam, ovsdb, netlink, hooks, proxy, attach, dataplane, scale)" >&2
  exit 2
  ;;
esac
