#!/usr/bin/env bash
# How a proxy's cost grows with its connections (issue 16): lbproxy against Debian's HAProxy
# with the same haproxy.cfg, on loopback, one proxy thread pinned to CPU 1 (the load and
# nginx on CPU 0).
#
# idle rows: N keep-alive connections, each after one request, held open by
#   scripts/idle-conns.py (plain HTTP and TLS, ECDSA P-256, TLS 1.3; 20 connections being
#   opened at a time): the RSS of a freshly started proxy, warmed up by 20 connections of
#   one request each (closed), before and while they are held (3 s after the last one was
#   opened), and the difference per connection; "anon" the same for RssAnon (heap and
#   stacks). Warmed up, because a proxy's first requests fault in the code pages that serve
#   them and build state kept for all connections, a cost that does not grow with N (it
#   was a third of lbproxy's figure at 1,000 connections, measured from a cold start).
#   Fresh, because memory freed by an earlier load stays in RSS and would hide what the
#   connections cost (a proxy warmed up by 256 busy connections showed HAProxy holding
#   5,000 idle ones in 0.1 kB each).
# active rows: wrk -t1 -cN for DUR seconds (keep-alive, 100-byte answers from nginx):
#   requests per second, requests per proxy CPU-second (utime+stime from /proc), p50/p99
#   latency and the proxy's RSS at the end of the run.
#
# Usage: scripts/bench-conns.sh [DURATION_SECONDS]   (default 10)
#   N values: IDLE_NS (default "1000 5000 MAX") and ACTIVE_NS (default "100 1000 5000 MAX"),
#   MAX being the most the hard file limit allows (each proxy holds a client and, HAProxy
#   at least, a server socket per connection: (limit - 240) / 2, 9880 under this sandbox's
#   20000, which cannot be raised without CAP_SYS_RESOURCE; 50,000 needs a limit of 100,240).
#   Writes the table to stdout, and with OUT=DIR also DIR/bench-conns-results.txt's data
#   (DIR/bench-conns.dat) and the plots DIR/bench-conns-idle.png, DIR/bench-conns-active.png
#   (gnuplot). Needs haproxy, nginx, wrk, python3, openssl, taskset, gnuplot (for plots);
#   LBPROXY=path overrides target/release/lbproxy.
set -euo pipefail

DUR=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LBPROXY=${LBPROXY:-${CARGO_TARGET_DIR:-$ROOT/target}/release/lbproxy}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
NGINX=${NGINX:-/usr/sbin/nginx}
PLAIN=18940
BE=18941
TLS=18942
TICKS=$(getconf CLK_TCK)

for t in "$LBPROXY" "$HAPROXY" "$NGINX" wrk taskset python3 openssl; do
    command -v "$t" >/dev/null 2>&1 || { echo "missing: $t" >&2; exit 1; }
done

ulimit -n "$(ulimit -Hn)"
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
MAX=$(( (HARD - 240) / 2 ))
expand() { local out=() n; for n in $1; do [ "$n" = MAX ] && n=$MAX; [ "$n" -le "$MAX" ] && out+=("$n"); done; echo "${out[@]}"; }
IDLE=$(expand "${IDLE_NS:-1000 5000 MAX}")
ACTIVE=$(expand "${ACTIVE_NS:-100 1000 5000 MAX}")

WORK=$(mktemp -d /tmp/bench-conns.XXXXXX)
PROXY_PID=
cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
worker_rlimit_nofile $HARD;
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections $((HARD - 100)); }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
    uwsgi_temp_path $WORK; scgi_temp_path $WORK;
    server { listen 127.0.0.1:$BE backlog=4096; location / { default_type text/plain; return 200 "$(head -c 100 /dev/zero | tr '\0' x)"; } }
}
NGX
taskset -c 0 "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" 2>/dev/null

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
    -keyout "$WORK/k.pem" -out "$WORK/c.pem" 2>/dev/null
cat "$WORK/c.pem" "$WORK/k.pem" > "$WORK/ecdsa.pem"
cat > "$WORK/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn $((MAX + 50))

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 120s
    timeout server 60s
    timeout http-keep-alive 120s

frontend plain
    bind 127.0.0.1:$PLAIN backlog 4096
    default_backend nginx

frontend tls
    bind 127.0.0.1:$TLS backlog 4096 ssl crt $WORK/ecdsa.pem alpn http/1.1
    default_backend nginx

