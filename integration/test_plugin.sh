#!/usr/bin/env bash
# e2e: Docker's network-plugin protocol. Every host's dockerd finds its own ovsplane as plugin
# `ovsplane` (a private mount namespace per lab host binds the host's plugin directory over
# /run/docker/plugins). On each host `docker network create -d ovsplane --ipam-driver ovsplane
# --subnet ...` makes the same network; containers on it ping by name (Docker's embedded DNS)
# and across hosts (ping, TCP); --ip, --mac-address, connect/disconnect, -o ...mtu, --internal,
# pool exhaustion (the CLI prints ovsplane's error), concurrent `docker run` on every host
# (no address twice), a CIDR shared with the Powerstrip path (OVSPLANE_CIDR through the proxy),
# container restart and dockerd restart (endpoints rebuilt, nothing leaked), rm and network rm
# (ports, veths and addresses gone).
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
HOSTS=${HOSTS:-3}
# Leftovers of a crash are collected after the grace: short here.
OVP_FLAGS="--gc-grace 3 --reconcile-interval 2"
lab_init plugin
underlay_up "$HOSTS"
for h in $(seq 1 "$HOSTS"); do host_up "$h"; done
SUBNET=10.86.0.0/24
RUN=(run --pull=never -d)
NET=(-d ovsplane --ipam-driver ovsplane)

ip_of() { dk "$1" inspect -f "{{(index .NetworkSettings.Networks \"${3:-blue}\").IPAddress}}" "$2"; }
# Addresses the state database holds for Docker's requests (owner docker:<host>:...), one a line.
docker_leases() {
  ovsplane 1 network inspect "$1" | awk '$2 ~ /^docker:/ {print $1, $2}'
}
plugin_ports() { vsctl "$1" --bare --columns=name find Port "external_ids:ovsplane-docker-endpoint!=\"\"" 2>/dev/null | grep -c . || true; }
plugin_veths() { ip -n "$(hns "$1")" -o link show | grep -cE ': ovd[0-9a-f]{12}[@:]' || true; }

for h in $(seq 1 "$HOSTS"); do
  dk "$h" network create "${NET[@]}" --subnet "$SUBNET" blue >/dev/null ||
    fail "docker network create on host $h: $(tail -n 5 "$(hdir "$h")/adapter.log")"
done
dk 1 network ls --filter driver=ovsplane | grep -q blue || fail "host 1 lists no ovsplane network blue"
pass "network blue ($SUBNET) created with -d ovsplane --ipam-driver ovsplane on $HOSTS hosts"

# One host: two containers, ping by name.
dk 1 "${RUN[@]}" --network blue --name ca "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run a"
dk 1 "${RUN[@]}" --network blue --name cb "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run b"
ipa=$(ip_of 1 ca)
ipb=$(ip_of 1 cb)
[ -n "$ipa" ] && [ -n "$ipb" ] && [ "$ipa" != "$ipb" ] || fail "addresses of a and b: '$ipa' '$ipb'"
dk 1 exec cb ping -c 2 -W 2 ca >/dev/null || fail "b cannot ping a by name"
inside=$(dk 1 exec ca ip -o -4 addr show eth0 | awk '{print $4}')
[ "$inside" = "$ipa/24" ] || fail "a's eth0 holds '$inside', Docker says $ipa/24"
dk 1 exec ca ip route | grep -q "default via 10.86.0.1" || fail "a has no default route via the gateway: $(dk 1 exec ca ip route)"
dk 1 exec ca ping -c 1 -W 2 10.86.0.1 >/dev/null || fail "a cannot ping its gateway"
pass "a ($ipa) and b ($ipb) on host 1: b pings a by name; the gateway answers"

# --ip, --mac-address; a static address taken elsewhere is refused with ovsplane's reason.
# (Debian's docker CLI, of dockerd's own version: newer CLIs refuse --mac-address below API 1.44.)
cli=docker
[ -x /usr/bin/docker ] && cli=/usr/bin/docker
"$cli" -H "unix://$(hdir 1)/docker.sock" "${RUN[@]}" --network blue --name cs --ip 10.86.0.50 \
  --mac-address 02:42:0a:56:00:32 "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run --ip --mac-address"
[ "$(ip_of 1 cs)" = 10.86.0.50 ] || fail "cs got $(ip_of 1 cs), not its --ip 10.86.0.50"
dk 1 exec cs ip -o link show eth0 | grep -q 'link/ether 02:42:0a:56:00:32 ' ||
  fail "cs's MAC is not its --mac-address: $(dk 1 exec cs ip -o link show eth0)"
vsctl 1 --bare --columns=external_ids find Port "external_ids:ovsplane-ip=10.86.0.50" | grep -q '02:42:0a:56:00:32' ||
  fail "the OVS port of cs does not carry its MAC"
