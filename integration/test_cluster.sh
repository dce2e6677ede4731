#!/usr/bin/env bash
# e2e: the control plane at scale on a Raft-clustered state database. Three hosts, one state
# database member in each host's namespace (Raft over the underlay). CREATES (default 300)
# `docker create` run concurrently through the hosts' proxies, spread evenly, on one CIDR; the
# Raft leader is killed (-9) a third of the way in. Afterwards: every create succeeded, every
# address is distinct, the database and the hosts' network-only containers agree exactly (no
# allocation lost, none leaked, none twice), every address answers a ping from every host, and
# the killed member rejoins. The database runs on ssl: (Raft and clients; STATE_SSL=0 for plain
# TCP): a client or member without a certificate of the lab's CA is refused.
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
STATE_CLUSTER=1
STATE_SSL=${STATE_SSL:-1}
CREATES=${CREATES:-300}
PARALLEL=${PARALLEL:-24}
lab_init cluster
raise_neighbour_limits
underlay_up 3
for h in 1 2 3; do host_base_up "$h"; done
state_cluster_up 3
for h in 1 2 3; do host_up "$h"; done
CIDR=10.84.0.1/22
NETWORK=10.84.0.0/22

for h in 1 2 3; do
  dp "$h" run --pull=never -d --name "p$h" -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null ||
    fail "pinger on host $h"
done
pass "3 hosts on a 3-member Raft state database ($(state_scheme)); a pinger container on each"

if [ "$STATE_SSL" = 1 ]; then
  # Whoever is on the underlay without the CA's certificate reads nothing and writes nothing.
  command -v ovsdb-client >/dev/null || fail "missing command: ovsdb-client"
  member="$UNDERLAY_PREFIX.1:6641"
  hx 1 timeout 10 ovsdb-client --timeout=5 list-dbs "tcp:$member" >/dev/null 2>&1 &&
    fail "plain TCP to the ssl: port of the state database was answered"
  pki_ca stranger-ca
  pki_cert stranger stranger-ca /CN=stranger
  t=$(pki_dir)
  hx 1 timeout 10 ovsdb-client --timeout=5 --private-key="$t/stranger-key.pem" \
    --certificate="$t/stranger.pem" --ca-cert="$t/state-ca.pem" list-dbs "ssl:$member" >/dev/null 2>&1 &&
    fail "a client with a certificate of another CA read the state database"
  read -ra files <<<"$(state_tls_files 1)"
  hx 1 timeout 10 ovsdb-client --timeout=5 --private-key="${files[0]}" --certificate="${files[1]}" \
    --ca-cert="${files[2]}" list-dbs "ssl:$member" | grep -qx "$STATE_DB_NAME" ||
    fail "a client with the lab's certificate cannot list the state database"
  out=$(hx 1 "$OVSPLANE_BIN" host ls --state-db "ssl:$member" --state-db-key "${files[0]}" \
    --state-db-cert "${files[1]}" --state-db-ca "${files[2]}" 2>&1) || fail "host ls over ssl: $out"
  [ "$(grep -c '^h[123] ' <<<"$out")" = 3 ] || fail "host ls over ssl: does not list 3 hosts: $out"
  out=$(hx 1 "$OVSPLANE_BIN" host ls --state-db "tcp:$member" --state-db-key "${files[0]}" \
    --state-db-cert "${files[1]}" --state-db-ca "${files[2]}" 2>&1) &&
    fail "TLS files with a tcp: remote were accepted"
  grep -q 'ssl:' <<<"$out" || fail "unclear error for TLS files with a tcp: remote: $out"
  pass "state database on ssl: plain TCP and a stranger's certificate get nothing; ovsplane host ls over ssl: lists 3 hosts"
fi

endpoints() { ovsplane 1 endpoint ls 2>/dev/null | awk -v n="$NETWORK" '$1 == n' | wc -l; }

# One create through host $1's proxy; a failure is recorded with what the CLI printed.
create_one() {
  local h=$1 name=$2 out
  if ! out=$(docker -H "unix://$RUN_DIR/h$h/proxy.sock" create --pull=never --name "$name" \
    -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 2>&1); then
    echo "$name (host $h): $out" >>"$RUN_DIR/create-failures"
  fi
}
export -f create_one
export RUN_DIR CIDR LAB_IMAGE
: >"$RUN_DIR/create-failures"
start=$(date +%s%N)
for i in $(seq 1 "$CREATES"); do echo "$(((i - 1) % 3 + 1)) a$i"; done |
  xargs -P "$PARALLEL" -n 2 bash -c 'create_one "$@"' _ &
creates_pid=$!