backend nginx
    server n1 127.0.0.1:$BE
CFG

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
anon_kb() { awk '/RssAnon/ {print $2}' "/proc/$1/status"; }
to_ms() { # wrk latency value like 1.23ms / 456.00us / 1.01s
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else print v }'
}
# Waits (at most 90 s) until the TIME-WAIT sockets of a previous row are gone: thousands of
# them slow loopback connects and fill the ephemeral ports.
drain_time_wait() {
    for _ in $(seq 90); do
        [ "$(ss -tan state time-wait | wc -l)" -lt 200 ] && return
        sleep 1
    done
}

start_proxy() { # name
    if [ "$1" = haproxy ]; then
        taskset -c 1 "$HAPROXY" -db -f "$WORK/haproxy.cfg" 2>"$WORK/$1.log" &
    else
        RUST_LOG=warn taskset -c 1 "$LBPROXY" -f "$WORK/haproxy.cfg" 2>"$WORK/$1.log" &
    fi
    PROXY_PID=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$TLS") 2>/dev/null && break
        sleep 0.1
    done
    kill -0 "$PROXY_PID" 2>/dev/null || { echo "$1 failed to start:" >&2; cat "$WORK/$1.log" >&2; exit 1; }
    sleep 0.5
}

stop_proxy() {
    kill "$PROXY_PID"
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=
    sleep 0.5
}

# scripts/idle-conns.py on CPU 0: N connections to port $1, one request each (TLS when $3
# is tls), 20 being opened at a time, held until its stdin closes.
idle_conns() { # port n mode
    # shellcheck disable=SC2046
    IDLE_CONCURRENCY=20 taskset -c 0 python3 "$ROOT/scripts/idle-conns.py" 127.0.0.1 "$1" "$2" \
        $([ "$3" = tls ] && echo tls)
}

# One idle row: N connections held on port $3.
idle_row() { # name mode n
    local name=$1 mode=$2 n=$3 port=$PLAIN before after anon0 anon1 held fifo holder
    [ "$mode" = tls ] && port=$TLS
    # Warm-up: 20 connections (the holder's concurrency) each make one request and close.
    # A proxy's first requests fault in the code that serves them and build what it
    # keeps for all connections (buffer pools, lazily made state); that is not a cost of
    # holding connections, and it would count N times less in a row of N.
    idle_conns "$port" 20 "$mode" </dev/null >/dev/null 2>&1 || true
    sleep 2
    before=$(rss_kb "$PROXY_PID"); anon0=$(anon_kb "$PROXY_PID")
    fifo="$WORK/hold.fifo"; rm -f "$fifo"; mkfifo "$fifo"
    idle_conns "$port" "$n" "$mode" <"$fifo" >"$WORK/hold.out" 2>"$WORK/hold.err" &
    holder=$!
    exec 4>"$fifo"
    for _ in $(seq 1200); do grep -q ready "$WORK/hold.out" 2>/dev/null && break; sleep 0.1; done
    # 3 s: lbproxy parks a keep-alive connection idle for 1 s (no task: l7-proxy's
    # net/park.rs) and gives the memory parked connections freed back once a second.
    sleep 3
    after=$(rss_kb "$PROXY_PID"); anon1=$(anon_kb "$PROXY_PID")
    held=$(awk '/ready/ {print $2}' "$WORK/hold.out")
    exec 4>&-
    wait "$holder" 2>/dev/null || true
    local per='BEGIN { if (n > 0) printf "%.2f", (a - b) / n; else print "n/a" }'
    printf "%-8s %-6s %-6s %7s %9s %9s %9s %9s\n" "$name" "idle-$mode" "$n" "${held:-0}" "$before" "$after" \
        "$(awk -v a="$after" -v b="$before" -v n="${held:-0}" "$per")" \
        "$(awk -v a="$anon1" -v b="$anon0" -v n="${held:-0}" "$per")"
}

