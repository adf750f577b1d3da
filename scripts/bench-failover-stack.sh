#!/usr/bin/env bash
# Failover of the whole stack: the outage and the requests lost that a client sees on a VIP
# served by a VRRP daemon + a proxy on each of two nodes, for every fault an operator meets.
#
# usage: scripts/bench-failover-stack.sh [STACK...] [--cases "..."] [--modes "2:1 3:0.05"]
#                                        [--repeat N] [--out FILE] [--no-build]
#   STACK  vrrpd+lbproxy (target/release; `cargo build --release -p bins`; the proxy
#          tracked by vrrp_track_process) and keepalived+haproxy/script (Debian's; the proxy
#          tracked by a vrrp_script polling every 1 s, the usual keepalived setup): the
#          default, both. keepalived+haproxy tracks with vrrp_track_process as vrrpd does,
#          but keepalived subscribes to process events in its own network namespace, and
#          the kernel sends them in the initial one only: in these namespaces it logs
#          "Failed to set/clear process event listen - errno 111" and stays in FAULT (vrrpd
#          subscribes through --proc-events-netns). The stacks read the same haproxy.cfg
#          and the same keepalived.conf but for the tracking block.
#   mode   VERSION:ADVERT_INT (2:1 = VRRPv2 advert_int 1, 3:0.05 = VRRPv3 centiseconds).
#
# Topology (namespaces made here, removed on exit; 198.18.0.0/15 only):
#   lb1 198.18.0.1 (priority 110) and lb2 198.18.0.2 (priority 100): VRRP + proxy on *:80,
#   VIP 198.18.0.100/24; be1 198.18.0.11 and be2 198.18.0.12: tk-http on :8080, checked by
#   the proxies every 100 ms (fall 1, rise 2; retries 3, option redispatch); cl 198.18.0.10
#   runs vip-poller against VIP:80 every 10 ms (connect timeout 20 ms, answer 300 ms: the
#   poller asks one request at a time, so a request lost in flight holds it that long).
#
# Cases (the fault hits 1 s + a random fraction of advert_int after the poller starts):
#   vrrp-kill    SIGKILL of lb1's VRRP daemon (its proxy keeps running).
#   proxy-kill   SIGKILL of lb1's proxy; the VRRP daemon tracks it (weight 0: FAULT).
#   linkdown     `ip link set eth0 down` on lb1.
#   vrrp-term    SIGTERM of lb1's VRRP daemon (graceful: priority 0).
#   backend-kill SIGKILL of be1.
#   reload       lb1's proxy reloads its config (lbproxy: SIGHUP; HAProxy: a new process
#                with -sf, the documented seamless way without the master-worker mode).
#   preempt      lb1's VRRP daemon, killed beforehand (lb2 Master), starts again and takes
#                the VIP back.
#   nopreempt    the same with nopreempt on both: lb1 must leave the VIP on lb2.
#
# Columns: outage_ms = longest gap between two answers; lost = requests sent and never
#   answered; unconnected = connects that failed (refused, or no answer within 20 ms: the
#   gaps); start_ms = from starting lb1's VRRP daemon (proxies and backends already up) to
#   the first answer on the VIP; lb2's starts once lb1 is Master.
# KEEP=1 keeps every run's logs. Root only. Every wait is bounded; cleanup on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$ROOT/target/release
VIP=198.18.0.100
STACKS=()
CASES="vrrp-kill proxy-kill linkdown vrrp-term backend-kill reload preempt nopreempt"
MODES="2:1 3:0.05"
REPEAT=1
OUT=""
BUILD=1

die() { echo "bench-failover-stack: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --cases) CASES=$2; shift 2 ;;
        --modes) MODES=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        vrrpd+lbproxy|keepalived+haproxy|keepalived+haproxy/script) STACKS+=("$1"); shift ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
