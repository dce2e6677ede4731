#!/usr/bin/env bash
# e2e: the pool of started network-only containers (--network-pool, issue 17) on one host behind
# `ovsplane proxy`: the pool fills; `docker run` claims a pooled container (renamed after the
# app, the app carrying its network, address and MAC as labels), the pool refills and the apps
# ping; a hostname moves to a created one instead; `docker rm` by id leaves the pool full and no
# address held; an ovsplane restart adopts the same ready containers (none created); a dockerd
# restart stops them and the pool replaces them while a --restart always app comes back wired;
# the leak checker holds after each step. The lifecycle scenario's kill -9 sweep also runs with a
# pool (e2e.lifecycle_pool).
. "$(dirname "$0")/lib.sh"
OVP_MODE=proxy
OVP_POOL=${OVP_POOL:-3}
OVP_FLAGS=${OVP_FLAGS:-"--gc-grace 3 --reconcile-interval 2"}
lab_init pool
host_up 1
daemons_save 1
d=$(hdir 1)
CIDR=10.87.0.1/24

pooled_ready() {  # running pooled containers no app claims
  local all claimed
  all=$(dk 1 ps --no-trunc --filter label=ovsplane.pool=1 --format '{{.ID}} {{.Label "ovsplane.endpoint"}}' | sort)
  claimed=$(dk 1 ps -a --no-trunc --filter label=ovsplane.endpoint --format '{{.Label "ovsplane.endpoint"}} {{.Label "ovsplane.role"}}' |
    awk '$2 == "" {print $1}')
  awk 'NR == FNR {c[$1] = 1; next} !($2 in c) {print $1}' <(echo "$claimed") <(echo "$all")
}
pool_full() { [ "$(pooled_ready | grep -c .)" = "$OVP_POOL" ]; }
metric() { curl -s --unix-socket "$d/adapter.sock" http://adapter/metrics | awk -v m="$1" '$1 == m {print $2}'; }
net_of() { dk 1 inspect -f '{{.HostConfig.NetworkMode}}' "$1" | sed 's/^container://'; }

wait_until 30 pool_full || fail "the pool did not fill to $OVP_POOL: $(pooled_ready | wc -l) ready"
[ "$(metric ovsplane_pool_ready)" = "$OVP_POOL" ] || fail "ovsplane_pool_ready is $(metric ovsplane_pool_ready)"
first=$(pooled_ready)
pass "the pool holds $OVP_POOL started network-only containers"

dp 1 run --pull=never -d --name pa -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run pa"
dp 1 run --pull=never -d --name pb -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null || fail "docker run pb"
for app in pa pb; do
  net=$(net_of "$app")
  grep -qx "$net" <<<"$first" || fail "$app's network-only container $net did not come from the pool"
  # renamed by the pool's thread, off the attach's path
  wait_until 5 sh -c "[ \"\$(docker -H unix://$d/docker.sock inspect -f '{{.Name}}' $net)\" = /ovsplane-net-$app ]" ||
    fail "$app's network-only container is not named ovsplane-net-$app: $(dk 1 inspect -f '{{.Name}}' "$net")"
  ip=$(dk 1 inspect -f '{{index .Config.Labels "ovsplane.ip"}}' "$app")
  [ "$(container_ip 1 "$app")" = "$ip" ] || fail "$app: eth0 has $(container_ip 1 "$app"), its label $ip"
done
dk 1 exec pa ping -c 2 -W 2 "$(container_ip 1 pb)" >/dev/null || fail "pa cannot ping pb"
[ "$(metric ovsplane_attach_pooled_total)" = 2 ] || fail "ovsplane_attach_pooled_total is $(metric ovsplane_attach_pooled_total)"
wait_until 20 pool_full || fail "the pool did not refill"
check_no_leaks 1 2
pass "two runs claimed pooled containers (renamed, labelled), they ping, the pool refilled"

dp 1 run --pull=never -d --name ph --hostname db1 -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null ||
  fail "docker run --hostname"
net=$(net_of ph)
[ -z "$(dk 1 inspect -f '{{index .Config.Labels "ovsplane.pool"}}' "$net")" ] || fail "a pooled container took a hostname"
[ "$(dk 1 exec ph hostname)" = db1 ] || fail "ph's hostname is $(dk 1 exec ph hostname)"
[ "$(metric ovsplane_attach_pooled_total)" = 2 ] || fail "the --hostname run was counted as pooled"
pass "a run with --hostname gets a network-only container of its own"

id=$(dk 1 inspect -f '{{.Id}}' pa)
dp 1 rm -f "$id" >/dev/null || fail "docker rm -f by id"
wait_until 10 sh -c "! docker -H unix://$d/docker.sock inspect ovsplane-net-pa >/dev/null 2>&1" ||
  fail "pa's network-only container is still there"
check_no_leaks 1 2
pool_full || fail "the pool is not full after the rm"
pass "docker rm -f by id removes the claimed container and its address; the pool stays full"

before=$(pooled_ready | sort)
daemon_stop 1 adapter
daemon_start 1 adapter
wait_until 30 adapter_ready 1 || fail "ovsplane did not come back"
wait_until 20 pool_full || fail "the pool is not full after an ovsplane restart"
[ "$(pooled_ready | sort)" = "$before" ] || fail "the restart replaced ready containers instead of adopting them"
grep -q 'pool: adopted' "$d/adapter.log" || fail "no adoption logged"
dk 1 exec pb ping -c 1 -W 2 "$(container_ip 1 ph)" >/dev/null || fail "pb cannot ping ph after the restart"
check_no_leaks 1 2
pass "an ovsplane restart adopts the $OVP_POOL ready containers (none created)"

dp 1 run --pull=never -d --name pr --restart always -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null ||
  fail "docker run --restart always"
wait_until 20 pool_full || fail "the pool did not refill before the dockerd restart"
before=$(pooled_ready | sort)
daemon_stop 1 dockerd
daemon_start 1 dockerd
wait_until 60 dockerd_ready 1 || fail "dockerd did not come back"
wait_until 60 sh -c "[ \"\$(docker -H unix://$d/docker.sock inspect -f '{{.State.Running}}' pr)\" = true ]" ||
  fail "pr (--restart always) did not come back"
wait_until 30 sh -c "docker -H unix://$d/docker.sock exec pr ping -c 1 -W 1 $(dk 1 inspect -f '{{index .Config.Labels "ovsplane.network"}}' pr | cut -d/ -f1) >/dev/null" ||
  fail "pr does not reach its gateway after the dockerd restart"
wait_until 40 pool_full || fail "the pool was not refilled after the dockerd restart"
[ -z "$(comm -12 <(echo "$before") <(pooled_ready | sort))" ] || fail "stopped pooled containers were kept"
# a claimed one (ovsplane-net-pb: its app has no restart policy and stays stopped) is pb's to keep
stopped_unclaimed() {
  dk 1 ps -a --filter label=ovsplane.pool=1 --filter status=exited --format '{{.Names}} {{.Label "ovsplane.endpoint"}}' |
    awk '$1 == "ovsplane-net-" $2 {print $1}'
}
[ "$(dk 1 inspect -f '{{.State.Running}}' ovsplane-net-pb)" = false ] || fail "pb's claimed container should be stopped with pb"
none_stopped_unclaimed() { [ -z "$(stopped_unclaimed)" ]; }
wait_until 20 none_stopped_unclaimed ||
  fail "stopped pooled containers were not removed: $(stopped_unclaimed)"
check_no_leaks 1 3
dp 1 start pb >/dev/null || fail "docker start pb (its claimed container stopped with it)"
wait_until 20 sh -c "docker -H unix://$d/docker.sock exec pb ping -c 1 -W 1 $(container_ip 1 pr) >/dev/null" ||
  fail "pb does not reach pr after docker start"
pass "after a dockerd restart pr is back and wired, the pool replaced its stopped containers, docker start pb works"

for app in pb ph pr; do dp 1 rm -f "$app" >/dev/null || fail "docker rm -f $app"; done
check_no_leaks 1 0
[ "$(ovsplane 1 endpoint ls | grep -c '^10\.87\.')" = 0 ] || fail "addresses are left"
check_logs 1
pass "all removed: no address, port or veth left; only the pool's $OVP_POOL containers remain"
echo "PASS: pool"
