#!/usr/bin/env bash
# e2e: the distributed gateway. Three hosts on an underlay switch, plus an "outside" namespace
# on that switch running an HTTP server (it stands for the internet). From a container on each
# host: the gateway answers (locally: its MAC is never learnt from a tunnel, ARP for it is never
# flooded into tunnels, no duplicate replies), the host is reachable and reaches the container,
# the outside server is reached and sees the underlay address of the container's own host
# (source NAT through that host), and none of it crosses the underlay as VXLAN. Two CIDRs cannot
# reach each other through the gateways; a sealed network (OVSPLANE_NAT=0) reaches nothing
# outside and the host does not reach it. ovs-vswitchd restarted on a host: its gateway flows
# come back and egress works again.
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
HOSTS=3
lab_init gateway
underlay_up "$HOSTS"
for h in $(seq 1 "$HOSTS"); do host_up "$h"; done
CIDR=10.83.0.1/24
GW=10.83.0.1
RUN=(run --pull=never -d)

# The outside: 192.168.77.200 on the underlay switch, an HTTP server logging its clients.
out="ovp${LAB_ID}out"
ip netns add "$out"
on_exit "ip netns del $out"
ip link add eth0 netns "$out" type veth peer name swpout netns "$(sw_ns)"
ip -n "$(sw_ns)" link set swpout master br-under up
ip -n "$out" addr add "$UNDERLAY_PREFIX.200/24" dev eth0
ip -n "$out" link set eth0 up
# Userspace OVS on the hosts' side: offloaded TCP checksums would arrive bad (lab gotcha 1).
ip netns exec "$out" ethtool -K eth0 tx off >/dev/null
ip -n "$out" link set lo up
mkdir -p "$RUN_DIR/www"
echo "hello from outside" >"$RUN_DIR/www/hello"
nsenter --net="/run/netns/$out" /usr/bin/python3 -m http.server 8000 --bind "$UNDERLAY_PREFIX.200" \
  --directory "$RUN_DIR/www" >"$RUN_DIR/outside.log" 2>&1 </dev/null &
on_exit "stop_pid $!"
wait_until 10 hx 1 curl -sf -m 3 "http://$UNDERLAY_PREFIX.200:8000/hello" -o /dev/null ||
  fail "the outside server does not answer host 1"

ips=()
for h in $(seq 1 "$HOSTS"); do
  dp "$h" "${RUN[@]}" --name "c$h" -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null ||
    fail "docker run on host $h"
  ips[h]=$(container_ip "$h" "c$h")
done
vni=$(ovsplane 1 network ls | awk '$1 == "10.83.0.0/24" {print $3}')
br="ovpbr$vni"
gwmac=$(printf '02:6f:76:%02x:%02x:%02x' $((vni >> 16 & 255)) $((vni >> 8 & 255)) $((vni & 255)))
for h in $(seq 1 "$HOSTS"); do
  wait_until 10 sh -c "ip -n $(hns "$h") -o -4 addr show dev $br | grep -q 'inet $GW/24'" ||
    fail "host $h has no gateway $GW on $br: $(ip -n "$(hns "$h")" -o addr show dev "$br" 2>&1)"
  ip -n "$(hns "$h")" -o link show dev "$br" | grep -q "link/ether $gwmac " ||
    fail "host $h's gateway MAC is not $gwmac: $(ip -n "$(hns "$h")" -o link show dev "$br")"
done
pass "gateway $GW ($gwmac) on $br of every host"

# Egress never crosses the underlay as VXLAN: watch host 1's cable while c1 talks to its gateway,
# its host and the outside.
ip netns exec "$(sw_ns)" timeout 12 tcpdump -nn -l -i swp1 udp port 4789 >"$RUN_DIR/vxlan.txt" 2>/dev/null &
tcpdump_pid=$!
sleep 1
for h in $(seq 1 "$HOSTS"); do
  dp "$h" exec "c$h" ping -c 2 -W 2 "$GW" >/dev/null || fail "c$h cannot ping its gateway $GW"
  dp "$h" exec "c$h" ping -c 2 -W 2 "$UNDERLAY_PREFIX.$h" >/dev/null ||
    fail "c$h cannot reach its host's address $UNDERLAY_PREFIX.$h"
  got=$(dp "$h" exec "c$h" timeout 10 wget -q -O - "http://$UNDERLAY_PREFIX.200:8000/hello?from=c$h") ||
    fail "c$h cannot fetch from the outside server"
  [ "$got" = "hello from outside" ] || fail "c$h fetched '$got'"
