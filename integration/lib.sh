# shellcheck shell=bash
# The ovsplane integration lab library, in the spirit of Open vSwitch's own test macros: a
# per-test run directory, a last-in-first-out cleanup stack that runs on failure too,
# wait_until polling, daemon log checks and skip (exit 77) when a prerequisite is missing.
#
# A "host" is a network namespace with its own ovsdb-server + ovs-vswitchd (userspace datapath),
# its own state database, its own dockerd (private data root, exec root and socket,
# --bridge=none --iptables=false) and its own ovsplane adapter. Every private address lives only
# inside namespaces made here. Nothing is pulled from a registry: the test image is imported
# from Debian's busybox-static.
#
# Use: . integration/lib.sh; lab_init NAME; host_up 1; ...; (cleanup runs at exit)
set -euo pipefail

OVP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OVSPLANE_BIN=${OVSPLANE_BIN:-$OVP_ROOT/build/test/adapter/ovsplane}
VSWITCH_SCHEMA=${VSWITCH_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
STATE_SCHEMA=${STATE_SCHEMA:-$OVP_ROOT/ovsdb/ovsplane.ovsschema}
LAB_IMAGE=ovp-busybox:latest

CLEANUP=()
# on_exit CMD: run CMD at exit (last registered first). Also recorded in $RUN_DIR/cleanup.list
# so that a lab kept running (LAB_KEEP=1, the demo) can be taken down later (lab_teardown).
on_exit() {
  CLEANUP+=("$*")
  [ -n "${RUN_DIR:-}" ] && printf '%s\n' "$*" >>"$RUN_DIR/cleanup.list"
  return 0
}
run_cleanup() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUP[i]}" >/dev/null 2>&1 || true
  done
  CLEANUP=()
}

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }
skip() { echo "SKIP: $*"; exit 77; }
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$RUN_DIR"/h*/adapter.log; do
    [ -f "$f" ] && { echo "--- $f (last 40 lines)" >&2; grep -v '\[debug\]' "$f" | tail -n 40 >&2; }
  done
  exit 1
}
pass() { echo "ok - $*"; }

# wait_until SECONDS COMMAND...: polls every 0.1 s.
wait_until() {
  local timeout=$1 deadline
  shift
  deadline=$(($(date +%s%N) + timeout * 1000000000))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# stop_pid PID: SIGTERM, wait (a zombie counts as gone: PID 1 here reaps only every ~2 s), then
# SIGKILL. Only for processes this lab started.
pid_gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_until 20 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
}

lab_init() {
  [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, dockerd, OVS)"
  local c
  for c in ip nsenter ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl dockerd docker curl jq busybox; do
    command -v "$c" >/dev/null || skip "missing command: $c"
  done
  [ -x "$OVSPLANE_BIN" ] || skip "ovsplane binary not found at $OVSPLANE_BIN (build first)"
  if [ -n "${LAB_DIR:-}" ]; then
    RUN_DIR=$LAB_DIR
    mkdir -p "$RUN_DIR"
  else
    RUN_DIR=$(mktemp -d "/tmp/ovp-$1-XXXXXX")
  fi
  LAB_ID=${LAB_ID:-$(printf '%04x' $((RANDOM % 65536)))}
  printf 'LAB_ID=%s\n' "$LAB_ID" >"$RUN_DIR/lab.env"
  : >"$RUN_DIR/cleanup.list"
  # LAB_KEEP=1: leave everything running on success (the demo); clean up on failure only.
  # LAB_KEEP=always: leave it running either way (debugging; take it down with scripts/down.sh).
  trap 'rc=$?; if [ "${LAB_KEEP:-0}" != always ] && { [ $rc != 0 ] || [ "${LAB_KEEP:-0}" != 1 ]; }; then run_cleanup; rm -rf "$RUN_DIR"; fi; exit $rc' EXIT
  trap 'exit 130' INT TERM
  log "lab $1 in $RUN_DIR"
}

# lab_teardown DIR: stops what a kept lab (LAB_KEEP=1) started, newest first, and removes DIR.
lab_teardown() {
  RUN_DIR=$1
  [ -f "$RUN_DIR/lab.env" ] || return 0
  . "$RUN_DIR/lab.env"
  local lines=() line i
  while IFS= read -r line; do lines+=("$line"); done <"$RUN_DIR/cleanup.list"
  for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
    eval "${lines[i]}" >/dev/null 2>&1 || true
  done
  rm -rf "$RUN_DIR"
}

hns() { echo "ovp${LAB_ID}h$1"; }
hdir() { echo "$RUN_DIR/h$1"; }
hx() { local h=$1; shift; nsenter --net="/run/netns/$(hns "$h")" "$@"; }
vsctl() { local h=$1; shift; ovs-vsctl --db="unix:$(hdir "$h")/db.sock" --timeout=20 "$@"; }
dk() { local h=$1; shift; docker -H "unix://$(hdir "$h")/docker.sock" "$@"; }
# The docker CLI through host $1's ovsplane proxy (OVP_MODE=proxy).
dp() { local h=$1; shift; docker -H "unix://$(hdir "$h")/proxy.sock" "$@"; }
ovsplane() {
  local h=$1 remote
  shift
  remote="unix:$(hdir "$h")/state.sock"
  if [ "${STATE_CLUSTER:-0}" = 1 ]; then
    remote=$(state_cli_remote)
  elif [ "${UNDERLAY:-0}" = 1 ]; then
    remote="unix:$(state_sock)"
  fi
  "$OVSPLANE_BIN" "$@" --state-db "$remote"
}

