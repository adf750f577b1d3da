#!/usr/bin/env bash
# Benchmark lbproxy against Debian's HAProxy with the same haproxy.cfg, on loopback only.
#
# nginx serves a 100-byte body on two ports (the backend servers); wrk drives the proxy
# (-t1 -c64 --latency). The proxy is pinned with taskset: 1 thread on CPU 1 (wrk and nginx
# on CPU 0), 2 threads on CPUs 0-1. Reported per run: req/s, requests per proxy CPU-second
# (utime+stime of the proxy process from /proc), p50/p99 latency, peak RSS (VmHWM), and how
# idle each CPU was (from /proc/stat): with 1 thread, CPU 1 is the proxy's and CPU 0 the
# load's (wrk + nginx), so the idle columns say which side was the bottleneck. usr/sys are
# the proxy's user and kernel CPU time per request in microseconds: with the same syscalls
# on both sides, sys is mostly the kernel's TCP work, which no proxy can make smaller.
#
# Usage: scripts/bench-proxy.sh [DURATION_SECONDS] [SUITE...]
#   SUITE http (the default): keep-alive, close and TCP mode, 1 and 2 threads.
#   SUITE tls: 1 thread, TLS termination: full handshakes per proxy CPU-second with the
#   session forgotten by the client (wrk closes each connection and never resumes), for
#   ECDSA P-256 and RSA-2048 certificates; TLS keep-alive; HTTP/2 with h2load (ALPN h2,
#   -m 10 streams per connection); then 10,000 idle TLS connections (each after one
#   request) held by scripts/idle-conns.py, with the proxy's RSS before and while they are
#   held (idle10k rows: RSS MiB is the total, usr us the kB per connection; fewer than
#   10,000 where the hard file limit is below 20,240, as both proxies need 2 per connection).
# Needs haproxy, nginx, wrk, taskset; tls also h2load (nghttp2-client), openssl, python3.
# CONNS=N sets wrk's connection count (default 64, as the issue's layout).
# TLS_ROWS="h2 hs-ecdsa" runs only those TLS rows (default: tls-ka h2 hs-ecdsa hs-rsa idle10k);
# ROUNDS=N runs the TLS suite N times, HAProxy and lbproxy alternating.
# TLS_GLOBAL="LINE" adds LINE to the TLS suite's global section for both proxies, e.g.
#   TLS_GLOBAL="ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
#   (Mozilla's intermediate order) instead of each one's default (both put AES-256/SHA-384
#   first: rustls' order and OpenSSL's).
# PERF=DIR records a profile of the proxy during each row (perf record -g, DIR/perf.NAME.ROW.data;
#   the row's own figures then include perf's cost: for looking, not for quoting).
# LBPROXY=path overrides the lbproxy binary (default: target/release/lbproxy; build it with
# `cargo build --release -p bins`).
set -euo pipefail

DUR=${1:-10}
shift || true
SUITES=("${@:-http}")
CONNS=${CONNS:-64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LBPROXY=${LBPROXY:-${CARGO_TARGET_DIR:-$ROOT/target}/release/lbproxy}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
NGINX=${NGINX:-/usr/sbin/nginx}
FE_PORT=18900
TCP_PORT=18910
TLS_ECDSA=18920
TLS_RSA=18921
BE1=18901
BE2=18902
TICKS=$(getconf CLK_TCK)

for t in "$LBPROXY" "$HAPROXY" "$NGINX" wrk taskset; do
    command -v "$t" >/dev/null 2>&1 || { echo "missing: $t" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/bench-proxy.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

BODY=$(head -c 100 /dev/zero | tr '\0' 'x')
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
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
taskset -c 0 "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" 2>/dev/null

write_cfg() { # threads
    cat > "$WORK/haproxy-$1.cfg" <<CFG
global
    nbthread $1
    maxconn 4000

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s

frontend bench_http
    bind 127.0.0.1:$FE_PORT
    default_backend nginx_http

backend nginx_http
    balance roundrobin
    server n1 127.0.0.1:$BE1
    server n2 127.0.0.1:$BE2

frontend bench_tcp
    mode tcp
    bind 127.0.0.1:$TCP_PORT
    default_backend nginx_tcp

backend nginx_tcp
    mode tcp
    balance roundrobin
    server n1 127.0.0.1:$BE1
    server n2 127.0.0.1:$BE2
CFG
}

cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; } # utime stime
# "idle total" ticks of one CPU (idle + iowait, and the sum of all fields).
cpu_idle() { awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat; }
idle_pct() { # before after
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
        if (y[2] > x[2]) printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]); else print "n/a" }'
}
to_ms() { # wrk latency value like 1.23ms / 456.00us / 1.01s
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else print v }'
}

