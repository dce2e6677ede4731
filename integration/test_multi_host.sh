#!/usr/bin/env bash
# e2e: three hosts (namespaces on an underlay switch), each with its own OVS (userspace
# datapath), dockerd and ovsplane proxy, sharing one state database. Containers on one CIDR on
# different hosts ping and talk TCP over VXLAN (seen on the underlay as UDP 4789 with the
# network's VNI); a full-size don't-fragment ping fits the overlay MTU; no duplicate replies
# (split horizon on the full mesh); a container on another CIDR is unreachable. UNDERLAY_MTU
# (default 1500; ctest also runs 1460, a cloud network's, and 9000) sets the underlay: the
# overlay MTU ovsplane derives is 50 less, and full-size packets and TCP cross at it.
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
HOSTS=${HOSTS:-3}
lab_init multi
underlay_up "$HOSTS"
for h in $(seq 1 "$HOSTS"); do host_up "$h"; done
CIDR=10.81.0.1/24
RUN=(run --pull=never -d)

[ "$(ovsplane 1 host ls | grep -c '^h')" = "$HOSTS" ] || fail "hosts not registered: $(ovsplane 1 host ls)"
for h in $(seq 1 "$HOSTS"); do
  dp "$h" "${RUN[@]}" --name "c$h" -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null ||
    fail "docker run on host $h"
done
ips=()
for h in $(seq 1 "$HOSTS"); do
  ips[h]=$(dp "$h" exec "c$h" ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)
done
[ "$(printf '%s\n' "${ips[@]}" | sort -u | wc -l)" = "$HOSTS" ] || fail "addresses not distinct: ${ips[*]}"
pass "$HOSTS containers on $CIDR, one per host, cluster-wide distinct addresses: ${ips[*]}"
overlay=$((UNDERLAY_MTU - 50))
for h in $(seq 1 "$HOSTS"); do
  mtu=$(dp "$h" exec "c$h" cat /sys/class/net/eth0/mtu)
  [ "$mtu" = "$overlay" ] || fail "c$h has MTU $mtu, expected $overlay (underlay $UNDERLAY_MTU - 50)"
done
grep -q "overlay MTU $overlay (br-phy MTU $UNDERLAY_MTU - 50)" "$(hdir 1)/adapter.log" ||
  fail "the adapter does not say where its MTU comes from: $(grep -m1 'overlay MTU' "$(hdir 1)/adapter.log")"
pass "overlay MTU $overlay on every container, from the underlay (br-phy MTU $UNDERLAY_MTU - 50)"

vni=$(ovsplane 1 network ls | awk '$1 == "10.81.0.0/24" {print $3}')
tunnels=$(vsctl 1 --bare --columns=name find Interface type=vxlan | grep -c .)
[ "$tunnels" = $((HOSTS - 1)) ] || fail "host 1 has $tunnels vxlan ports, expected $((HOSTS - 1))"
[ "$(vsctl 1 --bare --columns=protected find Port name="$(vsctl 1 --bare --columns=name find Interface type=vxlan | head -1)")" = true ] ||
  fail "tunnel ports are not protected"
pass "full mesh: $tunnels protected vxlan ports per host, VNI $vni"

# Cross-host ping, watched on the underlay.
ip netns exec "$(sw_ns)" timeout 8 tcpdump -nn -l -c 4 -i swp1 udp port 4789 >"$RUN_DIR/underlay.txt" 2>/dev/null &
tcpdump_pid=$!
sleep 1
for i in $(seq 1 "$HOSTS"); do
  for j in $(seq 1 "$HOSTS"); do
    [ "$i" = "$j" ] && continue
    dp "$i" exec "c$i" ping -c 2 -W 2 "${ips[j]}" >/dev/null || fail "c$i (host $i) cannot ping c$j (${ips[j]})"
  done
done
wait "$tcpdump_pid" || true
grep -q "VXLAN, flags \[I\] (0x08), vni $vni" "$RUN_DIR/underlay.txt" ||
  fail "no VXLAN with VNI $vni on the underlay: $(cat "$RUN_DIR/underlay.txt")"
pass "ping between every pair of hosts; the underlay carries UDP 4789 with VNI $vni"

