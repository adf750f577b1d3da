#!/usr/bin/env bash
# The main job, live: a two-node HA load-balancer cluster in network namespaces, HTTPS on
# the VIP, the stats page and the metrics, then every failover an operator meets, one after
# another, with the outage the client saw for each.
#
# usage: sudo scripts/demo-ha-cluster.sh [--fast] [--backends N] [--impl VRRP+PROXY] [--no-build]
#        sudo scripts/demo-ha-cluster.sh --nodes N [--fast] [--no-build]   # active/active
#        sudo scripts/demo-ha-cluster.sh down     # remove what a killed demo left behind
#   --fast      VRRPv3 adverts every 0.05 s (default: VRRPv2, every second, as keepalived)
#   --backends  number of backend servers, 1..9 (default 3)
#   --nodes     N nodes (3..6) active/active instead of a pair: scripts/demo-active-active.sh
#   --impl      vrrpd+lbproxy (default; `cargo build --release -p bins`), keepalived+haproxy
#               (Debian's), or a mix such as vrrpd+haproxy. Both read the same files.
#
#        client 198.18.0.50  -- polls http://VIP/ every 10 ms; curl https://vip.demo/
#           |
#   ----- bridge -------------------------------------------------------------
#      |                          |                        |       |
#   lb1 198.18.0.1             lb2 198.18.0.2            be1 ... beN  198.18.0.11..
#   VRRP prio 110              VRRP prio 100             tk-http :8080, says its name
#   proxy :80 :443 (TLS, h2)   proxy :80 :443            and which proxy node called it
#   stats :8404  exporter :9655
#   VIP 198.18.0.100/24 on the VRRP Master; each VRRP daemon tracks its own proxy process
#
# Faults, each measured by a client polling the VIP every 10 ms: the Master's proxy killed
# (tracked: its node goes to FAULT), its VRRP daemon killed, its link down, its VRRP daemon
# stopped gracefully, a backend killed, the proxy reloaded; after each, the Master is put
# back and preempts. Everything lives in namespaces named halbdemo-PID-* created here and
# is removed on exit (trap), or by `down` after a kill -9 of the demo itself.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMPL=${IMPL:-vrrpd+lbproxy}
BUILD=1
FAST=0
BACKENDS=3
VIP=198.18.0.100

# shellcheck source=scripts/lib/lab.sh
. "$ROOT/scripts/lib/lab.sh"

ARGS=("$@")
while (($#)); do
    case $1 in
        --fast) FAST=1; shift ;;
        --backends) BACKENDS=$2; shift 2 ;;
        --impl) IMPL=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        down) [[ $(id -u) == 0 ]] || die "needs root"; lab_remove_leftovers; exit 0 ;;
        --nodes) exec "$ROOT/scripts/demo-active-active.sh" "${ARGS[@]}" ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
done
[[ $BACKENDS =~ ^[1-9]$ ]] || die "--backends 1..9"
VRRP_IMPL=${IMPL%%+*} PROXY_IMPL=${IMPL##*+}
[[ $VRRP_IMPL == vrrpd || $VRRP_IMPL == keepalived ]] || die "VRRP part: vrrpd or keepalived"
[[ $PROXY_IMPL == lbproxy || $PROXY_IMPL == haproxy ]] || die "proxy part: lbproxy or haproxy"
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for t in curl openssl ip; do command -v "$t" >/dev/null || die "$t not installed"; done
if ((FAST)); then VERSION=3 ADVERT=0.05; else VERSION=2 ADVERT=1; fi

lab_build "$BUILD"
for b in "$KIT/tk-http" "$KIT/vip-poller" "$BINS/lb-exporter"; do [[ -x $b ]] || die "$b missing"; done
case $VRRP_IMPL in
    vrrpd) [[ -x $BINS/vrrpd ]] || die "$BINS/vrrpd missing" ;;
    keepalived) command -v keepalived >/dev/null || die "keepalived not installed" ;;
esac
case $PROXY_IMPL in
    lbproxy) [[ -x $BINS/lbproxy ]] || die "$BINS/lbproxy missing" ;;
    haproxy) command -v haproxy >/dev/null || die "haproxy not installed" ;;
esac

lab_init

echo "== lab: namespaces $BASE-*"
lab_bridge
NODES=(lb1:198.18.0.1 lb2:198.18.0.2 client:198.18.0.50)
for ((b = 1; b <= BACKENDS; b++)); do NODES+=("be$b:198.18.0.1$b"); done
i=0
for node in "${NODES[@]}"; do
    i=$((i + 1))
    lab_host "${node%%:*}" "${node##*:}" "$i"
done

