#!/usr/bin/env bash
# How a proxy's cost grows with body size (issue 16): lbproxy against Debian's HAProxy, each
# with and without `option splice-response`/`splice-request` (splice(2): socket to socket
# through a kernel pipe, no copy to user space), in HTTP and TCP mode, for responses
# (downloads) and uploads of 1 KiB, 64 KiB, 1 MiB and 100 MiB.
# Loopback, one proxy thread pinned to CPU 1, nginx and the client (wrk) on CPU 0.
#
# Each row: wrk -t1 -c4 for DUR seconds (4 x DUR for 100 MiB); throughput (Gbit/s of body
# through the proxy: all bytes read for downloads, complete bodies for uploads), the proxy's
# CPU (utime+stime from /proc) per GiB of body, and the proxy's peak RSS.
# Downloads are static files nginx sends with sendfile; uploads are POSTs whose body nginx
# reads whole before answering.
#
# Usage: scripts/bench-bodies.sh [DURATION_SECONDS]   (default 5)
#   SIZES (default "1k 64k 1m 100m"), with OUT=DIR the data (DIR/bench-bodies.dat) and the
#   plot DIR/bench-bodies.png (gnuplot). Needs haproxy, nginx, wrk, taskset.
#   LBPROXY=path overrides target/release/lbproxy.
set -euo pipefail

DUR=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LBPROXY=${LBPROXY:-${CARGO_TARGET_DIR:-$ROOT/target}/release/lbproxy}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
NGINX=${NGINX:-/usr/sbin/nginx}
HTTP=18950 TCP=18951 BE=18952 OK=18953
SIZES=${SIZES:-1k 64k 1m 100m}
TICKS=$(getconf CLK_TCK)
for t in "$LBPROXY" "$HAPROXY" "$NGINX" wrk taskset; do
    command -v "$t" >/dev/null 2>&1 || { echo "missing: $t" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/bench-bodies.XXXXXX)
PROXY_PID=
cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

bytes() { case $1 in *k) echo $((${1%k} * 1024)) ;; *m) echo $((${1%m} * 1048576)) ;; *) echo "$1" ;; esac; }
mkdir -p "$WORK/www"
for s in $SIZES; do head -c "$(bytes "$s")" /dev/zero | tr '\0' x >"$WORK/www/$s"; done
cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    client_max_body_size 200m;
    client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
    uwsgi_temp_path $WORK; scgi_temp_path $WORK;
    server {
        listen 127.0.0.1:$BE;
        root $WORK/www;
        # An upload is read whole before it is answered: proxied on (nginx buffers the
        # request body first). A bare "return 200" answers at once and discards the body
        # behind the answer, which measures how the proxy takes an early answer instead.
        location /up { proxy_pass http://127.0.0.1:$OK/; }
    }
    server { listen 127.0.0.1:$OK; location / { return 200 "ok"; } }
}
NGX
taskset -c 0 "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" 2>/dev/null

write_cfg() { # splice: yes|no
    local opt=""
    [ "$1" = yes ] && opt=$'    option splice-response\n    option splice-request'
    cat > "$WORK/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 1000

defaults
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
$opt

frontend http
    mode http
    bind 127.0.0.1:$HTTP
    default_backend nginx_http

backend nginx_http
    mode http
    server n1 127.0.0.1:$BE

frontend tcp
    mode tcp
    bind 127.0.0.1:$TCP
    default_backend nginx_tcp

backend nginx_tcp
    mode tcp
    server n1 127.0.0.1:$BE
CFG
}

start_proxy() { # haproxy|lbproxy
    if [ "$1" = haproxy ]; then
        taskset -c 1 "$HAPROXY" -db -f "$WORK/haproxy.cfg" 2>"$WORK/proxy.log" &
    else
        RUST_LOG=warn taskset -c 1 "$LBPROXY" -f "$WORK/haproxy.cfg" 2>"$WORK/proxy.log" &
    fi
    PROXY_PID=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$HTTP") 2>/dev/null && break; sleep 0.1; done
    kill -0 "$PROXY_PID" 2>/dev/null || { echo "$1 failed to start:" >&2; cat "$WORK/proxy.log" >&2; exit 1; }
}
stop_proxy() { kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=; sleep 0.3; }

# A wrk script that POSTs a body of N bytes.
upload_lua() { # bytes
    cat > "$WORK/up.lua" <<LUA
wrk.method = "POST"
wrk.body = string.rep("x", $1)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
}

