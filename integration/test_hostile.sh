#!/usr/bin/env bash
# e2e: hostile input on every socket of a live `ovsplane proxy` (the Docker API proxy and the hook
# API): a catalogue of malformed requests (truncated and deeply nested JSON, wrong types, huge
# bodies and heads, invalid UTF-8, Content-Length + Transfer-Encoding smuggling, Expect:
# 100-continue, encoded and absolute-form targets, slowloris clients, 2,000 idle connections).
# Each gets its answer, a well-behaved docker client is served throughout, the daemon keeps
# running, and no address is left allocated. Then permissions: a user without the docker group
# reaches neither socket; one in it reaches both.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "missing command: python3"
command -v setpriv >/dev/null || skip "missing command: setpriv"
OVP_MODE=proxy
RAW="python3 $OVP_ROOT/integration/raw_http.py"
shopt -s lastpipe  # `... | expect` sets LAST in this shell
LAST=
# 2,000 idle connections need descriptors on both sides (the daemon inherits this limit).
ulimit -n 8192 2>/dev/null || skip "cannot raise the descriptor limit to 8192 (2,000 connections)"
lab_init hostile
host_up 1
d=$(hdir 1)
proxy=$d/proxy.sock
hooks=$d/adapter.sock
CIDR=10.88.0.1/24
addresses() { ovsplane 1 endpoint ls 2>/dev/null | grep -c '^10\.88\.' || true; }
network_only() { dk 1 ps -aq --filter label=ovsplane.role=network | wc -l; }
daemon_pid=$(cat "$d/adapter.pid")

dp 1 run --pull=never -d --name good -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null ||
  fail "docker run through the proxy"
before_addresses=$(addresses)
before_network=$(network_only)
[ "$before_addresses" = 1 ] || fail "expected 1 address before the catalogue, got $before_addresses"

# A well-behaved client, throughout: the docker CLI through the proxy, every 0.2 s.
: >"$RUN_DIR/good.log"
touch "$RUN_DIR/good.run"
(
  while [ -e "$RUN_DIR/good.run" ]; do
    if dp 1 inspect -f '{{.State.Running}}' good >/dev/null 2>&1; then echo ok; else echo FAILED; fi
    sleep 0.2
  done >>"$RUN_DIR/good.log"
) &
good_pid=$!
on_exit "rm -f $RUN_DIR/good.run"

# expect SOCKET NAME PATTERN: sends stdin raw to SOCKET; what comes back must match PATTERN
# (an extended regex on the status lines and the start of the body).
# The output is kept in LAST.
expect() {
  local socket=$1 name=$2 pattern=$3
  LAST=$($RAW send "$socket" 2>&1)
  grep -Eq "$pattern" <<<"$LAST" || fail "$name: expected /$pattern/, got: $(head -c 400 <<<"$LAST")"
  pass "$name: $(grep -E '^HTTP/1' <<<"$LAST" | tr '\n' ' ' || echo closed)"
}
create() {  # create BODY [EXTRA-HEADERS]: a raw create through the proxy
  printf 'POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n%bContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "${2:-}" "${#1}" "$1"
}
ENV="\"Env\":[\"OVSPLANE_CIDR=$CIDR\"]"
repeat() { head -c "$2" /dev/zero | tr '\0' "$1"; }  # repeat CHAR COUNT

# ---- The proxy ----------------------------------------------------------------------------------
# A body that is not JSON, or not Docker's shape, is Docker's to judge (the proxy is transparent
# for what is not ovsplane's): dockerd refuses it with its own message; ovsplane allocates nothing.
create "{\"Image\":\"$LAB_IMAGE\",$ENV" | expect "$proxy" "truncated JSON" '^HTTP/1.1 (400|500)'
{
  printf 'POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' $((200000 * 2 + 60))
  printf '{"Image":"x","Env":["OVSPLANE_CIDR=%s"],"Labels":' "$CIDR"
  repeat '[' 200000
  repeat ']' 200000
  printf '}'
} | expect "$proxy" "JSON nested 200,000 deep" '^HTTP/1.1 4[0-9][0-9]'
create "{\"Image\":\"$LAB_IMAGE\",\"Env\":\"OVSPLANE_CIDR=$CIDR\"}" |
  expect "$proxy" "Env of the wrong type" '^HTTP/1.1 (400|500)'