# A third of the way in, kill -9 the Raft leader.
wait_until 300 sh -c "[ \$($OVSPLANE_BIN endpoint ls --state-db $(state_cli_remote) 2>/dev/null | grep -c '^$NETWORK') -ge $((CREATES / 3 + 3)) ]" ||
  fail "creates did not progress: $(endpoints) endpoints"
leader=$(state_leader)
[ -n "$leader" ] || fail "no Raft leader"
before_kill=$(endpoints)
leader_pid=$(cat "$(hdir "$leader")/state-db.pid")
kill -KILL "$leader_pid"
killed=$(date +%s%N)
wait "$leader_pid" 2>/dev/null || true
log "killed the Raft leader (host $leader's member) at $before_kill endpoints"
STATE_MEMBERS=($(for h in "${STATE_MEMBERS[@]}"; do [ "$h" = "$leader" ] || echo "$h"; done))
wait_until 60 sh -c "[ \$($OVSPLANE_BIN endpoint ls --state-db $(state_cli_remote) 2>/dev/null | grep -c '^$NETWORK') -gt $before_kill ]" ||
  fail "attaches did not resume after the leader was killed"
resumed_ms=$((($(date +%s%N) - killed) / 1000000))
wait "$creates_pid"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ -s "$RUN_DIR/create-failures" ] &&
  fail "$(wc -l <"$RUN_DIR/create-failures") creates failed: $(head -3 "$RUN_DIR/create-failures")"
pass "$CREATES concurrent creates (x$PARALLEL) all succeeded in ${elapsed_ms} ms; attaches resumed ${resumed_ms} ms after the leader was killed"

# The database and the hosts agree exactly: every endpoint has one network-only container on
# some host with the same address, and no address is held twice.
ovsplane 1 endpoint ls | awk -v n="$NETWORK" '$1 == n {print $2}' | sort >"$RUN_DIR/db-ips"
for h in 1 2 3; do
  dk "$h" ps --filter label=ovsplane.role=network --format '{{.Label "ovsplane.ip"}}'
done | sort >"$RUN_DIR/container-ips"
expected=$((CREATES + 3))
[ "$(wc -l <"$RUN_DIR/db-ips")" = "$expected" ] || fail "$(wc -l <"$RUN_DIR/db-ips") addresses in the database, expected $expected"
[ "$(sort -u "$RUN_DIR/db-ips" | wc -l)" = "$expected" ] || fail "duplicate addresses in the database"
cmp -s "$RUN_DIR/db-ips" "$RUN_DIR/container-ips" ||
  fail "database and containers disagree: $(diff "$RUN_DIR/db-ips" "$RUN_DIR/container-ips" | head -5)"
apps=0
for h in 1 2 3; do apps=$((apps + $(dk "$h" ps -aq --filter name='^a[0-9]+$' | wc -l))); done
[ "$apps" = "$CREATES" ] || fail "$apps application containers, expected $CREATES"
pass "$expected distinct addresses; the database and the network-only containers agree exactly"

# Every address answers every host's pinger (iputils ping in the pinger's namespace).
ping_all_from() {
  local pid
  pid=$(dk "$1" inspect -f '{{.State.Pid}}' "ovsplane-net-p$1")
  xargs -P 32 -I{} sh -c "nsenter -t $pid -n ping -c 1 -W 2 {} >/dev/null 2>&1 ||
    nsenter -t $pid -n ping -c 2 -W 2 {} >/dev/null 2>&1 || echo {}" <"$RUN_DIR/db-ips"
}
start=$(date +%s%N)
for h in 1 2 3; do
  unreachable=$(ping_all_from "$h")
  [ -z "$unreachable" ] || fail "from host $h, $(wc -w <<<"$unreachable") addresses do not answer: $(head -c 200 <<<"$unreachable")"
done
ping_ms=$((($(date +%s%N) - start) / 1000000))
pass "all $expected addresses answer a ping from each of the 3 hosts ($((expected * 3)) pings, ${ping_ms} ms)"

# The killed member comes back from its file and rejoins.
state_member_start "$leader"
STATE_MEMBERS+=("$leader")
wait_until 30 state_member_joined "$leader" || fail "the killed member did not rejoin"
servers=$(state_ctl 1 cluster/status "$STATE_DB_NAME" | sed -n '/^Servers:/,$p' | grep -c "$(state_scheme):" || true)
[ "$servers" = 3 ] || fail "cluster has $servers servers after the rejoin"
[ -n "$(state_leader)" ] || fail "no leader after the rejoin"
pass "the killed member rejoined: 3 servers, leader on host $(state_leader)"

for h in 1 2 3; do check_logs "$h"; done
echo "PASS: cluster ($CREATES creates in ${elapsed_ms} ms, resumed ${resumed_ms} ms after leader kill)"