h2=$((HOSTS > 1 ? 2 : 1))
if err=$(dk "$h2" "${RUN[@]}" --network blue --name cs2 --ip 10.86.0.50 "$LAB_IMAGE" sleep 3600 2>&1); then
  fail "a second --ip 10.86.0.50 (host $h2) was accepted"
fi
echo "$err" | grep -q 'ovsplane: .*10.86.0.50.*already taken' || fail "the CLI did not print ovsplane's reason: $err"
dk "$h2" rm -f cs2 >/dev/null 2>&1 || true
pass "--ip and --mac-address honoured; the same --ip on host $h2 refused: $(echo "$err" | grep -o 'ovsplane: .*' | head -n 1)"

# Without ovsplane's IPAM, or with an MTU above the overlay's: refused, saying why.
err=$(dk 1 network create -d ovsplane --subnet 10.86.3.0/24 noipam 2>&1) && fail "a network without --ipam-driver ovsplane was created"
echo "$err" | grep -q 'ovsplane: give the network --ipam-driver ovsplane' || fail "no reason for the missing IPAM driver: $err"
err=$(dk 1 network create "${NET[@]}" -o com.docker.network.driver.mtu=9000 --subnet 10.86.3.0/24 jumbo 2>&1) &&
  fail "an MTU above the overlay's was accepted"
echo "$err" | grep -q 'ovsplane: MTU 9000 is above the overlay' || fail "no reason for the MTU: $err"
pass "refused with ovsplane's reasons: no ovsplane IPAM; MTU 9000 above the overlay's"

# -o com.docker.network.driver.mtu below the overlay's.
dk 1 network create "${NET[@]}" -o com.docker.network.driver.mtu=1300 --subnet 10.86.1.0/24 small >/dev/null ||
  fail "network create -o com.docker.network.driver.mtu=1300"
dk 1 "${RUN[@]}" --network small --name cm "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run on small"
[ "$(dk 1 exec cm cat /sys/class/net/eth0/mtu)" = 1300 ] || fail "cm's MTU is $(dk 1 exec cm cat /sys/class/net/eth0/mtu), not 1300"
pass "-o com.docker.network.driver.mtu=1300: the container's eth0 has MTU 1300"

# --internal: a sealed network (no default route, the host does not reach it); its containers
# reach each other.
dk 1 network create "${NET[@]}" --internal --subnet 10.86.2.0/24 sealed >/dev/null || fail "network create --internal"
dk 1 "${RUN[@]}" --network sealed --name ci1 "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run ci1"
dk 1 "${RUN[@]}" --network sealed --name ci2 "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run ci2"
dk 1 exec ci1 ip route | grep -q default && fail "a container on an --internal network has a default route: $(dk 1 exec ci1 ip route)"
dk 1 exec ci1 ping -c 1 -W 2 ci2 >/dev/null || fail "ci1 cannot ping ci2 on the internal network"
hx 1 ping -c 1 -W 1 "$(ip_of 1 ci2 sealed)" >/dev/null 2>&1 && fail "host 1 reaches a container of an --internal network"
err=$(dk 1 network create "${NET[@]}" --internal --subnet 10.86.0.0/24 blue2 2>&1) && fail "--internal over NAT network blue was accepted"
echo "$err" | grep -q 'ovsplane: network 10.86.0.0/24 exists with a gateway and NAT' || fail "no reason for the --internal mismatch: $err"
pass "--internal: sealed (no default route, host cannot reach it), containers reach each other; blue cannot be made internal"

# The Powerstrip path on the same CIDR: one network, distinct addresses, they reach each other.
dp 1 "${RUN[@]}" --name cp -e OVSPLANE_CIDR=10.86.0.1/24 "$LAB_IMAGE" sleep 3600 >/dev/null ||
  fail "docker run with OVSPLANE_CIDR on blue's CIDR"
ipp=$(container_ip 1 cp)
case " $ipa $ipb 10.86.0.50 " in *" $ipp "*) fail "the Powerstrip path got $ipp, an address of the plugin path" ;; esac
dk 1 exec cp ping -c 1 -W 2 "$ipa" >/dev/null || fail "the OVSPLANE_CIDR container cannot ping ca"
dk 1 exec ca ping -c 1 -W 2 "$ipp" >/dev/null || fail "ca cannot ping the OVSPLANE_CIDR container"
pass "OVSPLANE_CIDR=10.86.0.1/24 (Powerstrip path) and -d ovsplane share network $SUBNET: $ipp <-> $ipa"

