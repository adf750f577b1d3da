#!/usr/bin/env bash
# The main job, live: a two-node HA load-balancer cluster in network namespaces.
#
# usage: sudo scripts/demo-ha-cluster.sh [--duration SECONDS] [--impl VRRP+PROXY] [--no-build]
#   --impl  vrrpd+lbproxy (default, built with `cargo build --release -p bins`),
#           keepalived+haproxy (Debian's), or a mix such as vrrpd+haproxy.
#           IMPL=... in the environment works too.
#   --duration  total length of the three phases (default 30 s, at least 9).
#   ADVERT_INT (env, default 1) and VRRP_VERSION (env, default 2) tune VRRP.
#
#        client 198.18.0.50  -- curl http://VIP/ every 250 ms
#           |
#   ----- bridge -----------------------------------------------
#      |                    |                 |      |      |
#   lb1 198.18.0.1       lb2 198.18.0.2      be1    be2    be3   198.18.0.11-13
#   VRRP prio 110        VRRP prio 100       tk-http :8080, each says its name and
#   proxy *:80           proxy *:80          which proxy node connected to it
#   VIP 198.18.0.100/24 on the VRRP Master
#
# Phases: (1) lb1 is Master and serves; (2) lb1's VRRP daemon is SIGKILLed: lb2 takes the
# VIP, its GARP moves the client over; (3) lb1's VRRP daemon is started again and preempts.
# The same keepalived.conf and haproxy.cfg serve both implementations. Everything lives in
# namespaces created here and is removed on exit (trap); every loop is bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMPL=${IMPL:-vrrpd+lbproxy}
DURATION=30
BUILD=1
ADVERT_INT=${ADVERT_INT:-1}
VRRP_VERSION=${VRRP_VERSION:-2}
VIP=198.18.0.100

die() { echo "demo: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --impl) IMPL=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
done
[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION >= 9 && DURATION <= 3600)) || die "--duration 9..3600"
VRRP_IMPL=${IMPL%%+*} PROXY_IMPL=${IMPL##*+}
[[ $VRRP_IMPL == vrrpd || $VRRP_IMPL == keepalived ]] || die "VRRP part: vrrpd or keepalived"
[[ $PROXY_IMPL == lbproxy || $PROXY_IMPL == haproxy ]] || die "proxy part: lbproxy or haproxy"
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"

BINS=$ROOT/target/release
KIT=${CARGO_TARGET_DIR:-$ROOT/target}/release

if ((BUILD)); then
    echo "== building"
    if [[ $VRRP_IMPL == vrrpd || $PROXY_IMPL == lbproxy ]]; then
        (cd "$ROOT" && CARGO_TARGET_DIR=$ROOT/target cargo build --release -q -p bins) ||
            die "cargo build --release -p bins failed"
    fi
    (cd "$ROOT" && cargo build --release -q -p testkit --bins) || die "building tk-http failed"
fi
[[ -x $KIT/tk-http ]] || die "$KIT/tk-http missing (cargo build --release -p testkit)"
case $VRRP_IMPL in
    vrrpd) [[ -x $BINS/vrrpd ]] || die "$BINS/vrrpd missing" ;;
    keepalived) command -v keepalived >/dev/null || die "keepalived not installed" ;;
esac
case $PROXY_IMPL in
    lbproxy) [[ -x $BINS/lbproxy ]] || die "$BINS/lbproxy missing" ;;
    haproxy) command -v haproxy >/dev/null || die "haproxy not installed" ;;
esac

WORK=$(mktemp -d /tmp/demo-ha.XXXXXX)
BASE=demo$$
NAMESPACES=()
PIDS=()

