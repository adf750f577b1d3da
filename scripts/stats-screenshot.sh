#!/usr/bin/env bash
# Renders lbproxy's statistics page with headless Chromium to a PNG (docs/stats-page.png):
# a frontend in front of two backends whose servers are in every state the page colours
# (up, down, going down, disabled, backup, unchecked), some traffic, then the screenshot.
# Loopback only. Needs chromium (Debian `chromium`), python3, curl; builds nothing: uses
# target/release/lbproxy or LBPROXY=path.
# Usage: scripts/stats-screenshot.sh [OUT.png]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/docs/stats-page.png}
LBPROXY=${LBPROXY:-${CARGO_TARGET_DIR:-$ROOT/target}/release/lbproxy}
WORK=$(mktemp -d /tmp/stats-shot.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

BE=19401; DEAD=19409; FE=19411; STATS=19410
mkdir -p "$WORK/www" && echo hello > "$WORK/www/index.html"
python3 -m http.server "$BE" --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "127.0.0.1:$BE/" && break; sleep 0.1; done
cat > "$WORK/haproxy.cfg" <<CFG
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind 127.0.0.1:$FE
    use_backend api if { path_beg /api }
    http-request deny if { path /admin }
    default_backend app
backend app
    option httpchk GET /
    server web1 127.0.0.1:$BE check inter 500ms
    server web2 127.0.0.1:$BE check inter 500ms weight 2
    server web3 127.0.0.1:$DEAD check inter 500ms
    server web4 127.0.0.1:$BE check disabled
    server spare 127.0.0.1:$BE check inter 500ms backup
backend api
    balance leastconn
    server api1 127.0.0.1:$BE
    server api2 127.0.0.1:$DEAD
listen stats
    bind 127.0.0.1:$STATS
    stats enable
    stats uri /stats
    stats refresh 10s
    stats show-legends
CFG
"$LBPROXY" -f "$WORK/haproxy.cfg" 2>"$WORK/lbproxy.log" &
PIDS+=($!)
sleep 2
for _ in $(seq 40); do curl -s -o /dev/null "127.0.0.1:$FE/"; done
for _ in $(seq 6); do curl -s -o /dev/null "127.0.0.1:$FE/api/x"; done
curl -s -o /dev/null "127.0.0.1:$FE/admin"
curl -s -o /dev/null "127.0.0.1:$FE/missing"
sleep 1
mkdir -p "$(dirname "$OUT")"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1500,820 \
    --screenshot="$OUT" "http://127.0.0.1:$STATS/stats" 2>/dev/null
echo "wrote $OUT"
