#!/usr/bin/env bash
# e2e: the seed scenario through the real docker CLI and ovsplane's own proxy (`ovsplane
# proxy`, adapter built in) on one host: run -d (wait before start), exec and run -i (hijacked
# connections), logs of 10,000 lines, errors printed by the CLI, rm -f cleanup.
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
lab_init proxy
host_up 1
CIDR=10.79.0.1/24
RUN=(run --pull=never)

dp 1 "${RUN[@]}" -d --name alpha -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null ||
  fail "docker run -d alpha through the proxy"
dp 1 "${RUN[@]}" -d --name bravo -e "SOCKETPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null ||
  fail "docker run -d bravo through the proxy"
pass "docker run -d through the proxy (OVSPLANE_CIDR and SOCKETPLANE_CIDR)"

net=$(dk 1 inspect -f '{{.Id}}' ovsplane-net-alpha)
[ "$(dp 1 inspect -f '{{.HostConfig.NetworkMode}}' alpha)" = "container:$net" ] ||
  fail "alpha's NetworkMode is not container:<network-only id>"
ip_a=$(dp 1 exec alpha ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)
ip_b=$(dp 1 exec bravo ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)
[ "$ip_a" = 10.79.0.2 ] && [ "$ip_b" = 10.79.0.3 ] || fail "addresses $ip_a $ip_b"
dp 1 exec alpha ping -c 2 -W 2 "$ip_b" >/dev/null || fail "alpha cannot ping bravo"
dp 1 exec bravo ping -c 2 -W 2 "$ip_a" >/dev/null || fail "bravo cannot ping alpha"
pass "docker exec ping both ways ($ip_a <-> $ip_b)"

dp 1 stop -t 1 alpha >/dev/null && dp 1 start alpha >/dev/null || fail "stop/start alpha"
dp 1 restart -t 1 bravo >/dev/null || fail "restart bravo"
dp 1 exec alpha ping -c 2 -W 2 "$ip_b" >/dev/null || fail "no connectivity after stop/start/restart"
[ "$(dp 1 exec bravo ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)" = "$ip_b" ] ||
  fail "bravo changed its address on restart"
pass "stop/start and restart through the proxy keep addresses and connectivity"

out=$(dp 1 "${RUN[@]}" --rm -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" ping -c 1 -W 2 "$ip_a")
grep -q '1 packets received' <<<"$out" || fail "docker run --rm output: $out"
# --rm removes the container without a DELETE through the proxy: Docker's events tell ovsplane.
wait_until 10 sh -c "[ \"\$('$OVSPLANE_BIN' endpoint ls --state-db unix:$(hdir 1)/state.sock | grep -c 10.79.0.0/24)\" = 2 ]" ||
  fail "the --rm container's address was not released"
out=$(seq 1 1000 | dp 1 "${RUN[@]}" -i --rm "$LAB_IMAGE" wc -l)
[ "$(echo $out)" = 1000 ] || fail "docker run -i with stdin: $out"
pass "docker run --rm (attach) and run -i with stdin through the proxy"

dp 1 "${RUN[@]}" -d --name logger "$LAB_IMAGE" seq 1 10000 >/dev/null
wait_until 20 sh -c "[ \"\$(docker -H unix://$(hdir 1)/docker.sock inspect -f '{{.State.Running}}' logger)\" = false ]"
direct=$(dk 1 logs logger | sha1sum)
proxied=$(dp 1 logs logger | sha1sum)
[ "$direct" = "$proxied" ] || fail "docker logs differ through the proxy"
[ "$(dp 1 logs logger | wc -l)" = 10000 ] || fail "docker logs lost lines"
[ "$(dp 1 ps -a --format '{{.Names}}' | sort)" = "$(dk 1 ps -a --format '{{.Names}}' | sort)" ] ||
  fail "docker ps differs through the proxy"
pass "logs of 10,000 lines and ps identical through the proxy"

err=$(dp 1 "${RUN[@]}" -d -p 8080:80 -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" true 2>&1) &&
  fail "port publishing with a CIDR was accepted"
grep -q 'ovsplane: port publishing' <<<"$err" || fail "the CLI did not print the ovsplane error: $err"
err=$(dp 1 "${RUN[@]}" -d -e "OVSPLANE_CIDR=10.79.0.1/33" "$LAB_IMAGE" true 2>&1) &&
  fail "a bad CIDR was accepted"
grep -q 'ovsplane: OVSPLANE_CIDR: invalid CIDR' <<<"$err" || fail "bad CIDR message: $err"
dp 1 "${RUN[@]}" -d --name tiny -e "OVSPLANE_CIDR=10.79.9.1/30" "$LAB_IMAGE" sleep 3600 >/dev/null ||
  fail "the one address of a /30"
err=$(dp 1 "${RUN[@]}" -d -e "OVSPLANE_CIDR=10.79.9.1/30" "$LAB_IMAGE" sleep 3600 2>&1) &&
  fail "an exhausted network accepted a container"
grep -q 'ovsplane: network 10.79.9.1/30 is exhausted' <<<"$err" || fail "exhausted message: $err"
[ "$(ovsplane 1 endpoint ls | grep -c 10.79.0.0/24)" = 2 ] || fail "refused runs kept addresses"
[ "$(ovsplane 1 endpoint ls | grep -c 10.79.9.0/30)" = 1 ] || fail "the exhausted run kept an address"
pass "the docker CLI prints ovsplane: errors (-p, bad CIDR, exhausted network); nothing allocated"

dp 1 rm -f alpha >/dev/null
dk 1 inspect ovsplane-net-alpha >/dev/null 2>&1 && fail "network-only container of alpha left behind"
[ "$(ovsplane 1 endpoint ls | grep -c 10.79.0.0/24)" = 1 ] || fail "alpha's address not released"
[ "$(vsctl 1 list-ports "$(vsctl 1 list-br | grep ovpbr | head -1)" | wc -l)" = 1 ] ||
  fail "alpha's OVS port left behind"
pass "docker rm -f through the proxy cleans up"

check_logs 1
echo "PASS: proxy single host"
