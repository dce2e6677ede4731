#!/usr/bin/env bash
# The main job: on a fresh Debian 12 machine (as root) install what is missing, build ovsplane,
# bring up Open vSwitch (userspace datapath when there is no kernel module), a private dockerd
# and `ovsplane proxy` (the Docker API proxy with the adapter built in) on this host, and show
# two containers on one CIDR pinging each other through the docker CLI.
#
# Everything runs in a private network namespace ("ovspdemoh1") and under $LAB_DIR, with its own
# OVS, state database and dockerd; the machine's own Docker and OVS are not touched. Private
# addresses exist only inside the containers' namespaces. The test image is imported from
# Debian's busybox-static (nothing is pulled). Stop everything with: scripts/down.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/release}
export LAB_DIR=${LAB_DIR:-/tmp/ovsplane-demo}
CIDR=${CIDR:-10.0.6.1/24}

[ "$(id -u)" = 0 ] || { echo "up: run as root (sudo $0)" >&2; exit 1; }
scripts/bootstrap.sh run
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOVSPLANE_BUILD_TESTS=OFF \
  -DOVSPLANE_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD_DIR" --target ovsplane
export OVSPLANE_BIN=$PWD/$BUILD_DIR/adapter/ovsplane

if [ -f "$LAB_DIR/lab.env" ]; then
  echo "up: a demo is already running in $LAB_DIR: stopping it first"
  scripts/down.sh
fi

export LAB_KEEP=1 LAB_ID=demo OVP_MODE=proxy
# shellcheck source=../integration/lib.sh
. integration/lib.sh
lab_init demo
host_up 1
PROXY=unix://$(hdir 1)/proxy.sock

echo
echo "== two containers on $CIDR, created through the ovsplane proxy"
docker -H "$PROXY" run --pull=never -d --name demo-a -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 1d
docker -H "$PROXY" run --pull=never -d --name demo-b -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 1d
ip_a=$(docker -H "$PROXY" exec demo-a ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)
ip_b=$(docker -H "$PROXY" exec demo-b ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)
echo "demo-a has $ip_a, demo-b has $ip_b"
echo
echo "== docker exec demo-b ping -c 3 $ip_a"
docker -H "$PROXY" exec demo-b ping -c 3 "$ip_a"
echo
"$OVSPLANE_BIN" network ls --state-db "unix:$(hdir 1)/state.sock"
echo
cat <<EOT
ovsplane is running (OVS, state database, dockerd and the proxy in $LAB_DIR). Try:

  export DOCKER_HOST=$PROXY
  docker run --pull=never -d --name web -e OVSPLANE_CIDR=$CIDR $LAB_IMAGE sleep 1d
  docker exec web ping -c 2 $ip_a
  $OVSPLANE_BIN endpoint ls --state-db unix:$(hdir 1)/state.sock

Stop everything: scripts/down.sh
EOT