printf "%-8s %-3s %-10s %10s %12s %9s %9s %9s %7s %7s %6s %6s\n" proxy thr test "req/s" "req/cpu-s" "p50 ms" "p99 ms" "RSS MiB" "idle0 %" "idle1 %" "usr us" "sys us"

run() { # name threads
    local name=$1 thr=$2 cpus pid
    if [ "$thr" = 1 ]; then cpus=1; else cpus=0,1; fi
    write_cfg "$thr"
    if [ "$name" = haproxy ]; then
        taskset -c "$cpus" "$HAPROXY" -db -f "$WORK/haproxy-$thr.cfg" 2>"$WORK/$name.log" &
    else
        RUST_LOG=warn taskset -c "$cpus" "$LBPROXY" -f "$WORK/haproxy-$thr.cfg" 2>"$WORK/$name.log" &
    fi
    pid=$!
    sleep 0.3
    if ! kill -0 "$pid" 2>/dev/null; then echo "$name failed to start:" >&2; cat "$WORK/$name.log" >&2; exit 1; fi
    PIDS+=("$pid")
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/$FE_PORT) 2>/dev/null && break
        sleep 0.1
    done
    # Warm-up (pool, page cache, CPU frequency).
    taskset -c 0 wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$FE_PORT/" >/dev/null
    local tests=(keepalive close)
    [ "$thr" = 1 ] && tests+=(tcp)
    for t in "${tests[@]}"; do
        local url="http://127.0.0.1:$FE_PORT/" hdr=()
        [ "$t" = tcp ] && url="http://127.0.0.1:$TCP_PORT/"
        [ "$t" = close ] && hdr=(-H "Connection: close")
        local c0 c1 out rps reqs p50 p99
        local i0a i1a i0b i1b
        c0=$(cpu_ticks "$pid")
        i0a=$(cpu_idle 0)
        i1a=$(cpu_idle 1)
        out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "${hdr[@]}" "$url")
        c1=$(cpu_ticks "$pid")
        i0b=$(cpu_idle 0)
        i1b=$(cpu_idle 1)
        rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        reqs=$(awk '/requests in/ {print $1}' <<<"$out")
        p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
        p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
        # Requests per CPU-second, and user / kernel microseconds per request.
        local per_cpu usr sys
        read -r per_cpu usr sys < <(awk -v a="$c0" -v b="$c1" -v t="$TICKS" -v r="$reqs" 'BEGIN {
            split(a, x, " "); split(b, y, " ");
            u = (y[1] - x[1]) / t; s = (y[2] - x[2]) / t;
            if (u + s > 0) printf "%.0f ", r / (u + s); else printf "n/a ";
            if (r > 0) printf "%.2f %.2f\n", u / r * 1e6, s / r * 1e6; else print "n/a n/a" }')
        local errs
        errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
        local rss
        rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
        printf "%-8s %-3s %-10s %10.0f %12s %9s %9s %9s %7s %7s %6s %6s %s\n" "$name" "$thr" "$t" "$rps" "$per_cpu" "$p50" "$p99" "$rss" \
            "$(idle_pct "$i0a" "$i0b")" "$(idle_pct "$i1a" "$i1b")" "$usr" "$sys" "$errs"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    sleep 0.5
}

HARD_NOFILE=$(ulimit -Hn)
[ "$HARD_NOFILE" = unlimited ] && HARD_NOFILE=1048576
MAXCONN=$(( (HARD_NOFILE - 40) / 2 < 10100 ? (HARD_NOFILE - 40) / 2 : 10100 ))
IDLE_N=$(( MAXCONN - 100 < 10000 ? MAXCONN - 100 : 10000 ))

