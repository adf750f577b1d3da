#!/usr/bin/env bash
# Issue 18, fault 1, as it was found: nginx closes idle keep-alive connections after 5 s;
# wrk -c200 -d2s fills the proxy's idle pool, then one request every 0.5 s for 24 s keeps
# the proxy busy. Counts, for lbproxy and HAProxy on the same configuration, the sockets
# left in CLOSE-WAIT, the live upstream connections and the open files at the end.
# Loopback only; everything started here is stopped on exit.
# Usage: scripts/idle-pool-check.sh [path/to/lbproxy]
set -euo pipefail
cd "$(dirname "$0")/.."
LBPROXY=${1:-target/release/lbproxy}
for t in nginx haproxy wrk curl ss; do
    command -v "$t" >/dev/null || { echo "needs $t" >&2; exit 2; }
done
[ -x "$LBPROXY" ] || { echo "no $LBPROXY: cargo build --release -p bins" >&2; exit 2; }

work=$(mktemp -d /tmp/idle-pool.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

BE=18480 LB=18481 HA=18482
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 5s;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$BE; location / { return 200 "ok\n"; } }
}
EOF
nginx -c "$work/nginx.conf"

cfg() { # cfg PORT
    cat <<EOF
global
    maxconn 4000
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$1
    default_backend be
backend be
    server s1 127.0.0.1:$BE
EOF
}
cfg $LB >"$work/lb.cfg"
cfg $HA >"$work/ha.cfg"
"$LBPROXY" -f "$work/lb.cfg" 2>"$work/lb.log" & pids+=($!); lb_pid=$!
haproxy -db -f "$work/ha.cfg" 2>"$work/ha.log" & pids+=($!); ha_pid=$!
sleep 1

# upstream_state PID: "CLOSE-WAIT ESTABLISHED" counts of PID's sockets to the backend.
upstream_state() {
    local cw est
    cw=$(ss -Htnp state close-wait "dport = :$BE" | grep -c "pid=$1," || true)
    est=$(ss -Htnp state established "dport = :$BE" | grep -c "pid=$1," || true)
    echo "$cw $est"
}

run() { # run NAME PORT PID
    wrk -t2 -c200 -d2s "http://127.0.0.1:$2/" >/dev/null
    for _ in $(seq 48); do curl -s -o /dev/null "http://127.0.0.1:$2/"; sleep 0.5; done
    read -r cw est < <(upstream_state "$3")
    printf '%-8s close-wait %4s  established %4s  open files %4s\n' \
        "$1" "$cw" "$est" "$(ls /proc/"$3"/fd | wc -l)"
}
run lbproxy $LB "$lb_pid"
run haproxy $HA "$ha_pid"