echo "== backends: tk-http on be1..be$BACKENDS:8080"
declare -A BE_PID
for ((b = 1; b <= BACKENDS; b++)); do
    start "be$b" "$(ns_of "be$b")" "$KIT/tk-http" --listen 0.0.0.0:8080 --name "be$b" --say-peer
    BE_PID[$b]=$STARTED
done

echo "== TLS: a test CA and a certificate for vip.demo (ECDSA P-256)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=halb-demo-ca \
    -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=vip.demo \
    -keyout "$WORK/vip.key" -out "$WORK/vip.csr" 2>/dev/null
printf 'subjectAltName=DNS:vip.demo,IP:%s\n' "$VIP" >"$WORK/san.ext"
openssl x509 -req -in "$WORK/vip.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial \
    -days 2 -extfile "$WORK/san.ext" -out "$WORK/vip.crt" 2>/dev/null
cat "$WORK/vip.crt" "$WORK/vip.key" >"$WORK/vip.pem"

# One haproxy.cfg for both proxies (a copy per node: the VRRP daemons tell their own proxy
# from the other's by its command line, as the namespaces share one pid namespace).
write_haproxy_cfg() {
    cat <<EOF
global
    maxconn 1000

defaults
    mode http
    retries 3
    option redispatch
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend web
    bind *:80
    bind *:443 ssl crt $WORK/vip.pem alpn h2,http/1.1
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /
EOF
    for ((b = 1; b <= BACKENDS; b++)); do
        echo "    server be$b 198.18.0.1$b:8080 check inter 200ms fall 1 rise 2"
    done
    cat <<EOF

listen stats
    bind *:8404
    stats enable
    stats uri /stats
    stats refresh 5s
EOF
}

# keepalived.conf, the same syntax for both VRRP daemons.
write_keepalived_conf() { # NODE PRIORITY
    local track="vrrp_track_process proxy {
    process $PROXY_IMPL -f $WORK/$1/haproxy.cfg
    param_match partial
    weight 0
}" kind=track_process
    if [[ $VRRP_IMPL == keepalived ]]; then
        # keepalived subscribes to process events in its own network namespace and the
        # kernel sends them in the initial one only: here it polls, as most setups do.
        printf '#!/bin/sh\nexec pgrep -f -- "-f %s" >/dev/null\n' "$WORK/$1/haproxy.cfg" >"$WORK/$1/chk_proxy.sh"
        chmod 755 "$WORK/$1/chk_proxy.sh"
        track="vrrp_script proxy {
    script $WORK/$1/chk_proxy.sh
    interval 1
    fall 1
    rise 1
}" kind=track_script
    fi
    cat <<EOF
global_defs {
    router_id $1
    vrrp_version $VERSION
    script_user root
}

# The proxy of this node, followed through the kernel's process events (no polling):
# when it dies, the instance goes to FAULT and hands the VIP over at once.
$track

vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $2
    advert_int $ADVERT
    # A node coming back takes the VIP once its proxy has seen its servers up.
    preempt_delay 1
    $kind {
        proxy
    }
    virtual_ipaddress {
        $VIP/24
    }
}
EOF
}

mkdir -p "$WORK/lb1" "$WORK/lb2"
for node in lb1 lb2; do write_haproxy_cfg >"$WORK/$node/haproxy.cfg"; done
write_keepalived_conf lb1 110 >"$WORK/lb1/keepalived.conf"
write_keepalived_conf lb2 100 >"$WORK/lb2/keepalived.conf"