write_tls_cfg() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
        -keyout "$WORK/ecdsa.key" -out "$WORK/ecdsa.crt" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench.test \
        -keyout "$WORK/rsa.key" -out "$WORK/rsa.crt" 2>/dev/null
    cat "$WORK/ecdsa.crt" "$WORK/ecdsa.key" > "$WORK/ecdsa.pem"
    cat "$WORK/rsa.crt" "$WORK/rsa.key" > "$WORK/rsa.pem"
    # HAProxy wants 2 x maxconn + 15 files, lbproxy 2 x maxconn + 32 + its listeners (both
    # refuse to start otherwise); where the hard limit is below 20240 (this sandbox: 20000,
    # not raisable), maxconn and the idle rows shrink to fit.
    cat > "$WORK/tls.cfg" <<CFG
global
    nbthread 1
    maxconn $MAXCONN
    ${TLS_GLOBAL:-}

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 30s
    timeout http-keep-alive 60s

frontend tls_ecdsa
    bind 127.0.0.1:$TLS_ECDSA ssl crt $WORK/ecdsa.pem alpn h2,http/1.1
    default_backend nginx_http

frontend tls_rsa
    bind 127.0.0.1:$TLS_RSA ssl crt $WORK/rsa.pem alpn h2,http/1.1
    default_backend nginx_http

backend nginx_http
    balance roundrobin
    server n1 127.0.0.1:$BE1
    server n2 127.0.0.1:$BE2
CFG
}

# One measured load: runs "$@" on CPU 0 against proxy $pid and prints a row; the load's
# output goes to $WORK/out.
measure() { # name test pid cmd...
    local name=$1 t=$2 pid=$3
    shift 3
    local c0 c1 i0a i1a i0b i1b out reqs rps p50=- p99=-
    local profiler=
    if [[ -n ${PERF:-} ]]; then
        perf record -q -F 1999 -g -p "$pid" -o "$PERF/perf.$name.$t.data" 2>/dev/null &
        profiler=$!
        sleep 0.5
    fi
    c0=$(cpu_ticks "$pid"); i0a=$(cpu_idle 0); i1a=$(cpu_idle 1)
    out=$(taskset -c 0 "$@" 2>&1)
    c1=$(cpu_ticks "$pid"); i0b=$(cpu_idle 0); i1b=$(cpu_idle 1)
    if [[ -n $profiler ]]; then kill -INT "$profiler"; wait "$profiler" 2>/dev/null || true; fi
    if [[ $1 == h2load ]]; then
        reqs=$(awk '/^requests:/ {print $8}' <<<"$out")
        rps=$(awk '/^finished in/ {print $4}' <<<"$out")
        p50=$(awk '/^time for request:/ {print $6}' <<<"$out")
    else
        reqs=$(awk '/requests in/ {print $1}' <<<"$out")
        rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
        p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    fi
    local per_cpu usr sys rss errs
    read -r per_cpu usr sys < <(awk -v a="$c0" -v b="$c1" -v t="$TICKS" -v r="$reqs" 'BEGIN {
        split(a, x, " "); split(b, y, " ");
        u = (y[1] - x[1]) / t; s = (y[2] - x[2]) / t;
        if (u + s > 0) printf "%.0f ", r / (u + s); else printf "n/a ";
        if (r > 0) printf "%.2f %.2f\n", u / r * 1e6, s / r * 1e6; else print "n/a n/a" }')
    rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
    errs=$(awk '/Non-2xx|Socket errors|failed,/ {print}' <<<"$out" | tr '\n' ' ')
    printf "%-8s %-3s %-10s %10.0f %12s %9s %9s %9s %7s %7s %6s %6s %s\n" "$name" 1 "$t" "${rps%.*}" "$per_cpu" "$p50" "$p99" "$rss" \
        "$(idle_pct "$i0a" "$i0b")" "$(idle_pct "$i1a" "$i1b")" "$usr" "$sys" "$errs"
}