done
((${#STACKS[@]})) || STACKS=(keepalived+haproxy/script vrrpd+lbproxy)
[[ $REPEAT =~ ^[0-9]+$ ]] && ((REPEAT >= 1 && REPEAT <= 20)) || die "--repeat 1..20"
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"

if ((BUILD)); then
    (cd "$ROOT" && cargo build --release -q -p bins && cargo build --release -q -p testkit --bins) ||
        die "cargo build --release failed"
fi
for b in "$BIN/vrrpd" "$BIN/lbproxy" "$TARGET/release/tk-http" "$TARGET/release/vip-poller"; do
    [[ -x $b ]] || die "$b missing"
done
for t in keepalived haproxy; do command -v "$t" >/dev/null || die "$t not installed"; done

WORK=$(mktemp -d /tmp/bench-failover-stack.XXXXXX)
NAMESPACES=()
PIDS=()
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_for() { # SECONDS CMD...: poll every 10 ms
    local i n
    n=$(awk -v s="$1" 'BEGIN { printf "%d", s * 100 }')
    shift
    for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.01; done
    return 1
}
cleanup() {
    local p ns
    for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
    for ns in "${NAMESPACES[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    done
    for p in "${PIDS[@]}"; do wait_for 2 gone "$p" || true; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    NAMESPACES=() PIDS=()
}
trap 'cleanup; if [[ -n ${KEEP:-} ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi' EXIT
trap 'exit 130' INT TERM

# start LOG NS CMD...: in its own process group; the pid is left in STARTED.
start() {
    local log=$1 ns=$2
    shift 2
    setsid ip netns exec "$ns" "$@" >"$log" 2>&1 &
    STARTED=$!
    PIDS+=("$STARTED")
    disown "$STARTED"
}

setup_lab() { # RUN
    local base="bs$$-$1" i=0 node
    BR=$base-br LB1=$base-lb1 LB2=$base-lb2 BE1=$base-be1 BE2=$base-be2 CL=$base-cl
    ip netns add "$BR"; NAMESPACES+=("$BR")
    ip -n "$BR" link add br0 type bridge mcast_snooping 0 stp_state 0
    ip -n "$BR" link set br0 up
    for node in "$LB1:198.18.0.1" "$LB2:198.18.0.2" "$BE1:198.18.0.11" "$BE2:198.18.0.12" "$CL:198.18.0.10"; do
        i=$((i + 1))
        local ns=${node%%:*} addr=${node##*:}
        ip netns add "$ns"; NAMESPACES+=("$ns")
        ip -n "$ns" link add eth0 address "02:00:c6:12:03:0$i" type veth peer name "p$i" netns "$BR"
        ip -n "$BR" link set "p$i" master br0
        ip -n "$BR" link set "p$i" up
        ip -n "$ns" link set lo up
        ip -n "$ns" link set eth0 up
        ip -n "$ns" addr add "$addr/24" dev eth0
    done
}

write_haproxy_cfg() { # FILE
    cat >"$1" <<EOF
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
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /
    server be1 198.18.0.11:8080 check inter 100ms fall 1 rise 2
    server be2 198.18.0.12:8080 check inter 100ms fall 1 rise 2
EOF
}

# The node's keepalived.conf. The proxy is started by its bare name from PATH, so its
# argv[0] equals its process name, with `-f CFG` first (param_match partial: the first
# parameters match); the config file's path tells this node's proxy from the other's (the
# namespaces share one pid namespace).
write_keepalived_conf() { # FILE ROUTER_ID PRIORITY VERSION ADVERT TRACK PROXY CFG EXTRA
    local track_block track_line
    if [[ $6 == script ]]; then
        printf '#!/bin/sh\nexec pgrep -f -- "-f %s" >/dev/null\n' "$8" >"${1%/*}/chk_proxy.sh"
        chmod 755 "${1%/*}/chk_proxy.sh"
        track_block="vrrp_script chk_proxy {
    script ${1%/*}/chk_proxy.sh
    interval 1
    fall 1
    rise 1
}"
        track_line="track_script {
        chk_proxy
    }"
    else
        track_block="vrrp_track_process chk_proxy {
    process $7 -f $8
    param_match partial
    weight 0
}"
        track_line="track_process {
        chk_proxy
    }"
    fi
    cat >"$1" <<EOF
global_defs {
    router_id $2
    vrrp_version $4
    script_user root
}

$track_block

vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $3
    advert_int $5
    $9
    $track_line
    virtual_ipaddress {
        $VIP/24
    }
}
EOF
}

# ---- per stack: start the VRRP daemon and the proxy, reload the proxy --------------------

start_vrrp() { # STACK NODE_DIR NS
    local dir=$2 ns=$3
    VRRP_RUN=$((${VRRP_RUN:-0} + 1))
    case $1 in
        vrrpd+lbproxy)
            start "$dir/vrrp-$VRRP_RUN.log" "$ns" "$BIN/vrrpd" -n -l -D -f "$dir/keepalived.conf" \
                --proc-events-netns "/proc/$$/ns/net" ;;
        keepalived+*)
            start "$dir/vrrp-$VRRP_RUN.log" "$ns" keepalived -n -l -D -G -P -f "$dir/keepalived.conf" \
                -p "$dir/keepalived.pid" -r "$dir/vrrp.pid" -c "$dir/checkers.pid" -b "$dir/bfd.pid" ;;
    esac
}

start_proxy() { # STACK NODE_DIR NS [OLD_PID]
    local dir=$2 ns=$3
    case $1 in
        vrrpd+lbproxy) start "$dir/proxy.log" "$ns" env PATH="$BIN:$PATH" lbproxy -f "$dir/haproxy.cfg" ;;
        keepalived+*)
            start "$dir/proxy-$((${PROXY_RUN:=0} + 1)).log" "$ns" haproxy -f "$dir/haproxy.cfg" -db ${4:+-sf "$4"}
            PROXY_RUN=$((PROXY_RUN + 1)) ;;
    esac
}

proxy_name() { [[ $1 == vrrpd+lbproxy ]] && echo lbproxy || echo haproxy; }

has_vip() { ip -n "$1" -4 -o addr show dev eth0 | grep -q " $VIP/"; }
answers() { ip netns exec "$CL" curl -s -m 0.2 -o /dev/null "http://$VIP/"; }

RESULTS=$WORK/results.tsv
: >"$RESULTS"

run_one() { # STACK VERSION ADVERT CASE RUN
    local stack=$1 ver=$2 adv=$3 case=$4 run=$5
    local dir=$WORK/$run track=process extra=""
    [[ $stack == */script ]] && track=script
    [[ $case == nopreempt ]] && extra=nopreempt
    mkdir -p "$dir/lb1" "$dir/lb2" "$dir/be"
    setup_lab "$run"
    start "$dir/be/be1.log" "$BE1" "$TARGET/release/tk-http" --listen 0.0.0.0:8080 --name be1
    local be1=$STARTED
    start "$dir/be/be2.log" "$BE2" "$TARGET/release/tk-http" --listen 0.0.0.0:8080 --name be2
    local n prio
    for n in 1 2; do
        prio=$((n == 1 ? 110 : 100))
        write_haproxy_cfg "$dir/lb$n/haproxy.cfg"
        write_keepalived_conf "$dir/lb$n/keepalived.conf" "lb$n" "$prio" "$ver" "$adv" "$track" \
            "$(proxy_name "$stack")" "$dir/lb$n/haproxy.cfg" "$extra"
    done
    start_proxy "$stack" "$dir/lb1" "$LB1"; local proxy1=$STARTED
    start_proxy "$stack" "$dir/lb2" "$LB2"
    sleep 0.5 # the proxies' first checks

    local t0 t1 start_ms
    t0=$(date +%s.%N)
    start_vrrp "$stack" "$dir/lb1" "$LB1"; local vrrp1=$STARTED
    wait_for 15 answers || { echo "run $run: the VIP never answered" >&2; cleanup; return 0; }
    t1=$(date +%s.%N)
    start_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
    local down
    down=$(awk -v a="$adv" -v v="$ver" 'BEGIN { s = (v == 2) ? 156 / 256 : 156 * a / 256; print 3 * a + s }')
    wait_for "$(awk -v d="$down" 'BEGIN { print d + 5 }')" has_vip "$LB1" || echo "run $run: lb1 not Master" >&2
    # lb2 once lb1 is Master: with nopreempt, an lb2 that won the start race would stay.
    start_vrrp "$stack" "$dir/lb2" "$LB2"
    sleep "$(awk -v d="$down" 'BEGIN { print d + 0.5 }')"

    if [[ $case == preempt || $case == nopreempt ]]; then
        # lb1 goes away first; measured is its return.
        kill -KILL -- "-$vrrp1"
        wait_for "$(awk -v d="$down" 'BEGIN { print d + 3 }')" has_vip "$LB2" || echo "run $run: lb2 did not take over" >&2
        sleep 1
    fi

    local duration
    duration=$(awk -v d="$down" -v a="$adv" 'BEGIN { printf "%d", (1 + a + d + 3) * 1000 }')
    ip netns exec "$CL" "$TARGET/release/vip-poller" --target "$VIP:80" --interval-ms 10 \
        --timeout-ms 20 --answer-timeout-ms 300 --duration-ms "$duration" >"$dir/poller.json" 2>&1 &
    local poller=$!
    PIDS+=("$poller")
    local r=$RANDOM
    sleep 1
    sleep "$(awk -v a="$adv" -v r="$r" 'BEGIN { print a * r / 32768 }')"
    case $case in
        vrrp-kill) kill -KILL -- "-$vrrp1" ;;
        proxy-kill) kill -KILL -- "-$proxy1" ;;
        linkdown) ip -n "$LB1" link set eth0 down ;;
        vrrp-term) kill -TERM "$vrrp1" ;;
        backend-kill) kill -KILL -- "-$be1" ;;
        reload)
            if [[ $stack == vrrpd+lbproxy ]]; then kill -HUP "$proxy1"
            else start_proxy "$stack" "$dir/lb1" "$LB1" "$(pgrep -f -- "-f $dir/lb1/haproxy.cfg" | head -1)"; fi ;;
        preempt|nopreempt) start_vrrp "$stack" "$dir/lb1" "$LB1" ;;
        *) die "unknown case $case" ;;
    esac
    wait "$poller" || true
    local j gap lost fail verdict=ok owner
    j=$(cat "$dir/poller.json")
    field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" <<<"$j" | tr -d '"'; }
    gap=$(field longest_gap_ms); lost=$(field lost); fail=$(field fail)
    owner=$( (has_vip "$LB1" && echo lb1) ; (has_vip "$LB2" && echo lb2) ) || true
    owner=$(echo $owner | tr ' ' '+')
    if [[ -z $gap ]]; then verdict=no-output; gap=FAIL; lost=-; fail=-
    elif awk -v t="$(field tail_gap_ms)" 'BEGIN { exit !(t > 500) }'; then verdict=never-recovered
    fi
    case $case in
        preempt) [[ $owner == lb1 ]] || verdict="vip-on-${owner:-nobody}" ;;
        nopreempt) [[ $owner == lb2 ]] || verdict="vip-on-${owner:-nobody}" ;;
    esac
    printf '%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\n' "$stack" "$ver" "$adv" "$case" "$gap" "$lost" \
        "$((fail - lost))" "$start_ms" "$verdict" >>"$RESULTS"
    [[ $verdict == ok ]] || echo "run $run ($stack v$ver $adv $case): $verdict; poller: $j" >&2
    cleanup
}

