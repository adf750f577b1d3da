#!/usr/bin/env bash
# How a proxy's cost grows with its configuration (issue 16): lbproxy against Debian's
# HAProxy, with 10, 1,000 and 10,000 servers, each health-checked (HTTP GET) every 2 s.
# One proxy thread pinned to CPU 1; nginx (the servers: one nginx on port $BE answers on
# every 127.x.y.z address, so each server has its own address) and the load on CPU 0.
#
# Per row:
#   start ms   from exec to the frontend answering a request
#   checks     the proxy's CPU (utime+stime) over CHECK_SECONDS with no traffic: the cost of
#              the health checks, as % of one core and microseconds per check
#   RSS kB     the proxy's RSS after that
#   reload ms  from the reload signal (SIGUSR2 to HAProxy's master, -W; SIGHUP to lbproxy)
#              to the first answer carrying the new configuration's response header
#   lost       requests that failed (socket errors, non-2xx) out of a wrk -c16 load that runs
#              across the reload
#
# Usage: scripts/bench-config.sh   (SERVERS="10 1000 10000", CHECK_SECONDS=20; OUT=DIR
#   writes DIR/bench-config.dat and the plot DIR/bench-config.png). Needs haproxy, nginx,
#   wrk, curl, taskset; LBPROXY=path overrides target/release/lbproxy.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LBPROXY=${LBPROXY:-${CARGO_TARGET_DIR:-$ROOT/target}/release/lbproxy}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
NGINX=${NGINX:-/usr/sbin/nginx}
FE=18970 BE=18971
SERVERS=${SERVERS:-10 1000 10000}
CHECK_SECONDS=${CHECK_SECONDS:-20}
TICKS=$(getconf CLK_TCK)
for t in "$LBPROXY" "$HAPROXY" "$NGINX" wrk curl taskset; do
    command -v "$t" >/dev/null 2>&1 || { echo "missing: $t" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/bench-config.XXXXXX)
PROXY_PID=
cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
worker_rlimit_nofile 20000;
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 16000; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
    uwsgi_temp_path $WORK; scgi_temp_path $WORK;
    server { listen $BE backlog=4096; location / { return 200 "ok"; } }
}
NGX
taskset -c 0 "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" 2>/dev/null

write_cfg() { # servers generation
    {
        cat <<CFG
global
    nbthread 1
    maxconn 2000

defaults
    mode http
    option http-keep-alive
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s

frontend web
    bind 127.0.0.1:$FE
    http-response set-header X-Generation $2
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /
CFG
        # Server i on 127.1.(i / 250).(i % 250 + 1).
        awk -v n="$1" -v p="$BE" 'BEGIN { for (i = 0; i < n; i++)
            printf "    server s%d 127.1.%d.%d:%d check inter 2s\n", i, int(i / 250), i % 250 + 1, p }'
    } >"$WORK/haproxy.cfg"
}

now_ms() { date +%s%3N; }
generation() { curl -s -m 1 -o /dev/null -D - "http://127.0.0.1:$FE/" 2>/dev/null | tr -d '\r' | awk -F': ' 'tolower($1) == "x-generation" { print $2 }'; }

