#!/usr/bin/env bash
# e2e: adapters.yml chaining through `ovsplane proxy` with the real docker CLI and dockerd.
# ovsplane's built-in adapter runs first, then two external test adapters (tests/support/
# test_adapter.cc): "stamp" on a unix socket and "audit" on loopback TCP. A create passes the
# three pre-hooks in order (each stamps Env) and the three post-hooks (each adds a warning the
# CLI prints); a refusing adapter, a slow one (past --hook-timeout) and a dead one each fail
# `docker run` with a message naming the adapter, and leave no container, no network-only
# container and no address behind (the built-in adapter's attach is undone).
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
TEST_ADAPTER=${OVSPLANE_TEST_ADAPTER:-$OVP_ROOT/build/test/tests/ovsplane_test_adapter}
[ -x "$TEST_ADAPTER" ] || skip "test adapter not built at $TEST_ADAPTER"
lab_init adapters
host_base_up 1
d=$(hdir 1)
start_daemon 1 stamp "$TEST_ADAPTER" stamp "unix:$d/stamp.sock"
start_daemon 1 audit "$TEST_ADAPTER" audit tcp:127.0.0.1:7811
cat >"$d/adapters.yml" <<YAML
version: 1
endpoints:
  "POST /*/containers/create":
    pre: [ovsplane, stamp, audit]
    post: [ovsplane, stamp, audit]
  "POST /*/containers/*/start":
    post: [ovsplane]
  "DELETE /*/containers/*":
    post: [ovsplane]
adapters:
  ovsplane: builtin
  stamp: unix://$d/stamp.sock
  audit: http://127.0.0.1:7811/audit
YAML
OVP_FLAGS="--adapters $d/adapters.yml --hook-timeout 1000" host_up 1
CIDR=10.86.0.1/24
RUN=(run --pull=never -d)

"$OVSPLANE_BIN" proxy --adapters /dev/null --proxy-listen unix:$d/x.sock 2>"$d/bad.txt" && fail "an empty adapters.yml was accepted"
grep -q 'empty' "$d/bad.txt" || fail "unclear error for an empty adapters.yml: $(cat "$d/bad.txt")"

dp 1 "${RUN[@]}" --name s1 -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >"$d/s1.out" 2>"$d/s1.err" ||
  fail "docker run through three adapters: $(cat "$d/s1.err")"
grep -q '^WARNING: stamp saw ' "$d/s1.err" && grep -q '^WARNING: audit saw ' "$d/s1.err" ||
  fail "the post-hooks' warnings are missing: $(cat "$d/s1.err")"
[ "$(grep -n 'saw' "$d/s1.err" | cut -d: -f1 | tr '\n' ' ')" = "1 2 " ] && head -1 "$d/s1.err" | grep -q stamp ||
  fail "post-hooks out of order: $(cat "$d/s1.err")"
env=$(dk 1 inspect -f '{{json .Config.Env}}' s1)
jq -e 'index("STAMPED_BY=stamp") < index("STAMPED_BY=audit")' <<<"$env" >/dev/null ||
  fail "pre-hooks did not chain in order: $env"
mode=$(dk 1 inspect -f '{{.HostConfig.NetworkMode}}' s1)
[[ $mode == container:* ]] || fail "the built-in adapter did not rewrite NetworkMode: $mode"
dp 1 "${RUN[@]}" --name s2 -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null 2>&1
ip2=$(dp 1 exec s2 ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)
dp 1 exec s1 ping -c 2 -W 2 "$ip2" >/dev/null || fail "s1 cannot ping s2"
pass "create chained ovsplane -> stamp -> audit (Env $(jq -c '[.[] | select(startswith("STAMPED"))]' <<<"$env")), post-hooks in order, NetworkMode $mode, s1 pings s2"

state() {
  echo "$(dk 1 ps -aq | wc -l) containers, $(ovsplane 1 endpoint ls | grep -c '^10\.86')" endpoints
}
before=$(state)
expect_refused() {  # expect_refused NAME PATTERN ENV...: docker run fails naming the adapter
  local name=$1 pattern=$2 out start ms
  shift 2
  start=$(date +%s%N)
  out=$(dp 1 "${RUN[@]}" --name "$name" -e "OVSPLANE_CIDR=$CIDR" "$@" "$LAB_IMAGE" sleep 3600 2>&1) &&
    fail "$name: docker run succeeded"
  ms=$((($(date +%s%N) - start) / 1000000))
  grep -q "$pattern" <<<"$out" || fail "$name: unclear error: $out"
  wait_until 5 sh -c "[ \"\$1\" = \"$before\" ]" _ "$(state)" ||
    fail "$name: left something behind: $(state), before $before"
  [ "$(state)" = "$before" ] || fail "$name: left something behind: $(state), before $before"
  REFUSED_MS=$ms
  REFUSED_MESSAGE=$(grep -m1 'Error response' <<<"$out")
}
expect_refused r1 'ovsplane: adapter stamp: stamp refuses this container' -e stamp=refuse
pass "a refusing adapter: '${REFUSED_MESSAGE#*daemon: }'; nothing left behind"
expect_refused r2 'ovsplane: adapter audit (http://127.0.0.1:7811/audit) did not answer within 1000 ms' -e audit=slow
[ "$REFUSED_MS" -lt 2800 ] || fail "the hook timeout took ${REFUSED_MS} ms"
pass "a slow adapter: '${REFUSED_MESSAGE#*daemon: }' after ${REFUSED_MS} ms; nothing left behind"
stop_pid "$(cat "$d/audit.pid")"
expect_refused r3 'ovsplane: adapter audit (http://127.0.0.1:7811/audit): connect: Connection refused'
pass "a dead adapter: '${REFUSED_MESSAGE#*daemon: }'; nothing left behind"
dp 1 ps >/dev/null || fail "requests without hooks failed"
dp 1 rm -f s1 s2 >/dev/null
wait_until 10 sh -c "[ \"\$($OVSPLANE_BIN endpoint ls --state-db unix:$d/state.sock | grep -c '^10\.86')\" = 0 ]" ||
  fail "removing through the chained proxy left addresses"
pass "rm through the chained proxy released every address"

check_logs 1
echo "PASS: proxy adapters"