# A daemon in host $1's namespace, in the background; its pid is stopped at exit.
start_daemon() {
  local h=$1 name=$2
  shift 2
  # nsenter execs the command (and env execs the daemon): $! is the daemon's own pid.
  nsenter --net="/run/netns/$(hns "$h")" "$@" >"$(hdir "$h")/$name.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$(hdir "$h")/$name.pid"
  on_exit "stop_pid $pid"
}

# The test image: busybox-static with the applets the tests use.
make_image_tar() {
  local root=$RUN_DIR/rootfs
  [ -f "$RUN_DIR/busybox.tar" ] && return 0
  mkdir -p "$root/bin" "$root/tmp" "$root/etc"
  cp "$(command -v busybox)" "$root/bin/busybox"
  local applet
  for applet in sh ping sleep ip ifconfig cat nc wc dd hostname ls echo head sha1sum true mkdir \
    wget httpd seq arping timeout; do
    ln -sf busybox "$root/bin/$applet"
  done
  tar -C "$root" -cf "$RUN_DIR/busybox.tar" .
}

# underlay_up HOSTS: a switch namespace with a Linux bridge and one veth "cable" per host
# (eth1 in each host namespace). Call before host_up; host_up then gives host N the underlay
# address 192.168.77.N on a netdev br-phy (OVS userspace tunnelling) and registers it with that
# VTEP. All hosts share host 1's state database (a unix socket is reachable from any namespace).
UNDERLAY_PREFIX=192.168.77
# UNDERLAY_MTU: the cables' MTU (a cloud network's 1460, jumbo 9000); br-phy, which holds the
# VTEP address, gets the same.
UNDERLAY_MTU=${UNDERLAY_MTU:-1500}
underlay_up() {
  local hosts=$1 sw h
  sw="ovp${LAB_ID}sw"
  ip netns add "$sw"
  on_exit "ip netns del $sw"
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br-under type bridge
  ip -n "$sw" link set br-under up
  for h in $(seq 1 "$hosts"); do
    ip netns add "$(hns "$h")"
    on_exit "ip netns del $(hns "$h")"
    ip link add eth1 netns "$(hns "$h")" mtu "$UNDERLAY_MTU" type veth peer name "swp$h" \
      netns "$sw" mtu "$UNDERLAY_MTU"
    ip -n "$sw" link set "swp$h" master br-under up
  done
  UNDERLAY=1
}
sw_ns() { echo "ovp${LAB_ID}sw"; }
state_sock() { echo "$(hdir 1)/state.sock"; }

# All lab hosts share one kernel, and the kernel's ARP table limits are global (not per
# namespace): a few hundred containers that all ping each other overflow the default 1024
# entries ("neighbor table overflow"), which real hosts would not. Raised for the test,
# restored at exit.
raise_neighbour_limits() {
  local key old
  for key in gc_thresh1:1024 gc_thresh2:8192 gc_thresh3:16384; do
    old=$(sysctl -n "net.ipv4.neigh.default.${key%%:*}")
    on_exit "sysctl -qw net.ipv4.neigh.default.${key%%:*}=$old"
    sysctl -qw "net.ipv4.neigh.default.${key%%:*}=${key#*:}"
  done
}

# ---- Certificates (openssl), in $RUN_DIR/pki --------------------------------------------------
# pki_ca NAME: a CA ($RUN_DIR/pki/NAME.pem, NAME-key.pem). pki_cert NAME CA SUBJECT [EXT]: a key
# and a certificate signed by CA (NAME.pem, NAME-key.pem); EXT: openssl extension lines.
pki_dir() { echo "$RUN_DIR/pki"; }
pki_ca() {
  local t
  t=$(pki_dir)
  mkdir -p "$t"
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$t/$1-key.pem" \
    -subj "/CN=ovsplane test $1" -days 2 -out "$t/$1.pem" 2>/dev/null
}
pki_cert() {
  local t
  t=$(pki_dir)
  openssl req -new -newkey rsa:2048 -nodes -keyout "$t/$1-key.pem" -subj "$3" -out "$t/$1.csr" 2>/dev/null
  printf '%s\n' "${4:-basicConstraints=CA:FALSE}" >"$t/$1.ext"
  openssl x509 -req -in "$t/$1.csr" -CA "$t/$2.pem" -CAkey "$t/$2-key.pem" -CAcreateserial \
    -days 2 -extfile "$t/$1.ext" -out "$t/$1.pem" 2>/dev/null
}

