#!/usr/bin/env bash
# lb-exporter against prometheus-haproxy-exporter (Debian's, the Go exporter it replaces) on
# the same stats CSV: 100 backends x 10 servers (+ 100 frontends), HAProxy 2.6's columns,
# served by nginx on loopback. For each exporter: the time of one scrape of /metrics
# (median and p90 of N, taken alternately), and its resident memory after them (VmRSS) and
# at its peak (VmHWM).
#
#   scripts/bench-exporter.sh [SCRAPES]      (default 200; results appended to
#                                              scripts/bench-exporter-results.txt)
#
# Needs: nginx, curl, prometheus-haproxy-exporter, a release lb-exporter (built here).
# Run alone: it refuses to start while another benchmark (wrk, h2load, criterion,
# bench-proxy.sh) runs, unless FORCE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRAPES=${1:-200}
RESULTS=scripts/bench-exporter-results.txt
TARGET=${CARGO_TARGET_DIR:-target}

if [ "${FORCE:-0}" != 1 ] && pgrep -f 'wrk|h2load|criterion|bench-proxy' >/dev/null; then
    echo "another benchmark is running (wrk/h2load/criterion/bench-proxy): not measuring" >&2
    exit 1
fi

cargo build --release --locked -q -p bins --bin lb-exporter
LBX=$TARGET/release/lb-exporter

WORK=$(mktemp -d /tmp/bench-exporter.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# The CSV: the captured HAProxy 2.6 header, and its rows as templates for each proxy.
CAPTURE=testdata/exporters/haproxy-2.6/stats.csv
mkdir -p "$WORK/www"
{
    head -1 "$CAPTURE"
    fe=$(grep '^fe_web,FRONTEND,' "$CAPTURE" | cut -d, -f3-)
    sv=$(grep '^be_app,web1,' "$CAPTURE" | cut -d, -f3-)
    be=$(grep '^be_app,BACKEND,' "$CAPTURE" | cut -d, -f3-)
    for b in $(seq 1 100); do
        echo "fe_$b,FRONTEND,$fe"
    done
    for b in $(seq 1 100); do
        for s in $(seq 1 10); do
            echo "be_$b,srv_$s,$sv"
        done
        echo "be_$b,BACKEND,$be"
    done
} >"$WORK/www/stats.csv"
ROWS=$(($(wc -l <"$WORK/www/stats.csv") - 1))

cat >"$WORK/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
    uwsgi_temp_path $WORK; scgi_temp_path $WORK;
    server { listen 127.0.0.1:19380; root $WORK/www; }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
URI="http://127.0.0.1:19380/stats.csv"

"$LBX" --web.listen-address=127.0.0.1:19381 "--haproxy.scrape-uri=$URI" --log.level=warn &
PIDS+=($!)
LBX_PID=$!
prometheus-haproxy-exporter --web.listen-address=127.0.0.1:19382 "--haproxy.scrape-uri=$URI" \
    --log.level=warn &
PIDS+=($!)
HX_PID=$!
sleep 1

scrape() { curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$1/metrics"; }
for _ in $(seq 1 10); do scrape 19381 >/dev/null; scrape 19382 >/dev/null; done
: >"$WORK/lbx.times"
: >"$WORK/hx.times"
for _ in $(seq 1 "$SCRAPES"); do
    scrape 19381 >>"$WORK/lbx.times"
    scrape 19382 >>"$WORK/hx.times"
done
series() { curl -s "http://127.0.0.1:$1/metrics" | grep -c '^haproxy_'; }
timing() { # FILE -> "median_ms p90_ms"
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        printf "%.2f %.2f\n", v[int((NR + 1) / 2)] * 1000, v[int(NR * 0.9)] * 1000 }'
}
mem() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

read -r lbx_med lbx_p90 < <(timing "$WORK/lbx.times")
read -r hx_med hx_p90 < <(timing "$WORK/hx.times")
{
    echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; CSV: $ROWS rows (100 frontends," \
        "100 backends x 10 servers), $(wc -c <"$WORK/www/stats.csv") bytes; $SCRAPES scrapes each, alternating"
    printf '%-30s %12s %12s %10s %10s %10s\n' exporter "median ms" "p90 ms" "RSS MiB" "peak MiB" series
    printf '%-30s %12s %12s %10s %10s %10s\n' lb-exporter "$lbx_med" "$lbx_p90" \
        "$(mem "$LBX_PID" VmRSS)" "$(mem "$LBX_PID" VmHWM)" "$(series 19381)"
    printf '%-30s %12s %12s %10s %10s %10s\n' "prometheus-haproxy-exporter" "$hx_med" "$hx_p90" \
        "$(mem "$HX_PID" VmRSS)" "$(mem "$HX_PID" VmHWM)" "$(series 19382)"
} | tee -a "$RESULTS"
