#!/usr/bin/env bash
# e2e: the hook server on one host, driven the way a Powerstrip proxy drives it (pre-hook,
# Docker API call, post-hook), against a real dockerd, real OVS (userspace datapath) and real
# network namespaces. Two containers on one CIDR (one with the legacy SOCKETPLANE_CIDR) ping
# each other, move 1 MiB over TCP, and leave nothing behind when removed; bad input is refused
# with an ovsplane: message and allocates nothing.
. "$(dirname "$0")/lib.sh"
lab_init single
host_up 1
CIDR=10.77.0.1/24

create_container 1 alpha "OVSPLANE_CIDR=$CIDR" || fail "create alpha: $ERROR"
create_container 1 bravo "SOCKETPLANE_CIDR=$CIDR" || fail "create bravo: $ERROR"
start_container 1 alpha
start_container 1 bravo
pass "two containers created and started through the hooks"

for c in alpha bravo; do
  mode=$(dk 1 inspect -f '{{.HostConfig.NetworkMode}}' "$c")
  net=$(dk 1 inspect -f '{{.Id}}' "ovsplane-net-$c")
  [ "$mode" = "container:$net" ] || fail "$c has NetworkMode $mode, not container:$net"
done
pass "NetworkMode is container:<network-only container>"

ip_a=$(container_ip 1 alpha)
ip_b=$(container_ip 1 bravo)
[ "$ip_a" = 10.77.0.2 ] && [ "$ip_b" = 10.77.0.3 ] || fail "addresses $ip_a $ip_b"
mtu=$(dk 1 exec alpha cat /sys/class/net/eth0/mtu)
[ "$mtu" = 1450 ] || fail "MTU $mtu"
dk 1 exec alpha ip route | grep -q "default via 10.77.0.1" || fail "no default route via the gateway"
pass "addresses $ip_a and $ip_b, MTU $mtu, default route via the gateway"

dk 1 exec alpha ping -c 2 -W 2 "$ip_b" >/dev/null || fail "a cannot ping b"
dk 1 exec bravo ping -c 2 -W 2 "$ip_a" >/dev/null || fail "b cannot ping a"
pass "ping both ways"

dk 1 exec bravo sh -c 'mkdir -p /www && dd if=/dev/urandom of=/www/blob bs=1024 count=1024 2>/dev/null && httpd -p 8080 -h /www'
wait_until 5 dk 1 exec alpha wget -q -O /dev/null "http://$ip_b:8080/blob" || fail "HTTP server not reachable"
dk 1 exec alpha wget -q -O /tmp/blob "http://$ip_b:8080/blob" || fail "TCP transfer failed"
[ "$(dk 1 exec alpha sha1sum /tmp/blob | cut -c1-40)" = "$(dk 1 exec bravo sha1sum /www/blob | cut -c1-40)" ] ||
  fail "TCP transfer corrupted or incomplete: $(dk 1 exec alpha wc -c /tmp/blob)"
pass "1 MiB over TCP intact (TX checksum offload off on the userspace datapath)"

ports=$(vsctl 1 list-ports ovpbr4096 | wc -l)
[ "$ports" = 2 ] || fail "expected 2 access ports on ovpbr4096, found $ports"
[ "$(ovsplane 1 endpoint ls | grep -c 10.77.0.0/24)" = 2 ] || fail "endpoint ls: $(ovsplane 1 endpoint ls)"
ovsplane 1 network ls | grep -q '10.77.0.0/24 *10.77.0.1 *4096 *2' || fail "network ls: $(ovsplane 1 network ls)"
pass "OVS ports and the state database agree"

# Restart: the network-only container comes back with a new namespace and is rewired.
dk 1 restart -t 1 ovsplane-net-alpha >/dev/null
dk 1 restart -t 1 alpha >/dev/null
hook 1 post-hook POST /v1.41/containers/alpha/start null 204 ""
[ "$HOOK_STATUS" = 200 ] || fail "rewire hook answered $HOOK_STATUS"
dk 1 exec alpha ping -c 2 -W 2 "$ip_b" >/dev/null || fail "no connectivity after restart"
[ "$(container_ip 1 alpha)" = "$ip_a" ] || fail "a changed its address on restart"
pass "restart keeps the address and connectivity"

remove_container 1 alpha
[ "$HOOK_STATUS" = 200 ] || fail "delete hook answered $HOOK_STATUS"
dk 1 inspect ovsplane-net-alpha >/dev/null 2>&1 && fail "network-only container of a left behind"
[ "$(vsctl 1 list-ports ovpbr4096 | wc -l)" = 1 ] || fail "OVS port of a left behind"
[ "$(ovsplane 1 endpoint ls | grep -c 10.77.0.0/24)" = 1 ] || fail "address of a not released"
[ -z "$(hx 1 ip -o link show type veth)" ] || [ "$(hx 1 ip -o link show type veth | wc -l)" = 1 ] ||
  fail "veth of a left behind: $(hx 1 ip -o link show type veth)"
pass "docker rm -f releases the address and leaves no port, veth or container"

create_container 1 bad "OVSPLANE_CIDR=10.77.0.1/33" && fail "a /33 was accepted"
[[ $ERROR == "ovsplane: OVSPLANE_CIDR: invalid CIDR"* ]] || fail "bad CIDR message: $ERROR"
create_container 1 full "OVSPLANE_CIDR=10.78.0.1/30" || fail "create full: $ERROR"
create_container 1 over "OVSPLANE_CIDR=10.78.0.1/30" && fail "an exhausted network accepted a container"
[[ $ERROR == *exhausted* ]] || fail "exhausted message: $ERROR"
dk 1 inspect bad over >/dev/null 2>&1 && fail "refused containers exist"
[ "$(ovsplane 1 endpoint ls | grep -c 10.78.0.0/30)" = 1 ] || fail "a refused create kept an address"
pass "bad CIDR and exhausted network refused with ovsplane: messages, nothing allocated"

check_logs 1
echo "PASS: adapter single host"
