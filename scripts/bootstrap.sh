#!/usr/bin/env bash
# Install, with apt, the Debian 12 packages one purpose of ovsplane needs. Idempotent: when every
# package is present it changes nothing and prints one line. Run as root (or with sudo).
# Usage: scripts/bootstrap.sh [run|test|all] [--print]   (--print lists the packages)
#   run   build the release binary and run the demo (scripts/up.sh, scripts/bench.sh)
#   test  run plus what the test suite needs: GoogleTest, Google Benchmark, clang-16 (fuzzing),
#         docker-compose and vagrant (scripts/test.sh); also the default
#   all   the same as test
set -euo pipefail

purpose=test
print=0
for arg in "$@"; do
  case $arg in
    run | test | all) purpose=$arg ;;
    --print) print=1 ;;
    *) echo "bootstrap: unknown argument $arg (run, test, all, --print)" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config python3 git
  # libraries
  libboost1.81-dev nlohmann-json3-dev libnl-3-dev libnl-route-3-dev libcli11-dev libspdlog-dev
  libyaml-cpp-dev libfmt-dev libssl-dev libnftables-dev
  # libopenvswitch is built from this release tarball (Debian ships no libopenvswitch-dev)
  openvswitch-source
  # runtime: OVS daemons and tools, Docker, the offline test image, namespace plumbing
  openvswitch-switch openvswitch-common docker.io busybox-static ethtool iproute2
  iputils-ping procps util-linux curl jq openssl nftables
)
if [[ $purpose != run ]]; then
  PACKAGES+=(
    # tests, fuzzing (libFuzzer), benchmarks, formatting
    googletest libgtest-dev libgmock-dev libbenchmark-dev clang-16 libclang-rt-16-dev clang-format
    tcpdump socat
    # the compose scenario drives Debian's docker-compose (1.29) for real
    docker-compose
    # the Vagrant lab's definition is validated by the test suite
    vagrant
  )
fi

if ((print)); then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "bootstrap: all ${#PACKAGES[@]} packages for $purpose present"
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