# One active row: wrk with N connections.
active_row() { # name n
    local name=$1 n=$2 c0 c1 out
    drain_time_wait
    c0=$(cpu_ticks "$PROXY_PID")
    out=$(taskset -c 0 wrk -t1 -c"$n" -d"${DUR}s" --timeout 10s --latency "http://127.0.0.1:$PLAIN/" 2>&1)
    c1=$(cpu_ticks "$PROXY_PID")
    local reqs rps p50 p99 errs
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
    printf "%-8s %-6s %-6s %9s %11s %8s %8s %9s %s\n" "$name" active "$n" "$rps" \
        "$(awk -v r="$reqs" -v c=$((c1 - c0)) -v t="$TICKS" 'BEGIN { if (c > 0) printf "%.0f", r / (c / t); else print "n/a" }')" \
        "$p50" "$p99" "$(rss_kb "$PROXY_PID")" "$errs"
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPUs, $(uname -r), hard file limit $HARD; $(haproxy -v | head -1); lbproxy $(git -C "$ROOT" rev-parse --short HEAD); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# proxy  row    N        held  before kB  with kB  kB/conn  anon kB/conn"
IDLE_OUT=$WORK/idle.txt ACTIVE_OUT=$WORK/active.txt
: >"$IDLE_OUT"; : >"$ACTIVE_OUT"
for mode in plain tls; do
    for n in $IDLE; do
        for name in haproxy lbproxy; do
            start_proxy "$name"
            idle_row "$name" "$mode" "$n" | tee -a "$IDLE_OUT"
            stop_proxy
        done
    done
done
echo "# proxy  row    N          req/s  req/cpu-s   p50 ms   p99 ms    RSS kB"
for name in haproxy lbproxy; do
    start_proxy "$name"
    taskset -c 0 wrk -t1 -c256 -d2s "http://127.0.0.1:$PLAIN/" >/dev/null # warm-up
    for n in $ACTIVE; do active_row "$name" "$n" | tee -a "$ACTIVE_OUT"; done
    stop_proxy
done

echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${OUT:-}" ] || exit 0
command -v gnuplot >/dev/null || { echo "no gnuplot: no plots" >&2; exit 0; }
# Data blocks for gnuplot: one per proxy and mode, "N value".
{
    for name in haproxy lbproxy; do for mode in plain tls; do
        echo "# $name idle-$mode: N kB/conn"
        awk -v p="$name" -v m="idle-$mode" '$1 == p && $2 == m { print $3, $7 }' "$IDLE_OUT"
        printf "\n\n"
    done; done
    for name in haproxy lbproxy; do
        echo "# $name active: N req/cpu-s p99-ms"
        awk -v p="$name" '$1 == p { print $3, $5, $7 }' "$ACTIVE_OUT"
        printf "\n\n"
    done
} >"$OUT/bench-conns.dat"
gnuplot <<GP
set terminal pngcairo size 900,520 font "sans,11"
set grid
set key top left
set logscale x
set xlabel "connections held (each after one request)"
set ylabel "proxy RSS per idle connection, kB"
set yrange [0:*]
set title "Idle keep-alive connections: memory per connection (lower is better)"
set output "$OUT/bench-conns-idle.png"
plot "$OUT/bench-conns.dat" index 0 using 1:2 with linespoints lw 2 lc rgb "#c0392b" title "HAProxy, plain", \
     "" index 1 using 1:2 with linespoints lw 2 dt 2 lc rgb "#c0392b" title "HAProxy, TLS", \
     "" index 2 using 1:2 with linespoints lw 2 lc rgb "#2471a3" title "lbproxy, plain", \
     "" index 3 using 1:2 with linespoints lw 2 dt 2 lc rgb "#2471a3" title "lbproxy, TLS"
set output "$OUT/bench-conns-active.png"
set multiplot layout 1,2 title "Busy keep-alive connections (wrk -t1 -cN, one proxy thread)"
set xlabel "concurrent connections"
set ylabel "requests per proxy CPU-second (higher is better)"
set title ""
plot "$OUT/bench-conns.dat" index 4 using 1:2 with linespoints lw 2 lc rgb "#c0392b" title "HAProxy", \
     "" index 5 using 1:2 with linespoints lw 2 lc rgb "#2471a3" title "lbproxy"
set ylabel "p99 latency, ms (lower is better)"
plot "$OUT/bench-conns.dat" index 4 using 1:3 with linespoints lw 2 lc rgb "#c0392b" title "HAProxy", \
     "" index 5 using 1:3 with linespoints lw 2 lc rgb "#2471a3" title "lbproxy"
unset multiplot
GP
echo "# plots: $OUT/bench-conns-idle.png $OUT/bench-conns-active.png"