# ---- The state database as a 3-member Raft cluster (STATE_CLUSTER=1) -------------------------
# One ovsdb-server per host namespace, as on real hosts: Raft on $UNDERLAY_PREFIX.N:6644,
# clients on $UNDERLAY_PREFIX.N:6641 (and a unix socket for the CLI run from outside). Needs the
# hosts' bases (host_base_up); host_up then points every adapter at all members.
# STATE_SSL=1: Raft and clients on ssl: (a lab CA; each host's key and certificate serve its
# member and its adapter), as README "Several hosts" says to run it.
STATE_DB_NAME=OVSPlane
STATE_MEMBERS=()
state_scheme() { if [ "${STATE_SSL:-0}" = 1 ]; then echo ssl; else echo tcp; fi; }
state_cluster_remote() {
  local h out=()
  for h in "${STATE_MEMBERS[@]}"; do out+=("$(state_scheme):$UNDERLAY_PREFIX.$h:6641"); done
  (IFS=,; echo "${out[*]}")
}
# state_tls_files H: host H's TLS identity for the state database (made on first use).
state_tls_files() {
  local t
  t=$(pki_dir)
  [ -f "$t/state-ca.pem" ] || pki_ca state-ca
  [ -f "$t/host$1.pem" ] || pki_cert "host$1" state-ca "/CN=h$1"
  echo "$t/host$1-key.pem $t/host$1.pem $t/state-ca.pem"
}
# The server flags of host H's member (none without STATE_SSL).
state_member_tls_flags() {
  [ "${STATE_SSL:-0}" = 1 ] || return 0
  local files
  read -ra files <<<"$(state_tls_files "$1")"
  echo "--private-key=${files[0]} --certificate=${files[1]} --ca-cert=${files[2]}"
}
state_cli_remote() {
  local h out=()
  for h in "${STATE_MEMBERS[@]}"; do out+=("unix:$(hdir "$h")/state.sock"); done
  (IFS=,; echo "${out[*]}")
}
state_ctl() { ovs-appctl -t "$(hdir "$1")/state.ctl" "${@:2}"; }
state_member_start() {
  local h=$1 d
  d=$(hdir "$h")
  rm -f "$d/state.sock"
  local tls=()
  read -ra tls <<<"$(state_member_tls_flags "$h")"
  start_daemon "$h" state-db ovsdb-server "$d/state.db" --remote="punix:$d/state.sock" \
    --remote="p$(state_scheme):6641:$UNDERLAY_PREFIX.$h" --unixctl="$d/state.ctl" \
    --log-file="$d/state.file.log" --no-chdir "${tls[@]}"
}
state_member_joined() { state_ctl "$1" cluster/status "$STATE_DB_NAME" | grep -q '^Status: cluster member'; }
# state_cluster_up N: creates the cluster on host 1 and joins hosts 2..N (the documented
# commands, README "Several hosts").
state_cluster_up() {
  local n=$1 h d
  for h in $(seq 1 "$n"); do
    d=$(hdir "$h")
    if [ "$h" = 1 ]; then
      ovsdb-tool create-cluster "$d/state.db" "$STATE_SCHEMA" "$(state_scheme):$UNDERLAY_PREFIX.1:6644"
    else
      ovsdb-tool join-cluster "$d/state.db" "$STATE_DB_NAME" "$(state_scheme):$UNDERLAY_PREFIX.$h:6644" \
        "$(state_scheme):$UNDERLAY_PREFIX.1:6644"
    fi
    state_member_start "$h"
    STATE_MEMBERS+=("$h")
  done
  for h in $(seq 1 "$n"); do
    wait_until 30 state_member_joined "$h" || fail "state database member on host $h did not join"
  done
  log "state database: a $n-member Raft cluster"
}
# The host whose member is the Raft leader (empty when none).
state_leader() {
  local h
  for h in "${STATE_MEMBERS[@]}"; do
    state_ctl "$h" cluster/status "$STATE_DB_NAME" 2>/dev/null | grep -q '^Role: leader' && { echo "$h"; return 0; }
  done
  return 0
}

# host_base_up N: host N's namespace and OVS and, on the underlay, its VTEP address (on br-phy).
# host_up calls it when it has not run yet; call it first when something (a state database
# cluster) must run in the hosts' namespaces before their adapters start.
host_base_up() {
  local h=$1 d ns
  d=$(hdir "$h")
  ns=$(hns "$h")
  mkdir -p "$d/docker" "$d/dexec"
  if [ "${UNDERLAY:-0}" != 1 ]; then
    ip netns add "$ns"
    on_exit "ip netns del $ns"
  fi
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up

  ovsdb-tool create "$d/conf.db" "$VSWITCH_SCHEMA"
  start_daemon "$h" ovsdb-server ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" \
    --unixctl="$d/ovsdb-server.ctl" --log-file="$d/ovsdb-server.file.log" --no-chdir
  wait_until 10 test -S "$d/db.sock" || fail "ovsdb-server of host $h did not start"
  vsctl "$h" --no-wait init
  # Private run directory: bridges' .mgmt sockets must not land in /var/run/openvswitch.
  start_daemon "$h" ovs-vswitchd env OVS_RUNDIR="$d" OVS_DBDIR="$d" OVS_LOGDIR="$d" \
    ovs-vswitchd "unix:$d/db.sock" --unixctl="$d/ovs-vswitchd.ctl" \
    --log-file="$d/ovs-vswitchd.file.log" --no-chdir -vconsole:off
  wait_until 10 test -S "$d/ovs-vswitchd.ctl" || fail "ovs-vswitchd of host $h did not start"

  if [ "${UNDERLAY:-0}" = 1 ]; then
    # Userspace tunnelling: eth1 is a port of br-phy and the VTEP address lives on br-phy's
    # internal port; br-phy gets its own MAC (else the kernel answers on eth1 too).
    vsctl "$h" -- add-br br-phy -- set Bridge br-phy datapath_type=netdev \
      other_config:hwaddr="\"02:77:00:00:00:0$h\"" -- add-port br-phy eth1 \
      -- set Interface br-phy mtu_request="$UNDERLAY_MTU"
    ip -n "$ns" link set eth1 up
    ip -n "$ns" addr add "$UNDERLAY_PREFIX.$h/24" dev br-phy
    ip -n "$ns" link set br-phy up
  fi
  touch "$d/base.up"
}

