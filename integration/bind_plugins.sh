#!/bin/sh
# bind_plugins.sh DIR CMD...: inside a private mount namespace (unshare --mount), binds DIR over
# /run/docker/plugins and execs CMD (dockerd): that dockerd discovers the plugins in DIR.
set -e
dir=$1
shift
mount --bind "$dir" /run/docker/plugins
exec "$@"