declare -A PROXY_PID VRRP_PID
PROXY_RUN=0
start_proxy() { # NODE; by its bare name, `-f CFG` first: what `process NAME -f CFG` matches
    PROXY_RUN=$((PROXY_RUN + 1))
    case $PROXY_IMPL in
        lbproxy) start "$1-proxy-$PROXY_RUN" "$(ns_of "$1")" env PATH="$BINS:$PATH" lbproxy -f "$WORK/$1/haproxy.cfg" ;;
        haproxy) start "$1-proxy-$PROXY_RUN" "$(ns_of "$1")" haproxy -f "$WORK/$1/haproxy.cfg" -db ;;
    esac
    PROXY_PID[$1]=$STARTED
}
VRRP_RUN=0
start_vrrp() { # NODE
    local ns; ns=$(ns_of "$1")
    VRRP_RUN=$((VRRP_RUN + 1))
    case $VRRP_IMPL in
        vrrpd)
            # Process events are sent in the initial network namespace only: subscribe there.
            start "$1-vrrp-$VRRP_RUN" "$ns" "$BINS/vrrpd" -n -l -f "$WORK/$1/keepalived.conf" \
                --status-addr 127.0.0.1:9650 --proc-events-netns "/proc/$$/ns/net" ;;
        keepalived)
            start "$1-vrrp-$VRRP_RUN" "$ns" keepalived -n -l -G -P -f "$WORK/$1/keepalived.conf" \
                -p "$WORK/$1/keepalived.pid" -r "$WORK/$1/vrrp.pid" -c "$WORK/$1/chk.pid" -b "$WORK/$1/bfd.pid" ;;
    esac
    VRRP_PID[$1]=$STARTED
}
start_exporter() { # NODE
    local src
    if [[ $VRRP_IMPL == vrrpd ]]; then src=(--vrrpd.status-uri http://127.0.0.1:9650/status)
    else src=(--keepalived.pid-path "$WORK/$1/keepalived.pid"); fi
    start "$1-exporter" "$(ns_of "$1")" "$BINS/lb-exporter" --web.listen-address 0.0.0.0:9655 \
        --haproxy.scrape-uri "http://127.0.0.1:8404/stats;csv" "${src[@]}"
}

echo "== proxies ($PROXY_IMPL) on lb1 and lb2: :80, :443 (TLS, alpn h2), stats :8404"
if [[ $PROXY_IMPL == haproxy ]]; then
    haproxy -c -q -f "$WORK/lb1/haproxy.cfg" || die "haproxy -c rejects the config"
else
    "$BINS/lbproxy" -c -f "$WORK/lb1/haproxy.cfg" || die "lbproxy -c rejects the config"
fi
start_proxy lb1
start_proxy lb2
echo "== VRRP ($VRRP_IMPL, v$VERSION, advert_int $ADVERT): lb1 priority 110, lb2 priority 100"
T_START=$(date +%s.%N)
start_vrrp lb1
start_vrrp lb2
start_exporter lb1
start_exporter lb2

has_vip() { ip -n "$(ns_of "$1")" -4 -o addr show dev eth0 | grep -q " $VIP/"; }
vip_holders() {
    local h=""
    has_vip lb1 && h="lb1"
    has_vip lb2 && h="${h:+$h+}lb2"
    echo "${h:-nobody}"
}
on_client() { ip netns exec "$(ns_of client)" "$@"; }
answers() { on_client curl -s -m 0.5 -o /dev/null "http://$VIP/"; }
https_get() { # curl ARGS...: one HTTPS request to vip.demo through the VIP, verified
    on_client curl -s -m 2 --cacert "$WORK/ca.crt" --resolve "vip.demo:443:$VIP" "$@" https://vip.demo/
}

wait_for 20 answers || { cat "$WORK"/lb1-vrrp-*.log >&2; die "no answer on http://$VIP/"; }
echo "   first answer on the VIP $(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s after the VRRP daemons started; VIP on $(vip_holders)"
wait_for 10 has_vip lb1 || die "lb1 never became Master"

echo
echo "== HTTPS on the VIP (certificate checked against the demo CA)"
echo "   HTTP/1.1: $(https_get --http1.1 -w ' [HTTP/%{http_version} %{response_code}, certificate verified: %{ssl_verify_result}=ok]' | tr -d '\n')"
echo "   HTTP/2:   $(https_get --http2 -w ' [HTTP/%{http_version} %{response_code}]' | tr -d '\n')"
echo "== stats page: http://198.18.0.1:8404/stats (CSV: ;csv)"
on_client curl -s -m 2 "http://198.18.0.1:8404/stats;csv" |
    awk -F, 'NR > 1 && $1 == "app" { printf "   %-8s %-6s %s\n", $2, $18, ($2 == "BACKEND" ? "" : "check " $37) }'
echo "== metrics: lb-exporter on each node, http://198.18.0.1:9655/metrics"
on_client curl -s -m 3 "http://198.18.0.1:9655/metrics" |
    grep -E '^(haproxy_up|keepalived_up|keepalived_vrrp_state|haproxy_server_up)' | sed 's/^/   /' | head -8

PROM=""
if command -v prometheus >/dev/null; then
    mkdir -p "$WORK/prom"
    cat >"$WORK/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: halb
    static_configs:
      - targets: ['198.18.0.1:9655', '198.18.0.2:9655']
EOF
    start prometheus "$(ns_of client)" prometheus --config.file="$WORK/prom/prometheus.yml" \
        --storage.tsdb.path="$WORK/prom/data" --web.listen-address=127.0.0.1:9090
    PROM=1
    echo "== Prometheus (in the client's namespace) scrapes both exporters every second"
fi

# One fault, measured: a client polls http://VIP/ every 10 ms while ACTION runs 1 s in.
ROWS=()
measure() { # LABEL SECONDS ACTION...
    local label=$1 secs=$2
    shift 2
    on_client "$KIT/vip-poller" --target "$VIP:80" --interval-ms 10 --timeout-ms 20 \
        --answer-timeout-ms 300 --duration-ms "$((secs * 1000))" >"$WORK/poll.json" 2>&1 &
    local poller=$!
    sleep 1
    "$@"
    wait "$poller" || true
    local j gap lost fail before after
    j=$(cat "$WORK/poll.json")
    field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" <<<"$j" | tr -d '"'; }
    gap=$(printf '%.0f' "$(field longest_gap_ms)"); lost=$(field lost); fail=$(field fail)
    before=$(field before); after=$(field after)
    local line
    line=$(printf '%-46s outage %5s ms  lost %2s  refused/unanswered connects %3s  VIP on %s' \
        "$label" "$gap" "$lost" "$((fail - lost))" "$(vip_holders)")
    echo "   $line"
    ROWS+=("$line")
}

# Long enough for the slowest: a Backup's Master_Down_Interval, or a returning Master's
# preempt_delay (1 s) after it.
if ((FAST)); then WINDOW=3; else WINDOW=6; fi
back_to_lb1() { wait_for 10 has_vip lb1 && ! has_vip lb2; }

echo
echo "== faults: a client polls http://$VIP/ every 10 ms around each one"
kill_proxy() { kill -KILL -- "-${PROXY_PID[lb1]}"; }
measure "1. SIGKILL lb1's $PROXY_IMPL (tracked)" "$WINDOW" kill_proxy
echo "      https now: $(https_get | tr -d '\n')"
measure "   lb1's $PROXY_IMPL started again (preempts)" "$((WINDOW + 1))" start_proxy lb1
back_to_lb1 || echo "   (lb1 has not taken the VIP back)"

kill_vrrp() { kill -KILL -- "-${VRRP_PID[lb1]}"; }
measure "2. SIGKILL lb1's $VRRP_IMPL" "$WINDOW" kill_vrrp
if [[ $VRRP_IMPL == vrrpd ]]; then
    echo "      (its VIP stays on lb1 while lb1's proxy can still answer, and expires after"
    echo "       the VIP lifetime; keepalived's stays until keepalived starts again)"
else
    echo "      (a killed keepalived leaves its VIP on lb1 until it starts again)"
fi
measure "   lb1's $VRRP_IMPL started again (preempts)" "$((WINDOW + 1))" start_vrrp lb1
back_to_lb1 || echo "   (lb1 has not taken the VIP back)"

link() { ip -n "$(ns_of lb1)" link set eth0 "$1"; }
measure "3. lb1's link down" "$WINDOW" link down
measure "   lb1's link up again (preempts)" "$((WINDOW + 1))" link up
back_to_lb1 || echo "   (lb1 has not taken the VIP back)"

term_vrrp() { kill -TERM "${VRRP_PID[lb1]}"; }
measure "4. SIGTERM lb1's $VRRP_IMPL (graceful)" "$WINDOW" term_vrrp
measure "   lb1's $VRRP_IMPL started again (preempts)" "$((WINDOW + 1))" start_vrrp lb1
back_to_lb1 || echo "   (lb1 has not taken the VIP back)"

kill_backend() { kill -KILL -- "-${BE_PID[1]}"; }
measure "5. SIGKILL backend be1" 3 kill_backend
start "be1-again" "$(ns_of be1)" "$KIT/tk-http" --listen 0.0.0.0:8080 --name be1 --say-peer
BE_PID[1]=$STARTED

reload_proxy() {
    if [[ $PROXY_IMPL == lbproxy ]]; then kill -HUP "${PROXY_PID[lb1]}"
    else start_proxy lb1 && sleep 0.2; fi # HAProxy without master-worker: no reload signal
}
if [[ $PROXY_IMPL == lbproxy ]]; then
    measure "6. reload lb1's lbproxy (SIGHUP)" 3 reload_proxy
fi

echo
echo "== summary ($IMPL, v$VERSION advert_int $ADVERT)"
printf '   %s\n' "${ROWS[@]}"
if [[ -n $PROM ]]; then
    q=$(on_client curl -s -m 3 "http://127.0.0.1:9090/api/v1/query" \
        --data-urlencode 'query=changes(keepalived_vrrp_state[10m])' || true)
    echo "   Prometheus saw keepalived_vrrp_state change (10 min):" \
        "$(grep -o '"instance":"[^"]*"[^]]*"value":\[[^,]*,"[0-9]*"' <<<"$q" |
            sed 's/"instance":"\([^"]*\)".*,"\([0-9]*\)"$/\1 \2 times/' | paste -sd, -)"
fi
ok=1
[[ $(vip_holders) == lb1 ]] || { echo "   VIP is on $(vip_holders), not lb1 alone" >&2; ok=0; }
answers || { echo "   the VIP does not answer at the end" >&2; ok=0; }
https_get -o /dev/null || { echo "   HTTPS does not answer at the end" >&2; ok=0; }
((ok)) && echo "   every fault recovered; lb1 holds the VIP again and answers over HTTP and HTTPS"
((ok))
