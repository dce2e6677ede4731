#!/usr/bin/env bash
# e2e: docker-compose (Debian's 1.29), as a new user drives it. Plugin path: a project whose
# default network names `driver: ovsplane` and the ovsplane IPAM driver with a subnet comes up,
# its services reach each other by name, the same project on a second host lands on the same
# network (reachable by address across hosts), and `down` leaves no port, veth or address.
# Powerstrip path: a project with OVSPLANE_CIDR in its services' environment is refused through
# the proxy with a message pointing at the plugin path; with `network_mode: bridge` it works.
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
HOSTS=2
lab_init compose
command -v docker-compose >/dev/null || skip "docker-compose is not installed (scripts/bootstrap.sh)"
underlay_up "$HOSTS"
for h in $(seq 1 "$HOSTS"); do host_up "$h"; done
SUBNET=10.88.0.0/24

# compose H DIR ARGS...: docker-compose against host H's dockerd (or its proxy: COMPOSE_VIA=proxy).
compose() {
  local h=$1 dir=$2 sock=docker.sock
  shift 2
  [ "${COMPOSE_VIA:-}" = proxy ] && sock=proxy.sock
  (cd "$dir" && DOCKER_HOST="unix://$(hdir "$h")/$sock" COMPOSE_INTERACTIVE_NO_CLI=1 timeout 120 docker-compose "$@")
}
docker_leases() { ovsplane 1 network inspect "$1" | awk '$2 ~ /^docker:/ {print $1, $2}'; }
plugin_ports() { vsctl "$1" --bare --columns=name find Port "external_ids:ovsplane-docker-endpoint!=\"\"" 2>/dev/null | grep -c . || true; }

app="$RUN_DIR/app"
mkdir -p "$app"
cat >"$app/docker-compose.yml" <<YAML
version: "2.4"
services:
  web:
    image: $LAB_IMAGE
    command: sh -c 'mkdir -p /www && echo hello-compose >/www/index.html && httpd -f -p 8080 -h /www'
  client:
    image: $LAB_IMAGE
    command: sleep 3600
networks:
  default:
    driver: ovsplane
    ipam:
      driver: ovsplane
      config:
        - subnet: $SUBNET
YAML
compose 1 "$app" -p ovpc up -d >"$RUN_DIR/up1.log" 2>&1 || fail "docker-compose up on host 1: $(cat "$RUN_DIR/up1.log")"
web_answers() { [ "$(compose 1 "$app" -p ovpc exec -T client timeout 5 wget -q -O - http://web:8080/)" = hello-compose ]; }
wait_until 15 web_answers || fail "client does not reach web by name: $(compose 1 "$app" -p ovpc exec -T client timeout 5 wget -O - http://web:8080/ 2>&1)"
compose 1 "$app" -p ovpc exec -T web ping -c 1 -W 2 client >/dev/null || fail "web cannot ping client by name"
pass "compose up (driver: ovsplane, ipam driver: ovsplane, subnet $SUBNET): client fetches http://web:8080/ by name"

# The same project on host 2: the same ovsplane network, addresses distinct from host 1's.
compose 2 "$app" -p ovpc up -d >"$RUN_DIR/up2.log" 2>&1 || fail "docker-compose up on host 2: $(cat "$RUN_DIR/up2.log")"
web1=$(dk 1 inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' ovpc_web_1)
web2=$(dk 2 inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' ovpc_web_1)
[ -n "$web1" ] && [ -n "$web2" ] && [ "$web1" != "$web2" ] || fail "web on the two hosts: '$web1' '$web2'"
fetch_across() { [ "$(dk 2 exec ovpc_client_1 timeout 5 wget -q -O - "http://$web1:8080/")" = hello-compose ]; }
wait_until 15 fetch_across || fail "host 2's client does not reach host 1's web at $web1"
[ "$(docker_leases "$SUBNET" | grep -c .)" = 4 ] || fail "expected 4 Docker addresses in $SUBNET: $(docker_leases "$SUBNET")"
pass "the project on host 2 joins the same network: its client fetches from host 1's web ($web1); 4 distinct addresses"

# down on both: nothing left.
for h in 1 2; do
  compose "$h" "$app" -p ovpc down >"$RUN_DIR/down$h.log" 2>&1 || fail "docker-compose down on host $h: $(cat "$RUN_DIR/down$h.log")"
  [ "$(plugin_ports "$h")" = 0 ] || fail "host $h keeps $(plugin_ports "$h") plugin ports after down"
  dk "$h" network ls --filter driver=ovsplane -q | grep -q . && fail "host $h keeps an ovsplane network after down"
done
[ -z "$(docker_leases "$SUBNET")" ] || fail "addresses left after down: $(docker_leases "$SUBNET")"
pass "compose down on both hosts: no container, network, plugin port or address left"

# The Powerstrip path: OVSPLANE_CIDR plus compose's project network is refused with a pointer
# to the plugin path; network_mode: bridge is the Powerstrip way.
ps="$RUN_DIR/ps"
mkdir -p "$ps"
cat >"$ps/docker-compose.yml" <<YAML
version: "2.4"
services:
  one:
    image: $LAB_IMAGE
    command: sleep 3600
    environment: [OVSPLANE_CIDR=10.88.1.1/24]
YAML
if COMPOSE_VIA=proxy compose 1 "$ps" -p ovpp up -d >"$RUN_DIR/ps.log" 2>&1; then
  fail "compose with OVSPLANE_CIDR on its project network was accepted"
fi
grep -q "ovsplane: --network=ovpp_default (docker-compose's project network) cannot be combined with OVSPLANE_CIDR" "$RUN_DIR/ps.log" ||
  fail "compose did not print ovsplane's reason: $(cat "$RUN_DIR/ps.log")"
COMPOSE_VIA=proxy compose 1 "$ps" -p ovpp down >/dev/null 2>&1 || true
cat >"$ps/docker-compose.yml" <<YAML
version: "2.4"
services:
  one:
    image: $LAB_IMAGE
    command: sleep 3600
    network_mode: bridge
    environment: [OVSPLANE_CIDR=10.88.1.1/24]
  two:
    image: $LAB_IMAGE
    command: sleep 3600
    network_mode: bridge
    environment: [OVSPLANE_CIDR=10.88.1.1/24]
YAML
COMPOSE_VIA=proxy compose 1 "$ps" -p ovpp up -d >"$RUN_DIR/ps2.log" 2>&1 || fail "compose with network_mode: bridge: $(cat "$RUN_DIR/ps2.log")"
two=$(container_ip 1 ovpp_two_1)
dk 1 exec ovpp_one_1 ping -c 1 -W 2 "$two" >/dev/null || fail "one cannot ping two ($two) on 10.88.1.0/24"
COMPOSE_VIA=proxy compose 1 "$ps" -p ovpp down >"$RUN_DIR/ps3.log" 2>&1 || fail "compose down (Powerstrip path): $(cat "$RUN_DIR/ps3.log")"
pass "Powerstrip path: OVSPLANE_CIDR with the project network refused (the plugin path named); network_mode: bridge works ($two)"
for h in 1 2; do check_logs "$h"; done
