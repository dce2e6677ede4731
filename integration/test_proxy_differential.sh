#!/usr/bin/env bash
# e2e: the docker CLI directly against dockerd and through `ovsplane proxy`, outputs compared
# (the design of Powerstrip's own test suite): version, inspect, cp both ways, a legacy build of
# a FROM-scratch context of 24 MiB (streamed: the proxy's peak memory must not grow by the
# context's size), events (bounded and followed), logs -f while the container writes (lines
# arrive while it runs), stats.
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
lab_init differential
host_up 1
d=$(hdir 1)
RUN=(run --pull=never)

[ "$(dp 1 version --format '{{.Server.Version}} {{.Server.APIVersion}}')" = \
  "$(dk 1 version --format '{{.Server.Version}} {{.Server.APIVersion}}')" ] || fail "docker version differs"
dp 1 "${RUN[@]}" -d --name box "$LAB_IMAGE" sleep 3600 >/dev/null
[ "$(dp 1 inspect box | sha1sum)" = "$(dk 1 inspect box | sha1sum)" ] || fail "docker inspect differs"
pass "version and inspect identical through the proxy"

head -c $((5 * 1024 * 1024)) /dev/urandom >"$d/in.bin"
dp 1 cp "$d/in.bin" box:/tmp/in.bin || fail "docker cp into a container through the proxy"
[ "$(dk 1 exec box sha1sum /tmp/in.bin | cut -c1-40)" = "$(sha1sum <"$d/in.bin" | cut -c1-40)" ] ||
  fail "docker cp in: the file arrived changed"
dp 1 cp box:/tmp/in.bin "$d/out-proxy.bin" && dk 1 cp box:/tmp/in.bin "$d/out-direct.bin" ||
  fail "docker cp out of a container"
cmp -s "$d/out-proxy.bin" "$d/in.bin" && cmp -s "$d/out-direct.bin" "$d/in.bin" ||
  fail "docker cp out: the files differ"
pass "docker cp of 5 MiB both ways through the proxy, byte for byte"

# A FROM-scratch build context of 24 MiB (legacy builder: the context is the request body).
mkdir -p "$d/ctx"
head -c $((24 * 1024 * 1024)) /dev/urandom >"$d/ctx/blob"
cp "$(command -v busybox)" "$d/ctx/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY blob /blob\nCMD ["/bin/busybox", "sha1sum", "/blob"]\n' >"$d/ctx/Dockerfile"
proxy_pid=$(cat "$d/adapter.pid")
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$proxy_pid/status"; }
before_kb=$(hwm)
DOCKER_BUILDKIT=0 dp 1 build -q -t built-proxy "$d/ctx" >/dev/null 2>"$d/build-proxy.err" ||
  fail "docker build through the proxy: $(cat "$d/build-proxy.err")"
after_kb=$(hwm)
DOCKER_BUILDKIT=0 dk 1 build -q -t built-direct "$d/ctx" >/dev/null 2>&1 || fail "docker build directly"
[ "$(dk 1 image inspect -f '{{json .RootFS.Layers}}' built-proxy)" = \
  "$(dk 1 image inspect -f '{{json .RootFS.Layers}}' built-direct)" ] || fail "the two builds' layers differ"
[ "$(dp 1 "${RUN[@]}" --rm built-proxy | cut -c1-40)" = "$(sha1sum <"$d/ctx/blob" | cut -c1-40)" ] ||
  fail "the image built through the proxy has a different blob"
grown_kb=$((after_kb - before_kb))
[ "$grown_kb" -lt $((12 * 1024)) ] || fail "the proxy's peak memory grew by ${grown_kb} KiB during a 24 MiB build"
pass "docker build of a 24 MiB FROM-scratch context: same layers as direct; proxy peak memory grew ${grown_kb} KiB"

# Events: a bounded window compared, then a followed stream.
since=$(date +%s)
dp 1 "${RUN[@]}" -d --name ev1 "$LAB_IMAGE" sleep 3600 >/dev/null
dp 1 stop -t 1 ev1 >/dev/null
until_ts=$(($(date +%s) + 1))
sleep 1.2
fmt='{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'
direct=$(dk 1 events --since "$since" --until "$until_ts" --filter container=ev1 --format "$fmt")
proxied=$(dp 1 events --since "$since" --until "$until_ts" --filter container=ev1 --format "$fmt")
[ -n "$direct" ] && [ "$direct" = "$proxied" ] || fail "docker events differ: direct [$direct] proxied [$proxied]"
dp 1 events --filter container=ev2 --format "$fmt" >"$d/events.txt" 2>&1 &
events_pid=$!
sleep 0.5
dp 1 "${RUN[@]}" -d --name ev2 "$LAB_IMAGE" sleep 3600 >/dev/null
dp 1 stop -t 1 ev2 >/dev/null
wait_until 10 grep -q 'container die ev2' "$d/events.txt" || fail "followed events: $(cat "$d/events.txt")"
kill "$events_pid" 2>/dev/null || true
wait "$events_pid" 2>/dev/null || true
grep -q 'container create ev2' "$d/events.txt" && grep -q 'container start ev2' "$d/events.txt" ||
  fail "followed events incomplete: $(cat "$d/events.txt")"
pass "docker events: bounded window identical ($(wc -l <<<"$direct") events); followed stream delivers create/start/die live"

# logs -f while the container writes: lines arrive as they are written, not at the end.
dp 1 "${RUN[@]}" -d --name writer "$LAB_IMAGE" sh -c 'for i in $(seq 1 40); do echo line $i; sleep 0.1; done' >/dev/null
dp 1 logs -f writer | while IFS= read -r line; do echo "$(date +%s%N) $line"; done >"$d/follow.txt"
first_ns=$(head -1 "$d/follow.txt" | cut -d' ' -f1)
last_ns=$(tail -1 "$d/follow.txt" | cut -d' ' -f1)
[ "$(wc -l <"$d/follow.txt")" = 40 ] || fail "logs -f gave $(wc -l <"$d/follow.txt") lines"
[ $(((last_ns - first_ns) / 1000000)) -gt 2000 ] || fail "logs -f lines arrived in one burst (not streamed)"
[ "$(cut -d' ' -f2- "$d/follow.txt")" = "$(dk 1 logs writer)" ] || fail "logs -f differs from direct logs"
pass "docker logs -f streams while the container writes ($(((last_ns - first_ns) / 1000000)) ms between first and last line), same lines as direct"

dp 1 stats --no-stream --format '{{.Name}}' box | grep -q '^box$' || fail "docker stats through the proxy"
pass "docker stats --no-stream through the proxy"

dp 1 rm -f box ev1 ev2 writer >/dev/null
check_logs 1
echo "PASS: proxy differential"