done
wait "$tcpdump_pid" || true
grep -q VXLAN "$RUN_DIR/vxlan.txt" && fail "gateway traffic crossed the underlay as VXLAN: $(head -3 "$RUN_DIR/vxlan.txt")"
for h in $(seq 1 "$HOSTS"); do
  grep -q "^$UNDERLAY_PREFIX.$h - .*GET /hello?from=c$h " "$RUN_DIR/outside.log" ||
    fail "the outside did not see c$h's request from host $h's address: $(grep "from=c$h" "$RUN_DIR/outside.log")"
done
pass "each container pings its gateway and its host, fetches from the outside as its own host's underlay address; no VXLAN on the underlay meanwhile"

dp 1 exec c1 sh -c 'mkdir -p /www && echo healthy >/www/health && httpd -p 8080 -h /www'
wait_until 5 hx 1 curl -sf -m 3 "http://${ips[1]}:8080/health" -o /dev/null || fail "host 1 cannot reach c1 over TCP"
hx 1 ping -c 2 -W 2 "${ips[1]}" >/dev/null || fail "host 1 cannot ping c1"
pass "the host reaches its container (ping and an HTTP health check)"

# Sustained: every container pings the gateway while the others do too; every host's gateway
# MAC stays on LOCAL, nothing moves, nobody answers twice.
pings=()
for h in $(seq 1 "$HOSTS"); do
  dp "$h" exec "c$h" ping -c 20 -i 0.2 -W 2 "$GW" >"$RUN_DIR/sustained.$h" 2>&1 &
  pings+=($!)
done
wait "${pings[@]}"
for h in $(seq 1 "$HOSTS"); do
  grep -q ' 0% packet loss' "$RUN_DIR/sustained.$h" || fail "c$h lost gateway pings: $(tail -2 "$RUN_DIR/sustained.$h")"
  grep -q DUP "$RUN_DIR/sustained.$h" && fail "c$h got duplicate replies from the gateway"
  replies=$(dp "$h" exec "c$h" arping -c 3 -w 5 -I eth0 "$GW" 2>&1 | sed -n 's/.*Received \([0-9]*\) response.*/\1/p')
  [ "$replies" = 3 ] || fail "c$h: $replies ARP replies to 3 requests for $GW (expected 3: one gateway answers)"
  fdb=$(ovs-appctl -t "$(hdir "$h")/ovs-vswitchd.ctl" fdb/show "$br")
  awk -v m="$gwmac" '$3 == m && $1 != "LOCAL" {bad=1} END {exit bad}' <<<"$fdb" ||
    fail "host $h learnt the gateway MAC on a port other than LOCAL: $fdb"
  moved=$(ovs-appctl -t "$(hdir "$h")/ovs-vswitchd.ctl" fdb/stats-show "$br" | sed -n 's/.*moved MAC entries: *\([0-9]*\).*/\1/p')
  [ "${moved:-0}" = 0 ] || fail "host $h: $moved MAC moves on $br"
done
pass "60 concurrent gateway pings: no loss, no duplicates, one ARP reply each, gateway MAC only on LOCAL, 0 MAC moves"

# Isolation between two CIDRs, on one host and across hosts.
dp 1 "${RUN[@]}" --name d1 -e "OVSPLANE_CIDR=10.84.0.1/24" "$LAB_IMAGE" sleep 3600 >/dev/null
d1=$(container_ip 1 d1)
dp 1 exec d1 ping -c 2 -W 1 10.84.0.1 >/dev/null || fail "d1 cannot ping its own gateway"
dp 1 exec d1 ping -c 2 -W 1 "${ips[1]}" >/dev/null 2>&1 && fail "10.84.0.0/24 reaches 10.83.0.0/24 on one host"
dp 2 exec c2 ping -c 2 -W 1 "$d1" >/dev/null 2>&1 && fail "10.83.0.0/24 reaches 10.84.0.0/24 across hosts"
dp 1 exec d1 timeout 10 wget -q -O /dev/null "http://$UNDERLAY_PREFIX.200:8000/hello" || fail "d1 has no egress"
pass "two CIDRs do not reach each other through the gateways; both reach the outside"