row() { # proxy servers
    local name=$1 n=$2 t0 t1 c0 c1 start reload out errs reqs rss
    write_cfg "$n" 1
    t0=$(now_ms)
    if [ "$name" = haproxy ]; then
        taskset -c 1 "$HAPROXY" -W -db -f "$WORK/haproxy.cfg" 2>"$WORK/proxy.log" &
    else
        RUST_LOG=warn taskset -c 1 "$LBPROXY" -f "$WORK/haproxy.cfg" 2>"$WORK/proxy.log" &
    fi
    PROXY_PID=$!
    for _ in $(seq 3000); do [ "$(generation)" = 1 ] && break; sleep 0.01; done
    t1=$(now_ms)
    [ "$(generation)" = 1 ] || { echo "$name did not start:" >&2; tail "$WORK/proxy.log" >&2; exit 1; }
    start=$((t1 - t0))
    sleep 3 # the first round of checks spread over the interval
    # Checks: all processes of the proxy (HAProxy -W: master and worker).
    local pids
    pids=$(pgrep -d ' ' -f "$WORK/haproxy.cfg")
    c0=$(for p in $pids; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{ s += $1 } END { print s }')
    sleep "$CHECK_SECONDS"
    c1=$(for p in $pids; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{ s += $1 } END { print s }')
    rss=$(for p in $pids; do awk '/VmRSS/ {print $2}' "/proc/$p/status"; done | awk '{ s += $1 } END { print s }')
    # Reload under load.
    write_cfg "$n" 2
    taskset -c 0 wrk -t1 -c16 -d6s "http://127.0.0.1:$FE/" >"$WORK/wrk.out" 2>&1 &
    local wrk=$!
    sleep 2
    t0=$(now_ms)
    if [ "$name" = haproxy ]; then kill -USR2 "$PROXY_PID"; else kill -HUP "$PROXY_PID"; fi
    for _ in $(seq 6000); do [ "$(generation)" = 2 ] && break; sleep 0.005; done
    t1=$(now_ms)
    reload=$((t1 - t0))
    [ "$(generation)" = 2 ] || reload="n/a"
    wait "$wrk" || true
    reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
    errs=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 } /Non-2xx/ { print $NF }' "$WORK/wrk.out" |
        awk '{ s += $1 } END { print s + 0 }')
    awk -v p="$name" -v n="$n" -v st="$start" -v c=$((c1 - c0)) -v t="$TICKS" -v d="$CHECK_SECONDS" \
        -v rss="$rss" -v rl="$reload" -v l="$errs" -v r="$reqs" 'BEGIN {
        cpu = c / t; checks = n * d / 2;
        printf "%-8s %6d %9d %8.1f %10.1f %9d %9s %6d/%d\n", p, n, st, 100 * cpu / d, 1e6 * cpu / checks, rss, rl, l, r }'
    kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=
    sleep 1
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPUs, $(uname -r); $(haproxy -v | head -1); lbproxy $(git -C "$ROOT" rev-parse --short HEAD); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# proxy  servers  start ms  checks %  us/check    RSS kB reload ms  lost/requests"
ROWS=$WORK/rows.txt
: >"$ROWS"
for n in $SERVERS; do
    for name in haproxy lbproxy; do row "$name" "$n" | tee -a "$ROWS"; done
done
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

[ -n "${OUT:-}" ] || exit 0
command -v gnuplot >/dev/null || { echo "no gnuplot: no plot" >&2; exit 0; }
{
    for name in haproxy lbproxy; do
        echo "# $name: servers start-ms checks-% RSS-kB reload-ms"
        awk -v p="$name" '$1 == p { print $2, $3, $4, $6, $7 }' "$ROWS"
        printf "\n\n"
    done
} >"$OUT/bench-config.dat"
gnuplot <<GP
set terminal pngcairo size 1200,800 font "sans,10"
set output "$OUT/bench-config.png"
set multiplot layout 2,2 title "Configuration size: N servers, each checked every 2 s (lower is better)"
set grid
set logscale x
set xlabel "servers"
set key top left
set ylabel "CPU of the checks, % of one core"
plot "$OUT/bench-config.dat" index 0 using 1:3 with linespoints lw 2 lc rgb "#c0392b" title "HAProxy", "" index 1 using 1:3 with linespoints lw 2 lc rgb "#2471a3" title "lbproxy"
set ylabel "RSS, kB"
plot "$OUT/bench-config.dat" index 0 using 1:4 with linespoints lw 2 lc rgb "#c0392b" title "HAProxy", "" index 1 using 1:4 with linespoints lw 2 lc rgb "#2471a3" title "lbproxy"
set ylabel "start, ms"
plot "$OUT/bench-config.dat" index 0 using 1:2 with linespoints lw 2 lc rgb "#c0392b" title "HAProxy", "" index 1 using 1:2 with linespoints lw 2 lc rgb "#2471a3" title "lbproxy"
set ylabel "reload under load, ms"
plot "$OUT/bench-config.dat" index 0 using 1:5 with linespoints lw 2 lc rgb "#c0392b" title "HAProxy", "" index 1 using 1:5 with linespoints lw 2 lc rgb "#2471a3" title "lbproxy"
unset multiplot
GP
echo "# plot: $OUT/bench-config.png"