row() { # label mode dir size
    local label=$1 mode=$2 dir=$3 size=$4 port=$HTTP n c0 c1 out reqs args=()
    [ "$mode" = tcp ] && port=$TCP
    n=$(bytes "$size")
    if [ "$dir" = down ]; then
        args=("http://127.0.0.1:$port/$size")
    else
        upload_lua "$n"
        args=(-s "$WORK/up.lua" "http://127.0.0.1:$port/up")
    fi
    # 100 MiB bodies run 4 times longer, so that many complete.
    local dur=$DUR
    [ "$n" -ge 104857600 ] && dur=$((DUR * 4))
    c0=$(awk '{print $14 + $15}' "/proc/$PROXY_PID/stat")
    out=$(taskset -c 0 wrk -t1 -c4 -d"${dur}s" --timeout 60s "${args[@]}" 2>&1)
    c1=$(awk '{print $14 + $15}' "/proc/$PROXY_PID/stat")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    # Body bytes through the proxy: for downloads all that wrk read (responses still under
    # way at the end count too), for uploads the complete requests' bodies.
    local body
    if [ "$dir" = down ]; then
        body=$(awk '/requests in/ { v = $(NF - 1); u = v; sub(/[0-9.]+/, "", u); sub(/[A-Z]+$/, "", v);
            m = (u == "KB") ? 2^10 : (u == "MB") ? 2^20 : (u == "GB") ? 2^30 : (u == "TB") ? 2^40 : 1;
            printf "%.0f", v * m }' <<<"$out")
    else
        body=$((reqs * n))
    fi
    awk -v l="$label" -v m="$mode" -v d="$dir" -v s="$size" -v r="$reqs" -v b="$body" -v dur="$dur" \
        -v c=$((c1 - c0)) -v t="$TICKS" -v rss="$(awk '/VmHWM/ {print $2}' "/proc/$PROXY_PID/status")" \
        -v err="$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')" 'BEGIN {
        gib = b / 2^30;
        printf "%-16s %-4s %-4s %-5s %8d %9.2f %11s %9d %s\n", l, m, d, s, r, b * 8 / dur / 1e9,
            (gib > 0 ? sprintf("%.3f", c / t / gib) : "n/a"), rss, err }'
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPUs, $(uname -r); $(haproxy -v | head -1); lbproxy $(git -C "$ROOT" rev-parse --short HEAD); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# proxy          mode dir  size  requests   Gbit/s  CPU-s/GiB  peak RSS kB"
ROWS=$WORK/rows.txt
: >"$ROWS"
for variant in haproxy haproxy-splice lbproxy lbproxy-splice; do
    write_cfg "$(case $variant in *-splice) echo yes ;; *) echo no ;; esac)"
    start_proxy "${variant%-splice}"
    for mode in http tcp; do
        for dir in down up; do
            for s in $SIZES; do row "$variant" "$mode" "$dir" "$s" | tee -a "$ROWS"; done
        done
    done
    stop_proxy
done
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

[ -n "${OUT:-}" ] || exit 0
command -v gnuplot >/dev/null || { echo "no gnuplot: no plot" >&2; exit 0; }
# One data block per (proxy, mode, direction): "bytes Gbit/s CPU-s/GiB", in that order.
BLOCKS=()
: >"$OUT/bench-bodies.dat"
for variant in haproxy haproxy-splice lbproxy lbproxy-splice; do for mode in http tcp; do for dir in down up; do
    echo "# $variant $mode $dir" >>"$OUT/bench-bodies.dat"
    for s in $SIZES; do
        awk -v v="$variant" -v m="$mode" -v d="$dir" -v s="$s" -v n="$(bytes "$s")" \
            '$1 == v && $2 == m && $3 == d && $4 == s { print n, $6, $7 }' "$ROWS" >>"$OUT/bench-bodies.dat"
    done
    printf "\n\n" >>"$OUT/bench-bodies.dat"
    BLOCKS+=("$variant $mode $dir")
done; done; done
plot_of() { # column
    local i=0 b sep="" color dash out=""
    for b in "${BLOCKS[@]}"; do
        case $b in haproxy-splice*) color="#e67e22" ;; haproxy*) color="#c0392b" ;; lbproxy-splice*) color="#17a589" ;; *) color="#2471a3" ;; esac
        case $b in *" tcp "*) dash=2 ;; *) dash=1 ;; esac
        case $b in *" up") ;; *) out+="$sep\"$OUT/bench-bodies.dat\" index $i using 1:$1 with linespoints lw 2 dt $dash lc rgb \"$color\" title \"$b\""; sep=", " ;; esac
        i=$((i + 1))
    done
    echo "$out"
}
plot_up() { # column
    local i=0 b sep="" color dash out=""
    for b in "${BLOCKS[@]}"; do
        case $b in haproxy-splice*) color="#e67e22" ;; haproxy*) color="#c0392b" ;; lbproxy-splice*) color="#17a589" ;; *) color="#2471a3" ;; esac
        case $b in *" tcp "*) dash=2 ;; *) dash=1 ;; esac
        case $b in *" up") out+="$sep\"$OUT/bench-bodies.dat\" index $i using 1:$1 with linespoints lw 2 dt $dash lc rgb \"$color\" title \"$b\""; sep=", " ;; esac
        i=$((i + 1))
    done
    echo "$out"
}
gnuplot <<GP
set terminal pngcairo size 1200,900 font "sans,10"
set output "$OUT/bench-bodies.png"
set multiplot layout 2,2 title "Body size: throughput and proxy CPU per GiB (one proxy thread, loopback; dashed: TCP mode)"
set grid
set logscale x 2
set format x "%.0b %BB"
set xlabel "body bytes"
set key top left
set ylabel "Gbit/s (higher is better)"
set title "downloads"
plot $(plot_of 2)
set title "uploads"
plot $(plot_up 2)
set logscale y
set key top right
set ylabel "proxy CPU-seconds per GiB (lower is better)"
set title "downloads"
plot $(plot_of 3)
set title "uploads"
plot $(plot_up 3)
unset multiplot
GP
echo "# plot: $OUT/bench-bodies.png"