# A sealed network: no gateway address, no egress, the host does not reach it.
dp 1 "${RUN[@]}" --name s1 -e "OVSPLANE_CIDR=10.85.0.1/24" -e OVSPLANE_NAT=0 "$LAB_IMAGE" sleep 3600 >/dev/null
s1=$(container_ip 1 s1)
sbr="ovpbr$(ovsplane 1 network ls | awk '$1 == "10.85.0.0/24" {print $3}')"
sleep 2
ip -n "$(hns 1)" -o -4 addr show dev "$sbr" | grep -q inet && fail "the sealed network has a gateway address"
# (busybox 1.35's wget -T crashes: timeout(1) bounds it instead.)
rc=0
dp 1 exec s1 timeout 5 wget -q -O /dev/null "http://$UNDERLAY_PREFIX.200:8000/hello?from=sealed" 2>/dev/null || rc=$?
[ "$rc" = 0 ] && fail "a sealed network reached the outside"
[ "$rc" -ge 128 ] && [ "$rc" != 143 ] && fail "wget in s1 died of signal $((rc - 128))"
grep -q "from=sealed" "$RUN_DIR/outside.log" && fail "the outside saw the sealed network's request"
hx 1 ping -c 1 -W 1 "$s1" >/dev/null 2>&1 && fail "the host reached a sealed network"
pass "sealed network (OVSPLANE_NAT=0): no gateway address, no egress, unreachable from the host"

hx 1 nft list table ip ovsplane >"$RUN_DIR/nft.txt" || fail "no nftables table ip ovsplane on host 1"
grep -q 'ip saddr 10.83.0.0/24 ip daddr != 10.83.0.0/24 masquerade' "$RUN_DIR/nft.txt" || fail "no NAT rule: $(cat "$RUN_DIR/nft.txt")"
grep -q '10.85.0.0/24' "$RUN_DIR/nft.txt" && fail "the sealed network is NATed: $(cat "$RUN_DIR/nft.txt")"
[ "$(hx 1 nft list tables | grep -cv 'table ip ovsplane')" = 0 ] || fail "other nftables tables appeared: $(hx 1 nft list tables)"
pass "one nftables table of ovsplane's own (NAT per network, isolation set), nothing else"

# ovs-vswitchd restarts on host 2: flows are gone, the reconciler puts them back.
daemon_save 2 ovs-vswitchd
cookie=$(printf '0x6f767067%08x' "$vni")
flows() { ovs-ofctl -O OpenFlow13 dump-flows "unix:$(hdir 2)/$br.mgmt" "cookie=$cookie/-1" 2>/dev/null | grep -c 'cookie=' || true; }
[ "$(flows)" = 5 ] || fail "host 2 has $(flows) gateway flows on $br, expected 5"
daemon_stop 2 ovs-vswitchd
daemon_start 2 ovs-vswitchd
wait_until 20 vswitchd_ready 2 || fail "ovs-vswitchd of host 2 did not come back"
underlay_restore 2
wait_until 20 sh -c "[ \$(ovs-ofctl -O OpenFlow13 dump-flows unix:$(hdir 2)/$br.mgmt cookie=$cookie/-1 2>/dev/null | grep -c cookie=) = 5 ]" ||
  fail "gateway flows of host 2 not back after the ovs-vswitchd restart: $(flows)"
wait_until 20 dp 2 exec c2 timeout 5 wget -q -O /dev/null "http://$UNDERLAY_PREFIX.200:8000/hello?after=restart" ||
  fail "no egress from c2 after the ovs-vswitchd restart"
dp 2 exec c2 ping -c 2 -W 2 "$GW" >/dev/null || fail "c2 cannot ping its gateway after the restart"
dp 2 exec c2 ping -c 2 -W 2 "${ips[1]}" >/dev/null || fail "c2 cannot reach c1 after the restart"
grep -q "gateway flows installed on $br" "$(hdir 2)/adapter.log" || fail "the adapter did not say it reinstalled flows"
pass "ovs-vswitchd restart on host 2: 5 gateway flows back, egress and the overlay work again"

for h in $(seq 1 "$HOSTS"); do check_logs "$h"; done
echo "PASS: gateway"
