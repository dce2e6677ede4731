#!/usr/bin/env bash
# Provisions one VM of the Vagrant lab (run by Vagrant as root). Host 1 also serves the state
# database on the private network; every host runs OVS, dockerd and `ovsplane proxy`, starts a
# container with a fixed address on $CIDR, and the last host pings the others' containers.
set -euo pipefail
n=$HOST_INDEX
vtep=$PREFIX.$((10 + n))
cd /ovsplane
scripts/bootstrap.sh run
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOVSPLANE_BUILD_TESTS=OFF \
  -DOVSPLANE_BUILD_BENCH=OFF >/dev/null
cmake --build build/release --target ovsplane
install -m 0755 build/release/adapter/ovsplane /usr/local/bin/ovsplane

# Open vSwitch and Docker (Debian's packages start them on a VM with systemd).
modprobe openvswitch 2>/dev/null || true
systemctl enable --now openvswitch-switch docker
ovs-vsctl --timeout=10 show >/dev/null

mkdir -p /var/run/ovsplane /var/lib/ovsplane
state=tcp:$PREFIX.11:6641
if [ "$n" = 1 ]; then
  [ -f /var/lib/ovsplane/state.db ] ||
    ovsdb-tool create /var/lib/ovsplane/state.db /ovsplane/ovsdb/ovsplane.ovsschema
  ovsdb-server /var/lib/ovsplane/state.db --remote="ptcp:6641:$PREFIX.11" \
    --remote=punix:/var/run/ovsplane/state.sock --pidfile=/var/run/ovsplane/state.pid \
    --log-file=/var/log/ovsplane-state.log --detach --no-chdir || true
fi

cat >/etc/systemd/system/ovsplane.service <<EOT
[Unit]
Description=ovsplane Docker API proxy and network adapter
After=docker.service openvswitch-switch.service
[Service]
ExecStart=/usr/local/bin/ovsplane proxy --proxy-listen unix:/run/ovsplane/proxy.sock \
  --state-db $state --vtep-ip $vtep --host ovsplane$n
Restart=on-failure
[Install]
WantedBy=multi-user.target
EOT
systemctl daemon-reload
systemctl enable --now ovsplane
for _ in $(seq 50); do [ -S /run/ovsplane/proxy.sock ] && break; sleep 0.2; done

# A test image from Debian's busybox-static (nothing is pulled) and this host's container.
docker image inspect ovp-busybox >/dev/null 2>&1 || {
  root=$(mktemp -d)
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/"
  for a in sh ping sleep ip; do ln -s busybox "$root/bin/$a"; done
  tar -C "$root" -c . | docker import - ovp-busybox:latest >/dev/null
}
proxy=unix:///run/ovsplane/proxy.sock
docker -H $proxy rm -f "lab$n" >/dev/null 2>&1 || true
docker -H $proxy run --pull=never -d --name "lab$n" -e "OVSPLANE_CIDR=$CIDR" \
  -e "OVSPLANE_IP=${CIDR%.*}.$((10 + n))" ovp-busybox sleep 1d

if [ "$n" = "$HOSTS" ]; then
  sleep 3  # tunnels follow membership within a second or two
  for m in $(seq 1 $((HOSTS - 1))); do
    docker -H $proxy exec "lab$n" ping -c 3 -W 2 "${CIDR%.*}.$((10 + m))"
  done
  echo "cross-host ping OK"
fi