n=0
for ((r = 1; r <= REPEAT; r++)); do
    for mode in $MODES; do
        ver=${mode%%:*} adv=${mode##*:}
        for case in $CASES; do
            # Stacks alternate within a case, so a drift of the machine weighs on all.
            for stack in "${STACKS[@]}"; do
                n=$((n + 1))
                echo "== $stack v$ver advert_int $adv $case (run $r/$REPEAT)" >&2
                run_one "$stack" "$ver" "$adv" "$case" "$n"
            done
        done
    done
done

{
    printf '%-26s %-3s %-6s %-12s %10s %5s %11s %8s  %s\n' stack ver advert case outage_ms lost unconnected start_ms verdict
    sort -t$'\t' -k2,2 -k3,3nr -k4,4 "$RESULTS" | while IFS=$'\t' read -r stack ver adv case gap lost unc st verdict; do
        printf '%-26s v%-2s %-6s %-12s %10s %5s %11s %8s  %s\n' "$stack" "$ver" "$adv" "$case" "$gap" "$lost" "$unc" "$st" "$verdict"
    done
    if ((REPEAT > 1)); then
        echo
        echo "medians over $REPEAT runs (of 2: the mean):"
        # median COLUMN for one stack/mode/case (mawk has no sort of its own).
        median() {
            awk -F'\t' -v s="$1" -v v="$2" -v a="$3" -v c="$4" -v k="$5" \
                '$1 == s && $2 == v && $3 == a && $4 == c { print $k }' "$RESULTS" |
                sort -g | awk '{ x[NR] = $1 } END { m = int((NR + 1) / 2); print (NR % 2) ? x[m] : (x[m] + x[m + 1]) / 2 }'
        }
        cut -f1-4 "$RESULTS" | sort -u | sort -t$'\t' -k2,2 -k3,3nr -k4,4 |
            while IFS=$'\t' read -r stack ver adv case; do
                printf '%-26s v%-2s %-6s %-12s outage %6s  lost %3s  start %6s\n' "$stack" "$ver" "$adv" \
                    "$case" "$(median "$stack" "$ver" "$adv" "$case" 5)" \
                    "$(median "$stack" "$ver" "$adv" "$case" 6)" "$(median "$stack" "$ver" "$adv" "$case" 8)"
            done
    fi
} | tee "${OUT:-/dev/null}"