# host_up N: host N's base (above), its state database (unless shared or a cluster), dockerd
# and adapter. HOST_EXPIRY sets the adapters' --host-expiry.
host_up() {
  local h=$1 d ns
  d=$(hdir "$h")
  ns=$(hns "$h")
  [ -f "$d/base.up" ] || host_base_up "$h"
  local state="unix:$d/state.sock" hostflags=()
  if [ "${STATE_CLUSTER:-0}" = 1 ]; then
    state=$(state_cluster_remote)
    if [ "${STATE_SSL:-0}" = 1 ]; then
      local files
      read -ra files <<<"$(state_tls_files "$h")"
      hostflags+=(--state-db-key "${files[0]}" --state-db-cert "${files[1]}" --state-db-ca "${files[2]}")
    fi
  elif [ "$h" = 1 ] || [ "${UNDERLAY:-0}" != 1 ]; then
    ovsdb-tool create "$d/state.db" "$STATE_SCHEMA"
    start_daemon "$h" state-db ovsdb-server "$d/state.db" --remote="punix:$d/state.sock" \
      --unixctl="$d/state.ctl" --no-chdir
    wait_until 10 test -S "$d/state.sock" || fail "state ovsdb-server of host $h did not start"
  fi
  if [ "${UNDERLAY:-0}" = 1 ]; then
    [ "${STATE_CLUSTER:-0}" = 1 ] || state="unix:$(state_sock)"
    # VTEP_AUTO=1 (with a cluster on the underlay): let ovsplane find it from the route.
    if [ "${VTEP_AUTO:-0}" = 1 ]; then hostflags+=(--vtep-ip auto); else hostflags+=(--vtep-ip "$UNDERLAY_PREFIX.$h"); fi
  fi
  [ -n "${HOST_EXPIRY:-}" ] && hostflags+=(--host-expiry "$HOST_EXPIRY")
  # OVP_FLAGS: more flags for the daemon (word-split).
  local userflags=()
  [ -n "${OVP_FLAGS:-}" ] && read -ra userflags <<<"$OVP_FLAGS"
  hostflags+=("${userflags[@]}")

  echo '{}' >"$d/daemon.json"
  # Proxies point at a dead port: even an accidental pull could not leave the machine.
  start_daemon "$h" dockerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
    NO_PROXY= $(dockerd_wrap "$h") dockerd --config-file "$d/daemon.json" --data-root "$d/docker" \
    --exec-root "$d/dexec" --pidfile "$d/docker.pid" -H "unix://$d/docker.sock" \
    --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    --userland-proxy=false
  on_exit "dockerd_cleanup $h"
  wait_until 60 dk "$h" version || fail "dockerd of host $h did not start"
  make_image_tar
  dk "$h" import "$RUN_DIR/busybox.tar" "$LAB_IMAGE" >/dev/null

  # OVP_MODE=proxy: `ovsplane proxy` (Docker API proxy + built-in adapter, hooks also served);
  # otherwise `ovsplane adapter` (hook server only).
  local mode=adapter
  local extra=()
  if [ "${OVP_MODE:-adapter}" = proxy ]; then
    mode=proxy
    extra=(--proxy-listen "unix:$d/proxy.sock")
  fi
  local args=("$mode" --listen "unix:$d/adapter.sock" "${extra[@]}" --ovsdb "unix:$d/db.sock"
    --plugin-listen "unix:$d/plugins/ovsplane.sock" --network-pool "${OVP_POOL:-0}"
    --state-db "$state" --docker "unix://$d/docker.sock" --datapath netdev --host "h$h"
    "${hostflags[@]}" --log-level debug)
  if [ -n "${OVP_IMAGE:-}" ]; then
    # ovsplane as a container of the host's own dockerd: host network and pid namespaces, the
    # sockets mounted (--privileged is refused on this VM: all capabilities but SYS_RESOURCE, and
    # /proc/sys writable as with --privileged, for net.ipv4.ip_forward).
    DOCKER_HOST="unix://$d/docker.sock" OVSPLANE_BIN="$OVSPLANE_BIN" "$OVP_ROOT/scripts/image.sh" "$OVP_IMAGE" >/dev/null
    dk "$h" run -d --name ovsplane --net=host --pid=host --cap-add ALL --cap-drop SYS_RESOURCE \
      --security-opt seccomp=unconfined --security-opt systempaths=unconfined -v "$RUN_DIR:$RUN_DIR" "$OVP_IMAGE" "${args[@]}" >/dev/null
    on_exit "docker -H unix://$d/docker.sock logs ovsplane >$d/adapter.log 2>&1"
  else
    start_daemon "$h" adapter "$OVSPLANE_BIN" "${args[@]}"
  fi
  wait_until 10 curl -sf --unix-socket "$d/adapter.sock" http://adapter/v1/ping ||
    fail "the adapter of host $h did not answer"
  if [ "$mode" = proxy ]; then
    wait_until 10 docker -H "unix://$d/proxy.sock" version || fail "the proxy of host $h did not answer"
  fi
  log "host $h up ($ns)"
}

# Each host's dockerd finds its own host's plugins: it runs in a private mount namespace where
# $d/plugins is bound over /run/docker/plugins (Docker's one plugin directory; the machine's own
# is never touched but for the empty mount point). Prints the wrapper, word-split by callers
# (run paths hold no spaces).
dockerd_wrap() {
  local d
  d=$(hdir "$1")
  mkdir -p "$d/plugins" /run/docker/plugins
  echo "unshare --mount --propagation private $OVP_ROOT/integration/bind_plugins.sh $d/plugins"
}

