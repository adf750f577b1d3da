#!/usr/bin/env bash
# Instructions per HTTP/2 request in lbproxy, counted by callgrind: repeatable (no timing,
# so no bench lock needed) where the CPU-second figures of bench-proxy.sh move by 10-15%
# from run to run.
#
# The setup is bench-proxy.sh's h2 row, shrunk: nginx serves a 100-byte body on two ports,
# lbproxy (1 thread, ECDSA P-256 certificate, alpn h2,http/1.1, roundrobin over the two)
# runs under `valgrind --tool=callgrind`, and h2load drives it over TLS with C connections
# of 10 streams each (-m 10). After a warm-up run (server pool, buffers, lazy statics) the
# counters are zeroed, then two measured runs with the same connection count, SMALL and N
# requests, are dumped apart: their difference holds the same handshakes and connection
# setups, so (Ir(N) - Ir(SMALL)) / (N - SMALL) is the cost of a request alone.
#
# Prints Ir per request, then the top functions of the N run, exclusive and inclusive
# (callgrind_annotate), each with its Ir per request. The N run's profile is kept in
# $OUT (default callgrind-h2.out in the current directory) for callgrind_annotate, and
# lbproxy's and valgrind's output in $OUT.log.
#
# Usage: scripts/callgrind-h2.sh
#   N=20000 SMALL=4000 C=10 TOP=30 OUT=path LBPROXY=path
# Needs valgrind, h2load (nghttp2-client), nginx, openssl. Build lbproxy with symbols:
#   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release -p bins --bin lbproxy
set -euo pipefail

N=${N:-20000}
SMALL=${SMALL:-4000}
C=${C:-10}
TOP=${TOP:-30}
OUT=${OUT:-$PWD/callgrind-h2.out}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LBPROXY=${LBPROXY:-${CARGO_TARGET_DIR:-$ROOT/target}/release/lbproxy}
NGINX=${NGINX:-/usr/sbin/nginx}
# Ports from the pid, so two runs on one machine (or a bench-proxy.sh run) do not collide;
# below the kernel's ephemeral range (32768 and up), where a client socket may hold one.
BASE=$((20000 + ($$ % 3000) * 4))
FE=$BASE BE1=$((BASE + 1)) BE2=$((BASE + 2))

for t in "$LBPROXY" "$NGINX" valgrind callgrind_control callgrind_annotate h2load openssl; do
    command -v "$t" >/dev/null 2>&1 || { echo "missing: $t" >&2; exit 1; }
done
[ "$N" -gt "$SMALL" ] || { echo "N ($N) must be above SMALL ($SMALL)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/callgrind-h2.XXXXXX)
VG=
cleanup() {
    [ -n "$VG" ] && kill "$VG" 2>/dev/null && wait "$VG" 2>/dev/null
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

BODY=$(head -c 100 /dev/zero | tr '\0' 'x')
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx.conf" <<NGX
worker_processes 1;
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $WORK/nginx;
    proxy_temp_path $WORK/nginx;
    fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx;
    scgi_temp_path $WORK/nginx;
    server {
        listen 127.0.0.1:$BE1;
        listen 127.0.0.1:$BE2;
        location / { default_type text/plain; return 200 "$BODY"; }
    }
}
NGX
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" 2>"$WORK/nginx.out" || { cat "$WORK/nginx.out" >&2; exit 1; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
    -keyout "$WORK/ecdsa.key" -out "$WORK/ecdsa.crt" 2>/dev/null
cat "$WORK/ecdsa.crt" "$WORK/ecdsa.key" >"$WORK/ecdsa.pem"
cat >"$WORK/h2.cfg" <<CFG
global
    nbthread 1
    maxconn 200

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 30s
    timeout http-keep-alive 60s

frontend tls_ecdsa
    bind 127.0.0.1:$FE ssl crt $WORK/ecdsa.pem alpn h2,http/1.1
    default_backend nginx_http

backend nginx_http
    balance roundrobin
    server n1 127.0.0.1:$BE1
    server n2 127.0.0.1:$BE2
CFG

RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
    "$LBPROXY" -f "$WORK/h2.cfg" 2>"$WORK/valgrind.log" &
VG=$!
for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$FE") 2>/dev/null && break
    kill -0 "$VG" 2>/dev/null || { cat "$WORK/valgrind.log" >&2; exit 1; }
    sleep 0.1
done

load() { # requests
    local out
    out=$(h2load -n "$1" -c "$C" -m 10 "https://127.0.0.1:$FE/" 2>&1)
    local ok
    ok=$(awk '/^requests:/ {print $8}' <<<"$out")
    if [ "$ok" != "$1" ]; then
        echo "h2load: $ok of $1 requests succeeded:" >&2
        echo "$out" >&2
        exit 1
    fi
}
# Total Ir of a dump (its "summary:" or "totals:" line).
ir_of() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }

load 2000
callgrind_control -z "$VG" >/dev/null 2>&1
load "$SMALL"
callgrind_control -d "$VG" >/dev/null 2>&1
load "$N"
callgrind_control -d "$VG" >/dev/null 2>&1
small=$(ls "$WORK"/cg.out.*1 2>/dev/null | head -1)
big=$(ls "$WORK"/cg.out.*2 2>/dev/null | head -1)
[ -n "$small" ] && [ -n "$big" ] || { echo "callgrind dumps missing:" >&2; ls "$WORK" >&2; exit 1; }
cp "$big" "$OUT"
cp "$WORK/valgrind.log" "$OUT.log"

ir_small=$(ir_of "$small")
ir_big=$(ir_of "$big")
awk -v a="$ir_small" -v b="$ir_big" -v s="$SMALL" -v n="$N" -v c="$C" 'BEGIN {
    printf "lbproxy h2: %.0f Ir per request  ((%d - %d) / (%d - %d) requests; -c %d -m 10)\n",
        (b - a) / (n - s), b, a, n, s, c }'
echo "profile of the $N-request run (with its $C handshakes): $OUT"

# callgrind_annotate's rows with an Ir-per-request column (over N; the handshakes' share
# shows in the TLS key-exchange and signature functions).
# Rows at 100% but the total are the frames on the stack when the counters were dumped
# (main, the runtime's loop): left out.
per_req() {
    awk -v n="$N" -v top="$TOP" '
        /^ *[0-9,]+ +\(/ && k < top {
            v = $1; gsub(",", "", v)
            if (/PROGRAM TOTALS/) total = v; else if (v == total) next
            printf "%8.0f  %s\n", v / n, $0; k++ }' | cut -c1-220
}
echo
echo "== exclusive (self) Ir, per request of the N run =="
callgrind_annotate --threshold=100 "$OUT" 2>/dev/null | per_req
echo
echo "== inclusive Ir, per request of the N run =="
callgrind_annotate --inclusive=yes --threshold=100 "$OUT" 2>/dev/null | per_req