gone() { ! kill -0 "$1" 2>/dev/null; }
# wait_for SECONDS CMD...: poll every 50 ms, at most SECONDS.
wait_for() {
    local n=$(($1 * 20)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}

cleanup() {
    local p ns
    set +e
    for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; done
    for ns in "${NAMESPACES[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    for p in "${PIDS[@]}"; do wait_for 2 gone "$p"; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
    echo "== cleaned up (namespaces ${BASE}-* removed)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME NS CMD...: run in namespace NS in its own process group, log to $WORK/NAME.log;
# the pid is left in STARTED.
start() {
    local name=$1 ns=$2
    shift 2
    setsid ip netns exec "$ns" "$@" >"$WORK/$name.log" 2>&1 &
    STARTED=$!
    disown "$STARTED"
    PIDS+=("$STARTED")
}

ns_of() { echo "$BASE-$1"; }

echo "== lab: namespaces $BASE-*"
BR=$(ns_of br)
ip netns add "$BR"; NAMESPACES+=("$BR")
ip -n "$BR" link add br0 type bridge mcast_snooping 0 stp_state 0
ip -n "$BR" link set lo up
ip -n "$BR" link set br0 up
i=0
for node in lb1:198.18.0.1 lb2:198.18.0.2 be1:198.18.0.11 be2:198.18.0.12 be3:198.18.0.13 client:198.18.0.50; do
    i=$((i + 1))
    name=${node%%:*} addr=${node##*:} ns=$(ns_of "${node%%:*}")
    ip netns add "$ns"; NAMESPACES+=("$ns")
    ip -n "$ns" link add eth0 address "02:00:c6:12:02:0$i" type veth peer name "p$i" netns "$BR"
    ip -n "$BR" link set "p$i" master br0
    ip -n "$BR" link set "p$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" addr add "$addr/24" dev eth0
    echo "   $name $addr"
done

echo "== backends: tk-http on be1..be3:8080"
for b in be1 be2 be3; do
    start "$b" "$(ns_of "$b")" "$KIT/tk-http" --listen 0.0.0.0:8080 --name "$b" --say-peer
done

# One haproxy.cfg for both proxies.
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 1000

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend web
    bind *:80
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /
    server be1 198.18.0.11:8080 check inter 1s
    server be2 198.18.0.12:8080 check inter 1s
    server be3 198.18.0.13:8080 check inter 1s
EOF

# One keepalived.conf per node, the same syntax for both VRRP daemons.
write_keepalived_conf() { # FILE ROUTER_ID STATE PRIORITY
    cat >"$1" <<EOF
global_defs {
    router_id $2
    vrrp_version $VRRP_VERSION
}

vrrp_instance VI_1 {
    state $3
    interface eth0
    virtual_router_id 51
    priority $4
    advert_int $ADVERT_INT
    virtual_ipaddress {
        $VIP/24
    }
}
EOF
}
write_keepalived_conf "$WORK/lb1.conf" lb1 MASTER 110
write_keepalived_conf "$WORK/lb2.conf" lb2 BACKUP 100

start_proxy() { # NODE
    local ns; ns=$(ns_of "$1")
    case $PROXY_IMPL in
        lbproxy) start "$1-proxy" "$ns" "$BINS/lbproxy" -f "$WORK/haproxy.cfg" ;;
        haproxy) start "$1-proxy" "$ns" haproxy -db -f "$WORK/haproxy.cfg" ;;
    esac
}

VRRP_LOG_N=0
start_vrrp() { # NODE; sets VRRP_PID_<NODE>
    local ns log; ns=$(ns_of "$1")
    VRRP_LOG_N=$((VRRP_LOG_N + 1))
    log="$1-vrrp-$VRRP_LOG_N"
    case $VRRP_IMPL in
        vrrpd) start "$log" "$ns" "$BINS/vrrpd" -n -l -D -f "$WORK/$1.conf" ;;
        keepalived)
            start "$log" "$ns" keepalived -n -l -D -G -P -f "$WORK/$1.conf" \
                -p "$WORK/$1-ka.pid" -r "$WORK/$1-vrrp.pid" -c "$WORK/$1-chk.pid" -b "$WORK/$1-bfd.pid" ;;
    esac
    printf -v "VRRP_PID_$1" '%s' "$STARTED"
}

echo "== proxies ($PROXY_IMPL) on lb1 and lb2, *:80 -> be1..be3"
if [[ $PROXY_IMPL == haproxy ]]; then
    haproxy -c -q -f "$WORK/haproxy.cfg" || die "haproxy -c rejects the config"
