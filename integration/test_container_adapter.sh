#!/usr/bin/env bash
# e2e: ovsplane deployed as a container (deploy/Dockerfile, built without pulling anything) with
# --net=host --pid=host next to the host's dockerd, then the seed scenario through its proxy.
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
OVP_IMAGE=ovsplane:e2e
lab_init container
host_up 1
[ "$(dk 1 inspect -f '{{.State.Running}} {{.HostConfig.NetworkMode}}' ovsplane)" = "true host" ] ||
  fail "the ovsplane container is not running with the host network"
pass "ovsplane runs as a --net=host container ($(dk 1 image inspect -f '{{.Size}}' "$OVP_IMAGE") bytes)"
CIDR=10.84.0.1/24
dp 1 run --pull=never -d --name alpha -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null ||
  fail "docker run alpha"
dp 1 run --pull=never -d --name bravo -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null ||
  fail "docker run bravo"
ip_a=$(dp 1 exec alpha ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)
dp 1 exec bravo ping -c 2 -W 2 "$ip_a" >/dev/null || fail "bravo cannot ping alpha ($ip_a)"
pass "the seed scenario through the containerised proxy: bravo pings alpha ($ip_a)"
echo "PASS: container adapter"
