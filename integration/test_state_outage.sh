#!/usr/bin/env bash
# e2e: the state database goes away and comes back. Three hosts on a 3-member Raft cluster, a
# container on each, pinging across hosts. Every member is stopped for longer than the hosts'
# --host-expiry. Meanwhile: a new `docker run` fails fast with a clear error and leaves nothing
# behind; existing containers keep talking across hosts without losing a packet and keep their
# tunnels. When the members restart, attaches work again and a new container reaches the old
# ones. Times are printed. The hosts find their VTEP address themselves (--vtep-ip auto).
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
STATE_CLUSTER=1
HOST_EXPIRY=8
VTEP_AUTO=1
OUTAGE_SECONDS=${OUTAGE_SECONDS:-15}
lab_init outage
underlay_up 3
for h in 1 2 3; do host_base_up "$h"; done
state_cluster_up 3
for h in 1 2 3; do host_up "$h"; done
CIDR=10.85.0.1/24
RUN=(run --pull=never -d)
ipof() { dp "$1" exec "$2" ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1; }
vxlan_ports() { vsctl "$1" --bare --columns=name find Interface type=vxlan | grep -c .; }

ips=()
for h in 1 2 3; do
  dp "$h" "${RUN[@]}" --name "c$h" -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null
  ips[h]=$(ipof "$h" "c$h")
done
wait_until 10 dp 1 exec c1 ping -c 1 -W 1 "${ips[2]}" || fail "c1 cannot reach c2"
wait_until 10 dp 1 exec c1 ping -c 1 -W 1 "${ips[3]}" || fail "c1 cannot reach c3"
[ "$(vxlan_ports 1)" = 2 ] || fail "host 1 has $(vxlan_ports 1) tunnels, expected 2"
for h in 1 2 3; do
  ovsplane 1 host ls | grep -Eq "^h$h +192\.168\.77\.$h " || fail "host $h's VTEP was not detected: $(ovsplane 1 host ls)"
done
pass "c1, c2, c3 (${ips[*]}) ping across 3 hosts (VTEPs detected with --vtep-ip auto)"

# Pings every 0.2 s from c1 to c2 and c3 for the whole outage and recovery (iputils ping in
# c1's namespace: it reports loss exactly). A count, not a deadline: with -w ping exits at the
# deadline and counts the reply still in flight as lost.
c1_pid=$(dk 1 inspect -f '{{.State.Pid}}' ovsplane-net-c1)
watch_seconds=$((OUTAGE_SECONDS + 25))
for j in 2 3; do
  nsenter -t "$c1_pid" -n ping -i 0.2 -W 1 -c $((watch_seconds * 5)) "${ips[j]}" >"$RUN_DIR/ping1$j.txt" 2>&1 &
  eval "ping_pid$j=$!"
done
sleep 1

for h in 1 2 3; do stop_pid "$(cat "$(hdir "$h")/state-db.pid")"; done
outage=$(date +%s%N)
log "every state database member stopped"

start=$(date +%s%N)
out=$(dp 1 "${RUN[@]}" --name n1 -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 2>&1) &&
  fail "docker run succeeded without a state database"
first_ms=$((($(date +%s%N) - start) / 1000000))
grep -q 'ovsplane: network 10.85.0.1/24 in the state database: .*OVSPlane database' <<<"$out" ||
  fail "unclear error: $out"
[ "$first_ms" -lt 8000 ] || fail "the first attach took ${first_ms} ms to fail"
start=$(date +%s%N)
out=$(dp 2 "${RUN[@]}" --name n2 -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 2>&1) &&
  fail "docker run succeeded without a state database"
second_ms=$((($(date +%s%N) - start) / 1000000))
grep -q 'unusable for' <<<"$out" || fail "unclear error: $out"
[ "$second_ms" -lt 2000 ] || fail "an attach during a known outage took ${second_ms} ms to fail"
for h in 1 2; do
  [ -z "$(dk "$h" ps -aq --filter name="n$h")" ] || fail "the refused run left a container on host $h"
done
message=$(grep -m1 'Error response' <<<"$out")
pass "without a state database docker run fails with '${message#*Error response from daemon: }' (first after ${first_ms} ms, then after ${second_ms} ms) and leaves nothing"

while [ $((($(date +%s%N) - outage) / 1000000000)) -lt "$OUTAGE_SECONDS" ]; do sleep 0.5; done
for h in 1 2 3; do
  [ "$(vxlan_ports "$h")" = 2 ] || fail "host $h has $(vxlan_ports "$h") tunnels after a ${OUTAGE_SECONDS} s outage"
done
dp 2 exec c2 ping -c 1 -W 2 "${ips[3]}" >/dev/null || fail "c2 cannot reach c3 during the outage"
pass "${OUTAGE_SECONDS} s into the outage (host expiry ${HOST_EXPIRY} s): every tunnel in place, containers talk"

for h in 1 2 3; do state_member_start "$h"; done
restarted=$(date +%s%N)
for h in 1 2 3; do wait_until 30 state_member_joined "$h" || fail "member $h did not come back"; done
wait_until 30 dp 2 "${RUN[@]}" --name n2 -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 ||
  fail "attaches did not resume after the state database came back"
recovered_ms=$((($(date +%s%N) - restarted) / 1000000))
n2=$(ipof 2 n2)
wait_until 10 dp 2 exec n2 ping -c 1 -W 1 "${ips[1]}" || fail "the new container cannot reach c1"
wait_until 10 dp 2 exec n2 ping -c 1 -W 1 "${ips[3]}" || fail "the new container cannot reach c3"
pass "state database back: attaches resumed ${recovered_ms} ms after the members restarted; n2 ($n2) reaches c1 and c3"

for j in 2 3; do
  eval "wait \$ping_pid$j" || true
  summary=$(grep 'packets transmitted' "$RUN_DIR/ping1$j.txt")
  sent=$(awk '{print $1}' <<<"$summary")
  received=$(awk '{print $4}' <<<"$summary")
  [ "${sent:-0}" -gt 100 ] || fail "c1 -> c$j: too few pings: $summary"
  if [ "$sent" != "$received" ]; then
    missing=$(awk -v n="$sent" '/icmp_seq=/ { sub(/.*icmp_seq=/, ""); seen[$1 + 0] = 1 }
      END { for (i = 1; i <= n; i++) if (!(i in seen)) printf "%d ", i }' "$RUN_DIR/ping1$j.txt")
    fail "c1 -> c$j lost packets across the outage: $summary (icmp_seq unanswered: $missing; 5 a second from the start)"
  fi
  pass "c1 -> c$j: $received of $sent pings answered over $watch_seconds s (outage and recovery)"
done

for h in 1 2 3; do check_logs "$h"; done
echo "PASS: state outage (fail fast ${first_ms}/${second_ms} ms, recovery ${recovered_ms} ms, no loss)"