out=$(dp 1 exec c1 ping -c 3 -W 2 "${ips[2]}")
grep -q 'DUP' <<<"$out" && fail "duplicate replies: $out"
# Don't-fragment pings from c1's namespace (iputils ping: busybox's has no -M): a packet of
# exactly the overlay MTU crosses, one byte more is refused locally.
c1_pid=$(dk 1 inspect -f '{{.State.Pid}}' ovsplane-net-c1)
nsenter -t "$c1_pid" -n ping -M do -c 2 -W 2 -s $((overlay - 28)) "${ips[2]}" >/dev/null ||
  fail "a $overlay-byte don't-fragment packet does not cross"
nsenter -t "$c1_pid" -n ping -M do -c 1 -W 1 -s $((overlay - 27)) "${ips[2]}" >/dev/null 2>&1 &&
  fail "a packet over the overlay MTU was sent unfragmented"
pass "no duplicate replies; a don't-fragment ping at the overlay MTU ($overlay) crosses"

dp 2 exec "c2" sh -c 'mkdir -p /www && dd if=/dev/urandom of=/www/blob bs=1024 count=1024 2>/dev/null && httpd -p 8080 -h /www'
wait_until 5 dp 1 exec c1 wget -q -O /dev/null "http://${ips[2]}:8080/blob" || fail "HTTP across hosts"
dp 1 exec c1 wget -q -O /tmp/blob "http://${ips[2]}:8080/blob"
[ "$(dp 1 exec c1 sha1sum /tmp/blob | cut -c1-40)" = "$(dp 2 exec c2 sha1sum /www/blob | cut -c1-40)" ] ||
  fail "TCP across hosts corrupted"
pass "1 MiB over TCP across hosts intact (full-size segments at MTU $overlay)"

dp 2 "${RUN[@]}" --name other -e "OVSPLANE_CIDR=10.82.0.1/24" -e "OVSPLANE_IP=10.82.0.99" "$LAB_IMAGE" sleep 3600 >/dev/null
dp 1 exec c1 ping -c 2 -W 1 10.82.0.99 >/dev/null 2>&1 && fail "another CIDR is reachable"
dp 2 exec other ping -c 2 -W 1 "${ips[1]}" >/dev/null 2>&1 && fail "isolation broken the other way"
pass "isolation: containers on different CIDRs cannot reach each other"

if [ "$UNDERLAY_MTU" = 1500 ]; then
  # The underlay's MTU drops under running hosts (a network reconfigured): ovsplane follows.
  for h in $(seq 1 "$HOSTS"); do
    ip -n "$(sw_ns)" link set "swp$h" mtu 1400
    ip -n "$(hns "$h")" link set eth1 mtu 1400
    vsctl "$h" set Interface br-phy mtu_request=1400
  done
  for h in $(seq 1 "$HOSTS"); do
    wait_until 20 sh -c "[ \$(docker -H unix://$(hdir "$h")/docker.sock exec c$h cat /sys/class/net/eth0/mtu) = 1350 ]" ||
      fail "c$h's MTU did not follow the underlay's 1400: $(dp "$h" exec "c$h" cat /sys/class/net/eth0/mtu)"
  done
  grep -q "overlay MTU 1450 -> 1350 (br-phy MTU 1400 - 50)" "$(hdir 1)/adapter.log" ||
    fail "the adapter did not say the MTU changed"
  dp 1 "${RUN[@]}" --name c1b -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null
  [ "$(dp 1 exec c1b cat /sys/class/net/eth0/mtu)" = 1350 ] || fail "a new container did not get MTU 1350"
  nsenter -t "$c1_pid" -n ping -M do -c 2 -W 2 -s $((1350 - 28)) "${ips[2]}" >/dev/null ||
    fail "a 1350-byte don't-fragment packet does not cross the 1400-byte underlay"
  wait_until 5 dp 1 exec c1 wget -q -O /tmp/blob2 "http://${ips[2]}:8080/blob" || fail "TCP across hosts after the MTU change"
  pass "underlay MTU 1500 -> 1400 under running hosts: running and new containers at 1350, full-size packets and TCP cross"
fi

for h in $(seq 1 "$HOSTS"); do check_logs "$h"; done
echo "PASS: multi host"
