#!/usr/bin/env bash
# The OCF resource agents of deploy/ocf/ against built binaries, without a cluster:
# Debian's ocf-tester on each (meta-data against ra-api-1.dtd, every action and its exit
# code), their meta-data against the OCF RelaxNG schema, lbproxy's validate-all on a bad
# configuration (OCF_ERR_CONFIGURED, 6, with file:line), and a reload that moves the stats
# listener while the pid stays. bins/tests/ocf_agents.rs runs the same with the test build.
# Loopback only; everything started here is stopped on exit. Needs root (ocf-tester checks
# the agents as nobody) and apt-get install resource-agents libxml2-utils curl.
# Usage: scripts/ocf-check.sh [DIR with lbproxy and lb-exporter, default target/release]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/release}")
for t in ocf-tester xmllint curl ss; do
    command -v "$t" >/dev/null || { echo "needs $t (apt-get install resource-agents libxml2-utils curl)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 2; }
for b in lbproxy lb-exporter; do
    [ -x "$BIN/$b" ] || { echo "no $BIN/$b: cargo build --release -p bins" >&2; exit 2; }
done

# A directory everyone can read: ocf-tester runs meta-data as nobody.
work=$(mktemp -d /tmp/ocf-check.XXXXXX)
chmod 755 "$work"
export OCF_ROOT=/usr/lib/ocf
cleanup() {
    for a in lbproxy lb-exporter; do
        OCF_RESKEY_pidfile=$work/$a.pid "$work/$a" stop >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
cp deploy/ocf/lbproxy deploy/ocf/lb-exporter "$work/"

free_port() { # the first port from $1 up that nothing listens on
    local p=$1
    while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
    echo "$p"
}
STATS=$(free_port 19188)
MOVED=$(free_port $((STATS + 1)))
EXPORTER=$(free_port 19655)
cfg() { # cfg PORT: a stats listener on 127.0.0.1:PORT
    printf 'global\n    maxconn 256\n\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\nlisten stats\n    bind 127.0.0.1:%s\n    stats enable\n    stats uri /stats\n' "$1"
}
cfg "$STATS" >"$work/haproxy.cfg"
failed=0
step() { echo "== $*"; }
fail() { echo "FAILED: $*"; failed=$((failed + 1)); }

step "ocf-tester lbproxy"
ocf-tester -n lbproxy -o binary="$BIN/lbproxy" -o config="$work/haproxy.cfg" \
    -o pidfile="$work/lbproxy.pid" -o logfile="$work/lbproxy.log" \
    -o status_url="http://127.0.0.1:$STATS/stats;csv" "$work/lbproxy" || fail "ocf-tester lbproxy"

step "ocf-tester lb-exporter"
ocf-tester -n lb-exporter -o binary="$BIN/lb-exporter" \
    -o haproxy_scrape_uri="http://127.0.0.1:$STATS/stats;csv" \
    -o listen_address="127.0.0.1:$EXPORTER" -o pidfile="$work/lb-exporter.pid" \
    -o logfile="$work/lb-exporter.log" "$work/lb-exporter" || fail "ocf-tester lb-exporter"

step "meta-data against the OCF RelaxNG schema"
for a in lbproxy lb-exporter; do
    "$work/$a" meta-data | (cd /usr/share/resource-agents && xmllint --noout --relaxng metadata.rng -) ||
        fail "$a meta-data"
done

step "lbproxy validate-all on a bad configuration"
printf 'frontend f\n    bind 127.0.0.1:%s\n    no_such_keyword here\n' "$STATS" >"$work/bad.cfg"
rc=0
out=$(OCF_RESKEY_binary="$BIN/lbproxy" OCF_RESKEY_config="$work/bad.cfg" "$work/lbproxy" validate-all 2>&1) || rc=$?
echo "$out"
[ "$rc" = 6 ] || fail "validate-all exit code $rc, expected 6 (OCF_ERR_CONFIGURED)"
grep -q "bad.cfg:3:" <<<"$out" || fail "validate-all does not name bad.cfg:3"

step "lbproxy reload: SIGHUP, same pid, the listener moves"
export OCF_RESOURCE_INSTANCE=lbproxy OCF_RESKEY_binary="$BIN/lbproxy" \
    OCF_RESKEY_config="$work/haproxy.cfg" OCF_RESKEY_pidfile="$work/lbproxy.pid" \
    OCF_RESKEY_logfile="$work/lbproxy.log"
"$work/lbproxy" start
pid=$(cat "$work/lbproxy.pid")
cfg "$MOVED" >"$work/haproxy.cfg"
"$work/lbproxy" reload
for _ in $(seq 50); do
    curl -fs -o /dev/null "http://127.0.0.1:$MOVED/stats;csv" && break
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$MOVED/stats;csv" || fail "no stats on port $MOVED after reload"
[ "$(cat "$work/lbproxy.pid")" = "$pid" ] || fail "reload restarted lbproxy (pid changed)"
"$work/lbproxy" monitor || fail "monitor after reload"
"$work/lbproxy" stop

if [ "$failed" -gt 0 ]; then
    echo "ocf-check: $failed failed"
    exit 1
fi
echo "ocf-check: all passed"
