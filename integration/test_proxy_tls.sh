#!/usr/bin/env bash
# e2e: `ovsplane proxy` on TCP with TLS and client-certificate verification (dockerd's
# --tlsverify model), driven by the real docker CLI with --tlsverify: version, run -d with a
# CIDR, exec (a hijacked connection through TLS), run -i with stdin (half-close through TLS),
# logs of 10,000 lines identical to direct. Refused: a client without a certificate, a client
# whose certificate another CA signed, plain HTTP. Certificates are made here with openssl.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || skip "missing command: openssl"
OVP_MODE=proxy
lab_init tls
d=$(hdir 1)
pki_ca ca
pki_ca other-ca
t=$(pki_dir)
pki_cert server ca /CN=localhost 'subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth'
pki_cert client ca /CN=client 'extendedKeyUsage=clientAuth'
pki_cert stranger other-ca /CN=stranger 'extendedKeyUsage=clientAuth'

err=$("$OVSPLANE_BIN" proxy --proxy-listen "unix:$t/x.sock" --tls-cert "$t/server.pem" 2>&1) &&
  fail "a certificate without its key was accepted"
grep -q 'TLS needs --tls-cert and --tls-key together' <<<"$err" || fail "unclear TLS flag error: $err"

OVP_FLAGS="--proxy-listen tcp:127.0.0.1:2376 --tls-cert $t/server.pem --tls-key $t/server-key.pem --tls-ca $t/ca.pem" host_up 1
dt() { hx 1 docker -H tcp://127.0.0.1:2376 --tlsverify --tlscacert "$t/ca.pem" --tlscert "$t/client.pem" --tlskey "$t/client-key.pem" "$@"; }
wait_until 10 dt version || fail "the TLS proxy did not answer"
grep -q 'Docker API proxy on tcp:127.0.0.1:2376 (TLS, client certificates verified)' "$d/adapter.log" ||
  fail "the log does not say TLS is on"
[ "$(dt version --format '{{.Server.Version}}')" = "$(dk 1 version --format '{{.Server.Version}}')" ] ||
  fail "docker version differs over TLS"
pass "docker --tlsverify version through the TLS proxy"

CIDR=10.87.0.1/24
dt run --pull=never -d --name alpha -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null || fail "run -d alpha over TLS"
dt run --pull=never -d --name bravo -e "OVSPLANE_CIDR=$CIDR" "$LAB_IMAGE" sleep 3600 >/dev/null || fail "run -d bravo over TLS"
ip_b=$(dt exec bravo ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)
dt exec alpha ping -c 2 -W 2 "$ip_b" >/dev/null || fail "exec ping over TLS"
out=$(seq 1 1000 | dt run --pull=never -i --rm "$LAB_IMAGE" wc -l)
[ "$(echo $out)" = 1000 ] || fail "run -i with stdin over TLS: $out"
dt run --pull=never -d --name logger "$LAB_IMAGE" seq 1 10000 >/dev/null
wait_until 20 sh -c "[ \"\$(docker -H unix://$d/docker.sock inspect -f '{{.State.Running}}' logger)\" = false ]"
[ "$(dt logs logger | sha1sum)" = "$(dk 1 logs logger | sha1sum)" ] || fail "logs differ over TLS"
pass "over TLS: run -d with a CIDR, exec ping ($ip_b), run -i with 1,000 lines of stdin, 10,000 log lines identical"

hx 1 docker -H tcp://127.0.0.1:2376 --tls --tlscacert "$t/ca.pem" version >/dev/null 2>&1 &&
  fail "a client without a certificate was served"
hx 1 docker -H tcp://127.0.0.1:2376 --tlsverify --tlscacert "$t/ca.pem" --tlscert "$t/stranger.pem" \
  --tlskey "$t/stranger-key.pem" version >/dev/null 2>&1 && fail "a certificate of another CA was accepted"
hx 1 curl -s --max-time 5 http://127.0.0.1:2376/_ping | grep -q OK && fail "plain HTTP was served on the TLS port"
dt ps >/dev/null || fail "the proxy stopped serving after refused clients"
pass "refused: no client certificate, a certificate of another CA, plain HTTP; verified clients still served"

dt rm -f alpha bravo logger >/dev/null
check_logs 1
echo "PASS: proxy TLS"