create "{\"Image\":\"$LAB_IMAGE\",$ENV,\"HostConfig\":{\"NetworkMode\":7}}" |
  expect "$proxy" "NetworkMode of the wrong type" '^HTTP/1.1 400'
{
  printf 'POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' $((20 * 1024 * 1024))
  repeat ' ' $((20 * 1024 * 1024))
} | expect "$proxy" "a 20 MiB create body" '^HTTP/1.1 413'
{
  printf 'GET /v1.41/_ping HTTP/1.1\r\nHost: d\r\n'
  for i in $(seq 1 40); do printf 'X-Big-%d: %s\r\n' "$i" "$(repeat a 60000)"; done
  printf '\r\n'
} | expect "$proxy" "a 2.4 MiB request head" '^HTTP/1.1 431'
printf '{"Image":"ovp-no-such-image","Env":["OVSPLANE_CIDR=%s","X=\xff\xfe\xc3("]}' "$CIDR" >"$RUN_DIR/utf8.json"
create "$(cat "$RUN_DIR/utf8.json")" | expect "$proxy" "invalid UTF-8 (an image that does not exist)" '^HTTP/1.1 404'
printf 'POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1.41/containers/json HTTP/1.1\r\nHost: d\r\n\r\n' |
  expect "$proxy" "Content-Length with Transfer-Encoding (smuggling)" '^HTTP/1.1 400'
printf 'GARBAGE\r\n\r\n' | expect "$proxy" "garbage" '^HTTP/1.1 400'
create '{"Image":"x","Env":["OVSPLANE_CIDR=300.1.1.1/24"]}' 'Expect: 100-continue\r\n' |
  expect "$proxy" "Expect: 100-continue (a bad CIDR)" '^HTTP/1.1 400'
[ "$(grep -E '^HTTP/1' <<<"$LAST" | head -1)" = "HTTP/1.1 100 Continue" ] ||
  fail "no 100 Continue before the answer: $LAST"
for target in "/v1.41/containers/%63reate" "http://docker/v1.41/containers/create" "/v1.41/x/../containers/create"; do
  body='{"Image":"x","Env":["OVSPLANE_CIDR=300.1.1.1/24"]}'
  printf 'POST %s HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "$target" "${#body}" "$body" |
    expect "$proxy" "target $target reaches the hook" 'ovsplane: .*300\.1\.1\.1'
done

# Slowloris and idle connections, 2,000 together, while the good client goes on.
touch "$RUN_DIR/hold.run"
$RAW slow "$proxy" 50 "$RUN_DIR/hold.run" &
slow_pid=$!
$RAW hold "$proxy" 1950 "$RUN_DIR/hold.run" >"$RUN_DIR/hold.out" &
hold_pid=$!
on_exit "rm -f $RUN_DIR/hold.run"
wait_until 60 test -s "$RUN_DIR/hold.out" || fail "1,950 idle connections could not be opened"
read -r held answered <"$RUN_DIR/hold.out"
[ "$held" = 1950 ] || fail "only $held of 1,950 idle connections were accepted"
[ "$answered" = 0 ] || fail "$answered idle connections under the cap were answered (closed?)"
dp 1 exec good true || fail "docker exec with 2,000 idle and slow connections open"
out=$(dp 1 run --pull=never -d --name during -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 2>&1) ||
  fail "docker run with 2,000 idle and slow connections open: $out"
dp 1 rm -f during >/dev/null || fail "rm -f during"
pass "1,950 idle + 50 slowloris connections held; docker exec, run and rm -f still served"