# RSS of $pid with N idle TLS connections held (after one request each).
idle_rss() { # name pid n
    local name=$1 pid=$2 n=$3 before after fifo holder
    before=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    fifo="$WORK/hold.fifo"; rm -f "$fifo"; mkfifo "$fifo"
    taskset -c 0 python3 "$ROOT/scripts/idle-conns.py" 127.0.0.1 "$TLS_ECDSA" "$n" tls <"$fifo" >"$WORK/hold.out" &
    holder=$!
    exec 4>"$fifo"
    for _ in $(seq 600); do grep -q ready "$WORK/hold.out" 2>/dev/null && break; sleep 0.1; done
    sleep 1
    after=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    local held
    held=$(awk '/ready/ {print $2}' "$WORK/hold.out")
    exec 4>&-
    wait "$holder" 2>/dev/null || true
    printf "%-8s %-3s %-10s %10s %12s %9s %9s %9.1f %7s %7s %6.2f %6s %s\n" "$name" 1 "idle10k" "-" "-" "-" "-" \
        "$(awk -v a="$after" 'BEGIN { print a / 1024 }')" "-" "-" \
        "$(awk -v a="$after" -v b="$before" -v n="${held:-0}" 'BEGIN { if (n > 0) print (a - b) / n; else print 0 }')" "-" \
        "held ${held:-0} (before ${before} kB, with ${after} kB)"
}

# Waits (at most 70 s) until the TIME-WAIT sockets of a previous run are gone.
drain_time_wait() {
    for _ in $(seq 70); do
        [ "$(ss -tan state time-wait | wc -l)" -lt 100 ] && return
        sleep 1
    done
}

# Whether the TLS row $1 is asked for (TLS_ROWS, default all).
row() { [[ " ${TLS_ROWS:-tls-ka h2 hs-ecdsa hs-rsa idle10k} " == *" $1 "* ]]; }

run_tls() { # name
    local name=$1 pid
    drain_time_wait
    ulimit -n "$(ulimit -Hn)"
    if [ "$name" = haproxy ]; then
        taskset -c 1 "$HAPROXY" -db -f "$WORK/tls.cfg" 2>"$WORK/$name.log" &
    else
        RUST_LOG=warn taskset -c 1 "$LBPROXY" -f "$WORK/tls.cfg" 2>"$WORK/$name.log" &
    fi
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/$TLS_ECDSA) 2>/dev/null && break
        sleep 0.1
    done
    if ! kill -0 "$pid" 2>/dev/null; then echo "$name failed to start:" >&2; cat "$WORK/$name.log" >&2; exit 1; fi
    taskset -c 0 wrk -t1 -c"$CONNS" -d2s "https://127.0.0.1:$TLS_ECDSA/" >/dev/null
    # Keep-alive rows first: the handshake rows leave ~10k sockets in TIME-WAIT, which
    # slow the loopback path measurably (seen here: 2x on keep-alive).
    row tls-ka && measure "$name" tls-ka "$pid" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "https://127.0.0.1:$TLS_ECDSA/"
    row h2 && measure "$name" h2 "$pid" h2load -c "$CONNS" -m 10 -D "$DUR" "https://127.0.0.1:$TLS_ECDSA/"
    row hs-ecdsa && measure "$name" hs-ecdsa "$pid" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -H "Connection: close" "https://127.0.0.1:$TLS_ECDSA/"
    row hs-rsa && measure "$name" hs-rsa "$pid" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -H "Connection: close" "https://127.0.0.1:$TLS_RSA/"
    row idle10k && idle_rss "$name" "$pid" "$IDLE_N"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    sleep 0.5
}

for suite in "${SUITES[@]}"; do
    case $suite in
    http)
        for thr in 1 2; do
            run haproxy "$thr"
            run lbproxy "$thr"
        done
        ;;
    tls)
        for t in h2load openssl python3; do
            command -v "$t" >/dev/null 2>&1 || { echo "missing: $t" >&2; exit 1; }
        done
        write_tls_cfg
        # ROUNDS > 1 alternates the two proxies, so a drift of the machine within a run
        # weighs on both.
        for _ in $(seq "${ROUNDS:-1}"); do
            run_tls haproxy
            run_tls lbproxy
        done
        ;;
    *) echo "unknown suite: $suite (http, tls)" >&2; exit 1 ;;
    esac
done
