#!/usr/bin/env bash
# Builds the ovsplane container image from deploy/Dockerfile with the docker CLI's current
# daemon (DOCKER_HOST), without pulling anything: the context is a root file system made here.
# Usage: scripts/image.sh [TAG]   (default ovsplane:<version>; env BUILD_DIR, or OVSPLANE_BIN to
# package an already built binary, e.g. the tests' sanitizer build)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${OVSPLANE_BIN:-}" ] && [ -x "$OVSPLANE_BIN" ]; then
  BIN=$OVSPLANE_BIN
else
  BUILD_DIR=${BUILD_DIR:-build/release}
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" --target ovsplane >/dev/null
  BIN=$BUILD_DIR/adapter/ovsplane
fi
TAG=${1:-ovsplane:$("$BIN" --version | awk '{print $2}')}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp deploy/Dockerfile "$ctx/"
mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/tmp" "$ctx/rootfs/run" "$ctx/rootfs/var"
ln -s ../run "$ctx/rootfs/var/run"  # as on Debian: /var/run/X and /run/X are one path
cp "$BIN" "$ctx/rootfs/usr/bin/ovsplane"
strip --strip-debug "$ctx/rootfs/usr/bin/ovsplane"
# The shared libraries and the dynamic loader, at the paths the binary asks for.
for lib in $(ldd "$BIN" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
  mkdir -p "$ctx/rootfs$(dirname "$lib")"
  cp -L "$lib" "$ctx/rootfs$lib"
done
if ! DOCKER_BUILDKIT=0 docker build -q -t "$TAG" "$ctx" >"$ctx/build.log" 2>&1; then
  cat "$ctx/build.log" >&2
  exit 1
fi
echo "$TAG"