else
    "$BINS/lbproxy" -c -f "$WORK/haproxy.cfg" || die "lbproxy -c rejects the config"
fi
start_proxy lb1
start_proxy lb2

echo "== VRRP ($VRRP_IMPL, v$VRRP_VERSION, advert_int $ADVERT_INT): lb1 priority 110, lb2 priority 100"
start_vrrp lb1
start_vrrp lb2

has_vip() { ip -n "$(ns_of "$1")" -4 -o addr show dev eth0 | grep -q " $VIP/"; }
vip_holders() {
    local h=""
    has_vip lb1 && h="lb1"
    has_vip lb2 && h="${h:+$h+}lb2"
    echo "${h:-nobody}"
}
proxy_ok() { ip netns exec "$(ns_of client)" curl -s -m 1 -o /dev/null "http://$VIP/"; }

wait_for 15 has_vip lb1 || { cat "$WORK"/lb1-vrrp-*.log >&2; die "lb1 never became Master"; }
wait_for 10 proxy_ok || die "no answer on http://$VIP/ (see $WORK)"
echo "   lb1 is Master, http://$VIP/ answers"

T0=$(date +%s.%N)
declare -A COUNT=()
# One request and one line: time, who answered, who holds the VIP.
probe() {
    local t body lbnode
    t=$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { printf "%6.2f", a - b }')
    if body=$(ip netns exec "$(ns_of client)" curl -s -m 0.5 "http://$VIP/" 2>/dev/null) && [[ -n $body ]]; then
        # Body: "beN <- PROXY_IP"; the proxy's address says which LB node forwarded it.
        case ${body##*<- } in
            198.18.0.1) lbnode=lb1 ;;
            198.18.0.2) lbnode=lb2 ;;
            *) lbnode="?(${body##*<- })" ;;
        esac
        COUNT[$lbnode]=$((${COUNT[$lbnode]:-0} + 1))
        printf '[%ss] %-4s -> %-4s   VIP on %s\n' "$t" "$lbnode" "${body%% *}" "$(vip_holders)"
    else
        COUNT[fail]=$((${COUNT[fail]:-0} + 1))
        printf '[%ss] ---- no answer ----  VIP on %s\n' "$t" "$(vip_holders)"
    fi
}
# run_phase SECONDS: probe every 250 ms (bounded by count and by time).
run_phase() {
    local n=$(($1 * 4)) i end
    end=$(awk -v a="$(date +%s.%N)" -v s="$1" 'BEGIN { printf "%.3f", a + s }')
    for ((i = 0; i < n; i++)); do
        probe
        awk -v e="$end" -v n="$(date +%s.%N)" 'BEGIN { exit !(n >= e) }' && break
        sleep 0.25
    done
}

PHASE=$((DURATION / 3))
echo
echo "== phase 1: lb1 is Master (${PHASE}s)"
run_phase "$PHASE"

echo
echo "== phase 2: SIGKILL lb1's $VRRP_IMPL (pid $VRRP_PID_lb1): lb2 must take over (${PHASE}s)"
echo "   (a killed daemon cannot remove its VIP: it stays on lb1 until lb1's daemon starts"
echo "   again and clears it; lb2's gratuitous ARP is what moves the client over)"
kill -KILL -- "-$VRRP_PID_lb1"
run_phase "$PHASE"

echo
echo "== phase 3: restart lb1's $VRRP_IMPL: higher priority, it preempts (${PHASE}s)"
start_vrrp lb1
run_phase "$((DURATION - 2 * PHASE))"

echo
echo "== summary: answered by lb1 ${COUNT[lb1]:-0}, by lb2 ${COUNT[lb2]:-0}, no answer ${COUNT[fail]:-0}; VIP now on $(vip_holders)"
ok=1
((${COUNT[lb2]:-0} > 0)) || { echo "   lb2 never answered: no failover seen" >&2; ok=0; }
[[ $(vip_holders) == lb1 ]] || { echo "   VIP is not back on lb1 alone: no preemption seen" >&2; ok=0; }
((ok)) && echo "   failover and preemption shown"
((ok))