# connect / disconnect.
dk 1 "${RUN[@]}" --network small --name cn "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run cn on small"
before=$(docker_leases "$SUBNET" | grep -c . || true)
dk 1 network connect blue cn || fail "docker network connect blue cn"
ipn=$(ip_of 1 cn)
dk 1 exec cn ping -c 1 -W 2 ca >/dev/null || fail "cn cannot ping ca after network connect"
[ "$(docker_leases "$SUBNET" | grep -c .)" = $((before + 1)) ] || fail "connect did not take one address"
dk 1 network disconnect blue cn || fail "docker network disconnect blue cn"
dk 1 exec cn ip -o -4 addr show | grep -q "inet $ipn/" && fail "cn still holds $ipn after disconnect"
[ "$(dk 1 exec cn ip -o link show | grep -c ': eth')" = 1 ] || fail "cn has $(dk 1 exec cn ip -o link show | grep -c ': eth') eth interfaces after disconnect, expected 1 (small's)"
[ "$(docker_leases "$SUBNET" | grep -c . || true)" = "$before" ] || fail "disconnect did not release $ipn"
pass "network connect gives cn (on small) a second interface with $ipn (pings ca); disconnect takes it and the address back"

# Container restart: the endpoint is rebuilt, nothing leaks.
leases=$(docker_leases "$SUBNET" | grep -c .)
ports=$(plugin_ports 1)
dk 1 restart -t 1 ca >/dev/null || fail "docker restart ca"
ipa=$(ip_of 1 ca)
dk 1 exec cb ping -c 1 -W 2 ca >/dev/null || fail "cb cannot ping ca after its restart"
[ "$(docker_leases "$SUBNET" | grep -c .)" = "$leases" ] || fail "leases $leases -> $(docker_leases "$SUBNET" | grep -c .) over a restart"
[ "$(plugin_ports 1)" = "$ports" ] || fail "plugin ports $ports -> $(plugin_ports 1) over a restart"
pass "docker restart ca: rebuilt ($ipa), $leases leases and $ports ports as before"

# Pool exhaustion: the CLI prints ovsplane's reason.
dk 1 network create "${NET[@]}" --subnet 10.86.9.0/29 tiny >/dev/null || fail "network create tiny (/29)"
for i in 1 2 3 4 5; do
  dk 1 "${RUN[@]}" --network tiny --name "ct$i" "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run ct$i on tiny"
done
err=$(dk 1 "${RUN[@]}" --network tiny --name ct6 "$LAB_IMAGE" sleep 3600 2>&1) && fail "a sixth container on a /29 got an address"
echo "$err" | grep -q 'ovsplane: network 10.86.9.1/29 is exhausted' || fail "the CLI did not print the exhaustion: $err"
dk 1 rm -f ct6 >/dev/null 2>&1 || true
pass "tiny (/29): 5 containers, the sixth refused: $(echo "$err" | grep -o 'ovsplane: .*exhausted[^;]*' | head -n 1)"

if [ "$HOSTS" -gt 1 ]; then
  # Across hosts: ping and TCP over VXLAN.
  for h in $(seq 2 "$HOSTS"); do
    dk "$h" "${RUN[@]}" --network blue --name "cx$h" "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run cx$h"
    dk "$h" exec "cx$h" ping -c 2 -W 2 "$ipa" >/dev/null || fail "cx$h (host $h) cannot ping ca ($ipa) on host 1"
  done
  dk 1 exec ca sh -c 'mkdir -p /www && dd if=/dev/urandom of=/www/blob bs=1024 count=512 2>/dev/null && httpd -p 8080 -h /www'
  sum=$(dk 1 exec ca sha1sum /www/blob | cut -d' ' -f1)
  wait_until 5 dk 2 exec cx2 timeout 5 wget -q -O /tmp/blob "http://$ipa:8080/blob" || fail "TCP from host 2 to ca"
  [ "$(dk 2 exec cx2 sha1sum /tmp/blob | cut -d' ' -f1)" = "$sum" ] || fail "the 512 KiB crossed corrupted"
  pass "containers of hosts 2..$HOSTS ping ca on host 1; 512 KiB over HTTP from host 2 intact"

  # Concurrent docker run on every host at once: no address twice.
  pids=()
  for h in $(seq 1 "$HOSTS"); do
    for i in $(seq 1 8); do
      dk "$h" "${RUN[@]}" --network blue --name "cc$h-$i" "$LAB_IMAGE" sleep 3600 >/dev/null 2>"$RUN_DIR/cc$h-$i.err" &
      pids+=($!)
    done
  done
  for p in "${pids[@]}"; do wait "$p" || fail "a concurrent docker run failed: $(cat "$RUN_DIR"/cc*.err)"; done
  all=()
  for h in $(seq 1 "$HOSTS"); do
    for i in $(seq 1 8); do all+=("$(ip_of "$h" "cc$h-$i")"); done
  done
  [ "$(printf '%s\n' "${all[@]}" | sort -u | grep -c .)" = $((HOSTS * 8)) ] ||
    fail "concurrent runs got duplicate addresses: $(printf '%s\n' "${all[@]}" | sort | uniq -d | tr '\n' ' ')"
  dk "$HOSTS" exec "cc$HOSTS-8" ping -c 1 -W 2 "$(ip_of 1 cc1-1)" >/dev/null || fail "cc$HOSTS-8 cannot ping cc1-1"
  pass "$((HOSTS * 8)) concurrent docker run on $HOSTS hosts: distinct addresses; they reach each other"