# shims_cleanup DIR: the containerd shims this lab's dockerd left (a removal that did not finish
# in time), found by the containerd socket under DIR in their arguments, and their containers'
# first processes (the shims' children: each one's end takes its container's processes along).
# By pid, SIGKILL; a shim outlives its containerd by design, so nothing else stops them.
shims_cleanup() {
  local d=$1 proc pid child
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    { tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null | grep -q "^[^ ]*containerd-shim[^ ]* .*-address $d/" || continue
    for child in $(cat "$proc/task/$pid/children" 2>/dev/null); do kill -KILL "$child" 2>/dev/null || true; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# Runs before dockerd is stopped (LIFO): remove containers; afterwards unmount leftovers.
dockerd_cleanup() {
  local h=$1 d
  d=$(hdir "$h")
  # Containers that join another's network namespace first, then the rest: dockerd 20.10 can
  # deadlock when one `rm -f` removes both sides of a container: network mode at once (seen
  # with a few hundred containers).
  # A hundred at a time, each batch with its own time limit: a thousand containers take dockerd
  # longer than any one limit that suits a small test.
  dk "$h" ps -a --filter label=ovsplane.endpoint --format '{{.ID}} {{.Label "ovsplane.role"}}' 2>/dev/null |
    awk '$2 == "" {print $1}' | xargs -r -n 100 timeout 300 docker -H "unix://$d/docker.sock" rm -f >/dev/null 2>&1 || true
  dk "$h" ps -aq 2>/dev/null |
    xargs -r -n 100 timeout 300 docker -H "unix://$d/docker.sock" rm -f >/dev/null 2>&1 || true
  stop_pid "$(cat "$d/dockerd.pid" 2>/dev/null)"
  shims_cleanup "$d"
  local m
  for m in $(awk -v p="$d" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

# ---- Powerstrip, spoken by hand: what a proxy does around one Docker API call --------------

# hook H TYPE METHOD REQUEST [BODY|null] [CODE RESP_BODY]: sets HOOK_STATUS (the adapter's HTTP
# status) and HOOK_BODY (its answer). Not for $(...): the variables would stay in the subshell.
hook() {
  local h=$1 type=$2 method=$3 request=$4 body=${5:-null} code=${6:-0} resp=${7:-}
  local payload out
  if [ "$type" = pre-hook ]; then
    payload=$(jq -nc --arg m "$method" --arg r "$request" --argjson b "$body" \
      '{PowerstripProtocolVersion:1, Type:"pre-hook", ClientRequest:{Method:$m, Request:$r, Body:$b}}')
  else
    payload=$(jq -nc --arg m "$method" --arg r "$request" --argjson b "$body" --argjson c "$code" \
      --arg rb "$resp" \
      '{PowerstripProtocolVersion:1, Type:"post-hook", ClientRequest:{Method:$m, Request:$r, Body:$b},
        ServerResponse:{ContentType:"application/json", Body:$rb, Code:$c}}')
  fi
  out=$(curl -s --unix-socket "$(hdir "$h")/adapter.sock" -H 'Content-Type: application/json' \
    --data-binary "$payload" -w '\n%{http_code}' http://adapter/adapter)
  HOOK_STATUS=${out##*$'\n'}
  HOOK_BODY=${out%$'\n'*}
}

# docker_api H METHOD PATH [BODY]: sets API_STATUS and API_BODY.
docker_api() {
  local h=$1 method=$2 path=$3 body=${4:-} out
  if [ -n "$body" ]; then
    out=$(curl -s --unix-socket "$(hdir "$h")/docker.sock" -X "$method" -H 'Content-Type: application/json' \
      --data-binary "$body" -w '\n%{http_code}' "http://docker$path")
  else
    out=$(curl -s --unix-socket "$(hdir "$h")/docker.sock" -X "$method" -w '\n%{http_code}' "http://docker$path")
  fi
  API_STATUS=${out##*$'\n'}
  API_BODY=${out%$'\n'*}
}

# create_container H NAME ENV...: pre-hook, create, post-hook; returns 1 (ERROR set) if refused.
create_container() {
  local h=$1 name=$2
  shift 2
  local env body request newbody created
  env=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
  body=$(jq -nc --arg img "$LAB_IMAGE" --argjson env "$env" \
    '{Image:$img, Cmd:["sleep","3600"], Env:$env, HostConfig:{NetworkMode:"default"}}')
  request="/v1.41/containers/create?name=$name"
  hook "$h" pre-hook POST "$request" "$(jq -nc --arg b "$body" '$b')"
  if [ "$HOOK_STATUS" != 200 ]; then
    ERROR=$(jq -r .message <<<"$HOOK_BODY")
    return 1
  fi
  newbody=$(jq -r .ModifiedClientRequest.Body <<<"$HOOK_BODY")
  docker_api "$h" POST "$request" "$newbody"
  created=$API_BODY
  hook "$h" post-hook POST "$request" "$(jq -nc --arg b "$body" '$b')" "$API_STATUS" "$created"
  [ "$API_STATUS" = 201 ] || { ERROR="docker: $created"; return 1; }
}

start_container() {
  local h=$1 name=$2
  docker_api "$h" POST "/v1.41/containers/$name/start"
  hook "$h" post-hook POST "/v1.41/containers/$name/start" null "$API_STATUS" "$API_BODY"
  [ "$HOOK_STATUS" = 200 ] || fail "start hook for $name answered $HOOK_STATUS"
}

remove_container() {
  local h=$1 name=$2
  docker_api "$h" DELETE "/v1.41/containers/$name?force=1"
  hook "$h" post-hook DELETE "/v1.41/containers/$name?force=1" null "$API_STATUS" "$API_BODY"
}

# The address of a container's eth0 (as seen inside it).
container_ip() { dk "$1" exec "$2" ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1; }

# Daemon logs must not report unexpected trouble.
check_logs() {
  local h=$1 d
  d=$(hdir "$h")
  if grep -E '\[(error|critical)\]|AddressSanitizer|runtime error:' "$d/adapter.log" >/dev/null; then
    fail "errors in host $h's adapter log"
  fi
  # A veth vanishing with its namespace (a container restart) is expected to be noticed; so is a
  # restarted ovs-vswitchd waiting for ovsdb-server to drop its predecessor's lock, and the rate
  # limiter's summary of such messages.
  local unexpected
  unexpected=$(grep -E '\|(EMER|ERR)\|' "$d/ovs-vswitchd.file.log" "$d"/ovs-vswitchd.file.log.* 2>/dev/null |
    grep -vE 'Network is down|No such device|another ovs-vswitchd process is running|Dropped [0-9]+ log messages in last' || true)
  [ -z "$unexpected" ] || fail "errors in host $h's ovs-vswitchd log: $(head -3 <<<"$unexpected")"
}

# ---- Restarting a host's daemons, and the leak checker (the lifecycle scenario) --------------
# A stopped daemon's pid may be reused by anything (pid_max is 32768 here), so a restarted
# daemon's old pid is dropped from the cleanup stack, and every stop below first checks that the
# pid still runs a command of this lab (its command line names $RUN_DIR).

# lab_pid_ours PID: PID runs a command whose arguments name this lab's run directory.
lab_pid_ours() { [ -n "$1" ] && grep -qF -- "$RUN_DIR" "/proc/$1/cmdline" 2>/dev/null; }
stop_lab_pid() { lab_pid_ours "$1" && stop_pid "$1"; return 0; }
# lab_forget_pid PID: drops "stop_pid PID" / "stop_lab_pid PID" from the cleanup stack.
lab_forget_pid() {
  local pid=$1 i kept=()
  for i in "${!CLEANUP[@]}"; do
    case "${CLEANUP[i]}" in "stop_pid $pid" | "stop_lab_pid $pid") ;; *) kept+=("${CLEANUP[i]}") ;; esac
  done
  CLEANUP=("${kept[@]}")
  [ -f "$RUN_DIR/cleanup.list" ] &&
    grep -vxF -e "stop_pid $pid" -e "stop_lab_pid $pid" "$RUN_DIR/cleanup.list" >"$RUN_DIR/cleanup.list.new" || true
  [ -f "$RUN_DIR/cleanup.list.new" ] && mv "$RUN_DIR/cleanup.list.new" "$RUN_DIR/cleanup.list"
  return 0
}

# daemon_save H NAME: records how host H's running daemon NAME (adapter, dockerd, ovsdb-server,
# ovs-vswitchd, state-db: the names start_daemon was given) was started, its argv and the
# environment settings lib.sh gives it (dead pull proxies, OVS run directories), so that
# daemon_start starts it again exactly so. Call once, after host_up.
daemon_save() {
  local h=$1 name=$2 d pid
  d=$(hdir "$h")
  pid=$(cat "$d/$name.pid")
  lab_pid_ours "$pid" || fail "host $h's $name (pid $pid) is not running"
  cat "/proc/$pid/cmdline" >"$d/$name.argv"
  tr '\0' '\n' <"/proc/$pid/environ" |
    grep -E '^(HTTP_PROXY|HTTPS_PROXY|NO_PROXY|OVS_RUNDIR|OVS_DBDIR|OVS_LOGDIR)=' >"$d/$name.env" || true
}
daemons_save() {
  local h=$1 name
  for name in ovsdb-server ovs-vswitchd dockerd adapter; do daemon_save "$h" "$name"; done
}

# daemon_start H NAME [VAR=VALUE...]: starts host H's daemon NAME again as daemon_save saw it,
# with VAR=VALUE added to its environment; the earlier log is kept as NAME.log.N. Does not
# wait for it to serve. dockerd's stop stays with dockerd_cleanup (it reads dockerd.pid), so
# that containers are still removed before it stops.
daemon_start() {
  local h=$1 name=$2 d n=1 pid argv=() envs=()
  shift 2
  d=$(hdir "$h")
  mapfile -d '' -t argv <"$d/$name.argv"
  mapfile -t envs <"$d/$name.env"
  while [ -e "$d/$name.log.$n" ]; do n=$((n + 1)); done
  [ -f "$d/$name.log" ] && mv "$d/$name.log" "$d/$name.log.$n"
  local wrap=()
  [ "$name" = dockerd ] && read -ra wrap <<<"$(dockerd_wrap "$h")"
  nsenter --net="/run/netns/$(hns "$h")" env "${envs[@]}" "$@" "${wrap[@]}" "${argv[@]}" >"$d/$name.log" 2>&1 </dev/null &
  pid=$!
  disown "$pid"  # no "Killed" job report when the sweep kills it (the shell still reaps it)
  echo "$pid" >"$d/$name.pid"
  [ "$name" = dockerd ] || on_exit "stop_lab_pid $pid"
}

# daemon_stop H NAME [KILL]: SIGTERM (and wait, as stop_pid) or SIGKILL; reaps it.
daemon_stop() {
  local h=$1 name=$2 how=${3:-TERM} pid
  pid=$(cat "$(hdir "$h")/$name.pid" 2>/dev/null) || return 0
  if lab_pid_ours "$pid"; then
    if [ "$how" = KILL ]; then
      kill -KILL "$pid" 2>/dev/null || true
      wait_until 10 pid_gone "$pid" || fail "host $h's $name (pid $pid) survived SIGKILL"
    else
      stop_pid "$pid"
    fi
  fi
  wait "$pid" 2>/dev/null || true
  lab_forget_pid "$pid"
}

# The daemons' readiness, as host_up and host_base_up wait for it.
adapter_ready() {
  curl -sf --unix-socket "$(hdir "$1")/adapter.sock" http://adapter/v1/ping >/dev/null || return 1
  [ "${OVP_MODE:-adapter}" != proxy ] || docker -H "unix://$(hdir "$1")/proxy.sock" version >/dev/null
}
dockerd_ready() { dk "$1" version >/dev/null 2>&1; }
ovsdb_ready() { vsctl "$1" --no-wait show >/dev/null 2>&1; }
vswitchd_ready() { ovs-appctl -t "$(hdir "$1")/ovs-vswitchd.ctl" version >/dev/null 2>&1; }
# On the underlay the VTEP address lives on br-phy's internal port, a tap device ovs-vswitchd
# creates. OVS 3.1 keeps the device (and the address) across a restart; where the device is
# recreated, this puts the address back, as a real host's network configuration would.
underlay_restore() {
  local h=$1 ns
  [ "${UNDERLAY:-0}" = 1 ] || return 0
  ns=$(hns "$h")
  wait_until 20 ip -n "$ns" link show br-phy || fail "br-phy of host $h did not come back"
  ip -n "$ns" addr replace "$UNDERLAY_PREFIX.$h/24" dev br-phy
  ip -n "$ns" link set br-phy up
  ip -n "$ns" link set eth1 up
}

# leak_scan H [EXPECTED_APPS]: one look at host H. With A = the app containers (label
# ovsplane.endpoint, no ovsplane.role), by endpoint id: host hH's Address rows = the
# network-only containers = A (= EXPECTED_APPS when given); OVS ports carrying
# external_ids:ovsplane-endpoint = the ovh* veths in the host namespace (by name), all of
# endpoints in A, and every running app's among them (an app that is not running may have both
# or neither: a port without its veth counts); no (network, ip) twice in the Address rows nor
# on two network-only containers' eth0; every app's NetworkMode names the network-only container
# of its own endpoint, running (with its row's address on eth0) when the app runs. Sets
# LEAK_SUMMARY, LEAK_PROBLEMS (one a line), LEAK_COUNT (objects no app claims + addresses held
# twice); returns 0 when all hold.
leak_scan() {
  local h=$1 expected=${2:-} d ns ids
  d=$(hdir "$h")
  ns=$(hns "$h")
  local t="$d/leak"
  mkdir -p "$t"
  LEAK_SUMMARY="" LEAK_PROBLEMS="" LEAK_COUNT=""
  ovsplane "$h" endpoint ls >"$t/rows.txt" 2>"$t/err.txt" || { LEAK_PROBLEMS="endpoint ls failed: $(cat "$t/err.txt")"; return 1; }
  ids=$(dk "$h" ps -aq --no-trunc --filter label=ovsplane.endpoint 2>"$t/err.txt") ||
    { LEAK_PROBLEMS="docker ps failed: $(cat "$t/err.txt")"; return 1; }
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    dk "$h" inspect $ids 2>"$t/err.txt" | jq -r '.[] | [.Id, (.Config.Labels["ovsplane.role"] // "-"),
        (.Config.Labels["ovsplane.endpoint"] // "-"), (.State.Running | tostring), .HostConfig.NetworkMode,
        (.State.Pid | tostring), (.Config.Labels["ovsplane.ip"] // "-"), (.Name | ltrimstr("/")),
        (.Config.Labels["ovsplane.pool"] // "-")] | @tsv' >"$t/containers.txt" ||
      { LEAK_PROBLEMS="docker inspect failed (a container went away meanwhile?): $(cat "$t/err.txt")"; return 1; }
  else
    : >"$t/containers.txt"
  fi
  local table
  for table in Port Interface; do
    vsctl "$h" -f json --columns=name,external_ids list "$table" 2>"$t/err.txt" ||
      { LEAK_PROBLEMS="ovs-vsctl list $table failed: $(cat "$t/err.txt")"; return 1; }
  done | jq -r '.data[] | [.[0], ((.[1][1] // []) | map(select(.[0] == "ovsplane-endpoint")) | .[0][1] // empty)]
      | select(length == 2) | @tsv' | sort -u >"$t/ports.txt"
  ip -n "$ns" -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep '^ovh' >"$t/veths.txt" || true
  # Inside each running network-only container: eth0's address (checked where the app runs).
  : >"$t/inside.txt"
  local id role ep running mode pid ip name addr
  while IFS=$'\t' read -r id role ep running mode pid ip name _; do
    [ "$role" = network ] && [ "$running" = true ] && [ "$pid" != 0 ] || continue
    addr=$(nsenter -t "$pid" -n ip -o -4 addr show dev eth0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1)
    printf '%s\t%s\n' "$ep" "${addr:--}" >>"$t/inside.txt"
  done <"$t/containers.txt"
  local out
  out=$(awk -v host="h$h" -v expected="$expected" -F'\t' '
    FILENAME ~ /rows.txt$/ {
      if (FNR == 1) next
      split($0, f, " +"); if (f[4] == "") next
      key = f[1] " " f[2]; if (++ipseen[key] == 2) { dup++; problem("address " f[2] " of " f[1] " held twice") }
      if (f[4] == host) { rowc[f[3]]++; rowip[f[3]] = f[2]; nrows++ }
      next
    }
    FILENAME ~ /containers.txt$/ {
      if ($2 == "-") { app[$3]++; napps++; appid[$3] = $1; apprun[$3] = $4; appmode[$3] = $5; appname[$3] = $8
                       appip[$3] = $7; if ($4 == "true") nrun++ }
      else if ($2 == "network") { net[$3]++; nnets++; netid[$1] = $3; netrun[$1] = $4; netip[$3] = $7
                       netname[$3] = $8; pooled[$3] = ($9 == "1"); if ($4 == "true") nnetrun++ }
      next
    }
    FILENAME ~ /ports.txt$/ { port[$1] = $2; portep[$2]++; nports++; next }
    FILENAME ~ /veths.txt$/ { veth[$1] = 1; nveths++; next }
    FILENAME ~ /inside.txt$/ { inside[$1] = $2; if ($2 != "-" && ++inseen[$2] == 2) { dup++; problem("address " $2 " configured in two network-only containers") } ; next }
    function problem(text) { problems[++np] = text }
    function whose(e) { return "endpoint " e ((e in app) ? ", app " appname[e] (apprun[e] == "true" ? " running" : " not running") : "") }
    END {
      for (e in rowc) { if (!(e in app)) { leak++; problem("Address row " rowip[e] " (endpoint " e ") has no app container") }
                        if (rowc[e] > 1) { dup++; problem("endpoint " e " holds " rowc[e] " Address rows") } }
      for (e in net) { if (!(e in app) && pooled[e]) {  # ready in the pool: no address, no port
                         npool++; if (e in rowc) { leak++; problem("pooled network-only container " netname[e] " holds " rowip[e]) }
                         continue }
                       if (!(e in app)) { leak++; problem("network-only container " netname[e] " (endpoint " e ") has no app container") }
                       if (net[e] > 1) { leak++; problem("endpoint " e " has " net[e] " network-only containers") } }
      for (p in port) { if (!(port[p] in app)) { leak++; problem("OVS port " p " (endpoint " port[p] ") has no app container") }
                        if (!(p in veth)) { leak++; problem("OVS port " p " (" whose(port[p]) ") has no veth") } }
      for (v in veth) if (!(v in port)) { leak++; problem("veth " v " is no OVS port of an endpoint") }
      for (e in app) {
        n = appname[e] " (endpoint " e ")"
        if (app[e] > 1) problem("endpoint " e " is claimed by " app[e] " app containers")
        if (!(e in rowc)) problem("app " n " has no Address row of " host)
        if (!(e in net)) problem("app " n " has no network-only container")
        if (netip[e] == "-") netip[e] = appip[e]  # a pooled one: the app carries it
        if (e in rowc && e in net && netip[e] != rowip[e]) problem("app " n ": row says " rowip[e] ", labels say " netip[e])
        target = appmode[e]; sub(/^container:/, "", target)
        if (target in netid && netid[target] != e) problem("app " n " joins the network-only container of endpoint " netid[target])
        if (apprun[e] != "true") continue
        if (!(target in netid)) problem("running app " n " joins no network-only container (" appmode[e] ")")
        else if (netrun[target] != "true") problem("running app " n ": its network-only container is not running")
        if (!(e in portep)) problem("running app " n " has no OVS port")
      }
      for (e in inside) {
        if (apprun[e] != "true") continue
        if (inside[e] == "-") problem("network-only container " netname[e] " of running app " appname[e] " has no address on eth0")
        else if (e in rowip && inside[e] != rowip[e]) problem("network-only container " netname[e] " has " inside[e] " on eth0, its row " rowip[e])
      }
      if (expected != "" && napps + 0 != expected + 0) problem(napps + 0 " app containers, expected " expected)
      printf "SUMMARY\t%d rows, %d network-only containers (%d running, %d of them ready in the pool), %d ports, %d veths, %d apps (%d running)\n",
        nrows, nnets, nnetrun, npool, nports, nveths, napps, nrun
      printf "COUNT\t%d\n", leak + dup
      for (i = 1; i <= np; i++) print "PROBLEM\t" problems[i]
    }' "$t/rows.txt" "$t/containers.txt" "$t/ports.txt" "$t/veths.txt" "$t/inside.txt")
  LEAK_SUMMARY=$(awk -F'\t' '$1 == "SUMMARY" {print $2}' <<<"$out")
  LEAK_COUNT=$(awk -F'\t' '$1 == "COUNT" {print $2}' <<<"$out")
  LEAK_PROBLEMS=$(awk -F'\t' '$1 == "PROBLEM" {print $2}' <<<"$out" | sort)
  [ -z "$LEAK_PROBLEMS" ]
}

# leaks_converge H [EXPECTED_APPS [SECONDS]]: leak_scan until it holds (reconciliation is
# asynchronous; default 20 s). On failure prints what differs (to stderr) and returns 1.
leaks_converge() {
  local h=$1 expected=${2:-} seconds=${3:-20} deadline
  deadline=$(($(date +%s%N) + seconds * 1000000000))
  until leak_scan "$h" "$expected"; do
    if [ "$(date +%s%N)" -ge "$deadline" ]; then
      {
        echo "leaks on host $h after ${seconds} s: $LEAK_SUMMARY"
        head -n 30 <<<"$LEAK_PROBLEMS" | sed 's/^/  /'
      } >&2
      return 1
    fi
    sleep 0.2
  done
}
# check_no_leaks H [EXPECTED_APPS]: leaks_converge or fail.
check_no_leaks() {
  leaks_converge "$@" || fail "host $1: the state database, Docker and OVS disagree (above)"
}