# ---- The hook API ------------------------------------------------------------------------------
hook() {  # hook BODY: a raw POST /adapter
  printf 'POST /adapter HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "${#1}" "$1"
}
hook '{"PowerstripProtocolVersion":1,"Type":"pre-hook","ClientRequest":{"Method":"POST","Request":"/v1.41/containers/create","Body":"{\"Env' |
  expect "$hooks" "hook API: truncated JSON" '^HTTP/1.1 400'
{
  printf 'POST /adapter HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' 200000
  repeat '[' 100000
  repeat ']' 100000
} | expect "$hooks" "hook API: JSON nested 100,000 deep" '^HTTP/1.1 (400|413)'
hook '{"PowerstripProtocolVersion":"1","Type":"pre-hook","ClientRequest":{"Method":"POST","Request":"/v1.41/containers/create","Body":null}}' |
  expect "$hooks" "hook API: a version of the wrong type" '^HTTP/1.1 400'
hook "{\"PowerstripProtocolVersion\":1,\"Type\":\"pre-hook\",\"ClientRequest\":{\"Method\":\"POST\",\"Request\":\"/v1.41/containers/create\",\"Body\":\"{\\\"Image\\\":\\\"x\\\",\\\"Env\\\":[\\\"OVSPLANE_CIDR=$CIDR\\\"],\\\"Labels\\\":7}\"}}" |
  expect "$hooks" "hook API: a create body of the wrong shape" '^HTTP/1.1 400'
{
  printf 'POST /adapter HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n' $((8 * 1024 * 1024))
  repeat ' ' $((8 * 1024 * 1024))
} | expect "$hooks" "hook API: an 8 MiB body" '^HTTP/1.1 413'
{
  printf 'POST /adapter HTTP/1.1\r\nHost: h\r\nX-Big: %s\r\n\r\n' "$(repeat a 100000)"
} | expect "$hooks" "hook API: a 100 KiB head" '^HTTP/1.1 431|CLOSED'
printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n' | expect "$hooks" "hook API: TLS bytes" '^HTTP/1.1 400|CLOSED'
hook "$(printf '{"PowerstripProtocolVersion":1,"Type":"pre-hook","ClientRequest":{"Method":"POST","Request":"/v1.41/containers/create","Body":"{\\"Image\\":\\"\xff\xfe\\"}"}}')" |
  expect "$hooks" "hook API: invalid UTF-8" '^HTTP/1.1 (200|400)'

# ---- Nothing allocated, nothing down ----------------------------------------------------------
rm -f "$RUN_DIR/good.run"
wait "$good_pid" 2>/dev/null || true
served=$(grep -c '^ok$' "$RUN_DIR/good.log" || true)
failed=$(grep -c FAILED "$RUN_DIR/good.log" || true)
[ "$failed" = 0 ] || fail "the well-behaved client failed $failed of $((served + failed)) times"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died"
wait_until 10 sh -c "[ \$($OVSPLANE_BIN endpoint ls --state-db unix:$d/state.sock 2>/dev/null | grep -c '^10\.88\.') = $before_addresses ]" ||
  fail "addresses: $(addresses) after the catalogue, $before_addresses before"
[ "$(network_only)" = "$before_network" ] || fail "network-only containers: $(network_only), $before_network before"
pass "the well-behaved client was served $served times without a failure; the daemon runs; $before_addresses address and $before_network network-only container, as before"

