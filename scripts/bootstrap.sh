#!/usr/bin/env bash
# Install, with apt, exactly the Debian 12 packages that building, running and testing ovsplane
# need. Idempotent: when every package is present it changes nothing and prints one line.
# Run as root (or with sudo). Usage: scripts/bootstrap.sh [--print]  (--print lists the packages)
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config python3 git clang-format
  # libraries
  libboost1.81-dev nlohmann-json3-dev libnl-3-dev libnl-route-3-dev libcli11-dev libspdlog-dev
  libyaml-cpp-dev libfmt-dev libssl-dev libnftables-dev
  # libopenvswitch is built from this release tarball (Debian ships no libopenvswitch-dev)
  openvswitch-source
  # tests, fuzzing (libFuzzer) and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev clang-16 libclang-rt-16-dev
  # runtime: OVS daemons and tools, Docker, the offline test image, namespace plumbing
  openvswitch-switch openvswitch-common docker.io busybox-static ethtool iproute2 tcpdump
  iputils-ping procps util-linux curl jq openssl nftables
  # the compose scenario drives Debian's docker-compose (1.29) for real
  docker-compose
  # the Vagrant lab's definition is validated by the test suite
  vagrant
)

if [[ "${1:-}" == "--print" ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "bootstrap: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "bootstrap: missing packages: ${missing[*]}" >&2
  echo "bootstrap: run as root (sudo $0) to install them" >&2
  exit 1
fi

echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d-less containers/VMs may try to start services on install; starting is the scripts' job.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done"
