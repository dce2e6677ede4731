#!/usr/bin/env bash
# e2e: tunnels follow cluster membership. Two hosts run containers; a third host joins and its
# container reaches the others within seconds; when the third host's ovsplane stops, the other
# hosts' tunnel ports to it vanish. Convergence times are printed.
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
lab_init membership
underlay_up 3
host_up 1
host_up 2
CIDR=10.83.0.1/24
RUN=(run --pull=never -d)
ipof() { dp "$1" exec "$2" ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1; }

dp 1 "${RUN[@]}" --name c1 -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null
dp 2 "${RUN[@]}" --name c2 -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null
ip1=$(ipof 1 c1)
ip2=$(ipof 2 c2)
dp 1 exec c1 ping -c 2 -W 2 "$ip2" >/dev/null || fail "c1 cannot ping c2"
pass "two hosts: c1 ($ip1) and c2 ($ip2) ping"

tunnels_to() {  # tunnels_to HOST VTEP: vxlan ports of HOST towards VTEP
  vsctl "$1" --bare --columns=name find Interface type=vxlan "options:remote_ip=\"$2\"" | grep -c .
}
start=$(date +%s%N)
host_up 3
dp 3 "${RUN[@]}" --name c3 -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null
ip3=$(ipof 3 c3)
wait_until 15 dp 3 exec c3 ping -c 1 -W 1 "$ip1" || fail "c3 (new host) cannot reach c1"
wait_until 15 dp 3 exec c3 ping -c 1 -W 1 "$ip2" || fail "c3 (new host) cannot reach c2"
joined_ms=$((($(date +%s%N) - start) / 1000000))
[ "$(tunnels_to 1 192.168.77.3)" = 1 ] || fail "host 1 has no tunnel to host 3"
pass "host 3 joined: c3 ($ip3) reaches c1 and c2 ${joined_ms} ms after host 3 began starting (OVS, dockerd, ovsplane and c3 included)"

start=$(date +%s%N)
stop_pid "$(cat "$(hdir 3)/adapter.pid")"
wait_until 15 sh -c "[ \"\$(ovs-vsctl --db=unix:$(hdir 1)/db.sock --bare --columns=name find Interface type=vxlan options:remote_ip='\"192.168.77.3\"' | grep -c .)\" = 0 ]" ||
  fail "host 1 still has a tunnel to the departed host 3"
left_ms=$((($(date +%s%N) - start) / 1000000))
[ "$(tunnels_to 2 192.168.77.3)" = 0 ] || wait_until 5 sh -c "[ \"\$(ovs-vsctl --db=unix:$(hdir 2)/db.sock --bare --columns=name find Interface type=vxlan options:remote_ip='\"192.168.77.3\"' | grep -c .)\" = 0 ]" ||
  fail "host 2 still has a tunnel to host 3"
dp 1 exec c1 ping -c 2 -W 2 "$ip2" >/dev/null || fail "c1 lost c2 when host 3 left"
pass "host 3 left: its tunnel ports vanished on hosts 1 and 2 within ${left_ms} ms; c1 and c2 still ping"

for h in 1 2; do check_logs "$h"; done
echo "PASS: membership (join ${joined_ms} ms, leave ${left_ms} ms)"