# ---- Permissions ------------------------------------------------------------------------------
# The lab's directories are private (mktemp): opened for the test so that only the sockets'
# own modes decide; a socket made world-writable beside them shows the check can succeed.
chmod o+x "$RUN_DIR" "$d"
# The system's python: the user switched to must be able to run it (not a shim under /root).
system_python=/usr/bin/python3
[ -x "$system_python" ] || system_python=$(command -v python3)
can_connect() {  # can_connect SOCKET SETPRIV-ARGS...
  setpriv "${@:2}" "$system_python" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$1" 2>/dev/null
}
python3 -c 'import socket,sys,os; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1],0o666); s.listen(1); import time; time.sleep(30)' "$d/open.sock" &
open_pid=$!
on_exit "kill $open_pid 2>/dev/null"
wait_until 5 test -S "$d/open.sock" || fail "control socket"
nobody=(--reuid=65534 --regid=65534 --clear-groups)
can_connect "$d/open.sock" "${nobody[@]}" || fail "control: nobody cannot reach a 0666 socket (the check is broken)"
for socket in "$proxy" "$hooks"; do
  mode=$(stat -c %a "$socket")
  [ "$mode" = 660 ] || fail "$socket has mode $mode, expected 660"
  can_connect "$socket" "${nobody[@]}" && fail "a user without the docker group reached $socket"
done
if gid=$(getent group docker | cut -d: -f3) && [ -n "$gid" ]; then
  for socket in "$proxy" "$hooks"; do
    [ "$(stat -c %g "$socket")" = "$gid" ] || fail "$socket is not group docker"
    can_connect "$socket" --reuid=65534 --regid=65534 --groups="$gid" || fail "a docker group member cannot reach $socket"
  done
  pass "sockets 0660 group docker: nobody is refused, a docker group member reaches both"
else
  pass "sockets 0660 (no docker group here): nobody is refused"
fi
# The plugin socket: dockerd (root) only, and garbage there is answered, never the daemon's end.
plugin=$d/plugins/ovsplane.sock
[ "$(stat -c %a "$plugin")" = 600 ] || fail "$plugin has mode $(stat -c %a "$plugin"), expected 600"
can_connect "$plugin" "${nobody[@]}" && fail "a user other than root reached $plugin"
pcall() {  # pcall TARGET BODY: a raw plugin call
  printf 'POST %s HTTP/1.1\r\nHost: plugin\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "$1" "${#2}" "$2"
}
pcall /IpamDriver.RequestPool 'not json' | expect "$plugin" "plugin: not JSON" '^HTTP/1.1 400'
pcall /NetworkDriver.CreateEndpoint "$(repeat '[' 100000)" | expect "$plugin" "plugin: 100,000-deep nesting" '^HTTP/1.1 400'
pcall /NetworkDriver.CreateEndpoint '{"Interface":{"Address":"10.88.0.2/99999999999"},"Options":{"com.docker.network.portmap":7}}' |
  expect "$plugin" "plugin: a bad prefix" '"Err":"ovsplane: endpoint address'
pcall /IpamDriver.RequestAddress '{"PoolID":["x"],"Address":{}}' | expect "$plugin" "plugin: wrong types" '"Err":"ovsplane: '
printf 'GARBAGE\r\n\r\n' | expect "$plugin" "plugin: not HTTP" '^HTTP/1.1 400|closed|^$'
pcall /Plugin.Activate '{}' | expect "$plugin" "plugin: still serving" '"Implements":\["NetworkDriver","IpamDriver"\]'
[ -e "/proc/$daemon_pid" ] || fail "the daemon died on the plugin socket's garbage"
kill "$open_pid" 2>/dev/null || true

# Past the cap (2,048 connections) a connection is answered 503 at once, and the held ones
# are kept.
extra=$($RAW hold "$proxy" 120 /nonexistent)
[ "${extra% *}" = 120 ] && [ "${extra#* }" -ge 1 ] || fail "past the cap: $extra (accepted, answered at once)"
pass "past the connection cap: of 120 more connections ${extra#* } were answered 503 at once"
rm -f "$RUN_DIR/hold.run"
wait "$hold_pid" "$slow_pid" 2>/dev/null || true
dp 1 inspect good >/dev/null || fail "not served once the held connections are gone"

check_logs 1
echo "PASS: hostile input ($served well-behaved requests served during the catalogue)"