fi

# dockerd restart on host 1: Docker cleans its endpoints up (the plugin releases them), the
# containers with a restart policy come back with rebuilt endpoints, nothing is left over.
dk 1 "${RUN[@]}" --network blue --restart always --name cr "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run --restart always"
daemons_save 1
daemon_stop 1 dockerd
daemon_start 1 dockerd
wait_until 60 dockerd_ready 1 || fail "dockerd of host 1 did not come back"
cr_running() { [ "$(dk 1 inspect -f '{{.State.Running}}' cr)" = true ]; }
wait_until 30 cr_running ||
  fail "cr (restart always) did not come back: $(tail -n 20 "$(hdir 1)/dockerd.log")"
ipr=$(ip_of 1 cr)
[ -n "$ipr" ] || fail "cr has no address on blue after the dockerd restart"
dk 1 exec cr ping -c 1 -W 2 10.86.0.1 >/dev/null || fail "cr cannot ping its gateway after the dockerd restart"
if [ "$HOSTS" -gt 1 ]; then
  dk 2 exec cx2 ping -c 2 -W 2 "$ipr" >/dev/null || fail "host 2 cannot reach cr ($ipr) after host 1's dockerd restart"
fi
running=$(dk 1 ps -q --filter network=blue | grep -c .)
h1_leases_are() { [ "$(docker_leases "$SUBNET" | grep -c 'docker:h1:')" = "$1" ]; }
wait_until 20 h1_leases_are "$running" ||
  fail "after the dockerd restart host 1 holds $(docker_leases "$SUBNET" | grep -c 'docker:h1:') Docker addresses on blue for $running running containers"
pass "dockerd restart: cr ($ipr) back and reachable; host 1 holds exactly $running Docker addresses on blue for its $running running containers"

# ovsplane killed (-9) on host 1: a container removed meanwhile leaves its port, veth and address
# (Docker's calls fail); the restarted ovsplane collects them, and serves Docker again.
dk 1 "${RUN[@]}" --network blue --name ck "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run ck"
ipk=$(ip_of 1 ck)
daemon_stop 1 adapter KILL
timeout 120 docker -H "unix://$(hdir 1)/docker.sock" rm -f ck >/dev/null 2>&1 || true
daemon_start 1 adapter
wait_until 20 adapter_ready 1 || fail "ovsplane of host 1 did not come back"
ck_collected() {
  [ "$(plugin_ports 1)" = "$(dk 1 ps -q | grep -c .)" ] || return 1
  ! docker_leases "$SUBNET" | grep -q "^$ipk "
}
wait_until 30 ck_collected || fail "ck's leftovers were not collected: ports $(plugin_ports 1), leases $(docker_leases "$SUBNET" | tr '\n' ' ')"
dk 1 "${RUN[@]}" --network blue --name ck2 "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run after ovsplane's restart"
dk 1 exec ck2 ping -c 1 -W 2 cr >/dev/null || fail "ck2 cannot ping cr after ovsplane's restart"
pass "ovsplane killed, ck removed meanwhile: its port, veth and address ($ipk) collected after the restart; new runs work"

# rm and network rm: ports, veths and addresses go (the Powerstrip app before its network-only
# container: removing both at once reads as "removed by hand").
dk 1 rm -f cp >/dev/null
for h in $(seq 1 "$HOSTS"); do
  ids=$(dk "$h" ps -aq)
  [ -z "$ids" ] || dk "$h" rm -f $ids >/dev/null
  [ "$(plugin_ports "$h")" = 0 ] || fail "host $h keeps $(plugin_ports "$h") plugin ports after rm"
  [ "$(plugin_veths "$h")" = 0 ] || fail "host $h keeps $(plugin_veths "$h") ovd veths after rm"
  for n in $(dk "$h" network ls -q --filter driver=ovsplane); do dk "$h" network rm "$n" >/dev/null || fail "network rm on host $h"; done
done
for s in "$SUBNET" 10.86.1.0/24 10.86.2.0/24 10.86.9.0/29; do
  left=$(docker_leases "$s")
  [ -z "$left" ] || fail "addresses left in $s after rm: $left"
done
pass "rm -f and network rm on every host: no plugin port, no veth, no Docker address left"
for h in $(seq 1 "$HOSTS"); do check_logs "$h"; done
