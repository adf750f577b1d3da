#!/usr/bin/env bash
# Failover benchmark: the outage a client sees on a VIP when the VRRP Master goes away.
#
# usage: scripts/bench-failover.sh [IMPL...] [--cases "sigkill sigterm linkdown"]
#                                  [--modes "2:1 3:0.1 3:0.05"] [--repeat N] [--out FILE]
#   IMPL: keepalived (default) and/or vrrpd (target/release/vrrpd; build it with
#         `cargo build --release -p bins`). Both get the very same keepalived.conf.
#   mode VERSION:ADVERT_INT, e.g. 2:1 = VRRPv2 advert_int 1, 3:0.05 = VRRPv3 advert_int 0.05.
#
# Topology (network namespaces made here, removed on exit; addresses from 198.18.0.0/15):
#   lb1 198.18.0.1 (Master, priority 110) --+
#   lb2 198.18.0.2 (Backup, priority 100) --+-- bridge
#   cl  198.18.0.10 (client)              --+
#   VIP 198.18.0.100/24. lb1 and lb2 run `tk-http` on 0.0.0.0:8080 answering their name; the
#   client runs `vip-poller` against VIP:8080 every 10 ms (connect/read timeout 20 ms).
#
# Cases (the fault hits lb1 1 s + a random fraction of advert_int after the poller starts):
#   sigkill   lb1's VRRP daemon (whole process group) and its service are SIGKILLed at once:
#             the Master node dies. Theory: 3 x advert_int + Skew_Time.
#   sigterm   lb1's VRRP daemon gets SIGTERM (graceful: priority 0 advert, VIP removed);
#             its service keeps running. Theory: Skew_Time.
#   linkdown  `ip link set eth0 down` on lb1. Theory: 3 x advert_int + Skew_Time.
#   Skew_Time = (256 - 100) / 256 s for v2, (256 - 100) x advert_int / 256 for v3.
#
# Columns: outage_ms = longest gap between two successful responses (what a client sees);
#   fault_to_ok_ms = from the fault to the first response after it; answered_by = who
#   answered after the gap (must be lb2). The Backup's timer runs from the last advert it
#   heard, up to one advert_int before the fault, so for sigkill/linkdown the figures fall in
#   [theory - advert_int, theory + poll interval + poll timeout] (30 ms here).
#   phase_ms = time from the last advert of lb1 that lb2 received (its capture timestamp,
#   from a tcpdump running in lb2 for the whole measurement) to the fault; excess_ms = fault_to_ok_ms
#   minus the protocol's own deadline for that run (theory - phase for sigkill/linkdown,
#   theory for sigterm): what the implementation adds to the RFC timers (reaction, VIP,
#   GARP) plus what the poller adds (an attempt that started before the takeover waits for
#   its timeout): up to poll interval + poll timeout. It takes the phase out.
#   reaction_ms = from the same capture: lb2's first gratuitous ARP for the VIP minus the RFC
#   deadline (lb1's last advert + Master_Down_Interval; for sigterm, its priority 0 advert +
#   Skew_Time), both kernel timestamps on lb2: what the implementation itself adds to the
#   protocol's timers, to the microsecond, with no poller in it. The figure for "within 20 ms
#   of 3 x advert_int + Skew_Time" and for comparing implementations.
#
# KEEP=1 in the environment keeps each run's logs, advert capture and poller output.
# Root only. Every wait is bounded; everything is cleaned up on exit (trap).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VRRPD=${VRRPD:-$ROOT/target/release/vrrpd}
VIP=198.18.0.100
PORT=8080
POLL_MS=10
POLL_TIMEOUT_MS=20

IMPLS=()
CASES="sigkill sigterm linkdown"
MODES="2:1 3:0.1 3:0.05"
REPEAT=1
OUT=""
BUILD=1

die() { echo "bench-failover: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --cases) CASES=$2; shift 2 ;;
        --modes) MODES=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        keepalived|vrrpd) IMPLS+=("$1"); shift ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
done
((${#IMPLS[@]})) || IMPLS=(keepalived)
[[ $REPEAT =~ ^[0-9]+$ ]] && ((REPEAT >= 1 && REPEAT <= 50)) || die "--repeat 1..50"
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"

# ---- per-implementation part: check, start (sets IMPL_PID), and nothing else --------------

impl_keepalived_check() { command -v keepalived >/dev/null || die "keepalived not installed"; }
impl_keepalived_start() { # NS CONF DIR
    local ns=$1 conf=$2 dir=$3
    # Distinct pid files so several keepalived run side by side; -P: VRRP only.
    setsid ip netns exec "$ns" keepalived -n -l -D -G -P -f "$conf" \
        -p "$dir/keepalived.pid" -r "$dir/vrrp.pid" -c "$dir/checkers.pid" -b "$dir/bfd.pid" \
        >"$dir/impl.log" 2>&1 &
    IMPL_PID=$!
}

impl_vrrpd_check() { [[ -x $VRRPD ]] || die "$VRRPD missing: cargo build --release -p bins"; }
impl_vrrpd_start() { # NS CONF DIR
    local ns=$1 conf=$2 dir=$3
    setsid ip netns exec "$ns" "$VRRPD" -n -l -D -f "$conf" >"$dir/impl.log" 2>&1 &
    IMPL_PID=$!
}

# The same keepalived.conf for every implementation.
write_conf() { # FILE ROUTER_ID STATE PRIORITY VERSION ADVERT_INT
    cat >"$1" <<EOF
global_defs {
    router_id $2
    vrrp_version $5
}

vrrp_instance VI_1 {
    state $3
    interface eth0
    virtual_router_id 51
    priority $4
    advert_int $6
    virtual_ipaddress {
        $VIP/24
    }
}
EOF
}

# ---- lab ---------------------------------------------------------------------------------

WORK=$(mktemp -d /tmp/bench-failover.XXXXXX)
NAMESPACES=()
PIDS=()

cleanup() {
    local p ns
    for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
    for ns in "${NAMESPACES[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    done
    for p in "${PIDS[@]}"; do wait_for 2 gone "$p" || true; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    NAMESPACES=()
    PIDS=()
}
# KEEP=1 keeps the logs, captures and poller output of every run (the folder is printed).
trap 'cleanup; if [[ -n ${KEEP:-} ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi' EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS CMD...: poll every 10 ms, at most SECONDS.
wait_for() {
    local limit=$1 i n
    shift
    n=$(awk -v s="$limit" 'BEGIN { printf "%d", s * 100 }')
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.01
    done
    return 1
}

gone() { ! kill -0 "$1" 2>/dev/null; }
has_vip() { ip -n "$1" -4 -o addr show dev eth0 | grep -q " $VIP/"; }

setup_lab() { # RUN_ID
    local base="bf$$-$1" i node
    BR=$base-br LB1=$base-lb1 LB2=$base-lb2 CL=$base-cl
    ip netns add "$BR"; NAMESPACES+=("$BR")
    ip -n "$BR" link add br0 type bridge mcast_snooping 0 stp_state 0
    ip -n "$BR" link set lo up
    ip -n "$BR" link set br0 up
    i=0
    for node in "$LB1:198.18.0.1" "$LB2:198.18.0.2" "$CL:198.18.0.10"; do
        i=$((i + 1))
        local ns=${node%%:*} addr=${node##*:}
        ip netns add "$ns"; NAMESPACES+=("$ns")
        ip -n "$ns" link add eth0 address "02:00:c6:12:01:0$i" type veth peer name "p$i" netns "$BR"
        ip -n "$BR" link set "p$i" master br0
        ip -n "$BR" link set "p$i" up
        ip -n "$ns" link set lo up
        ip -n "$ns" link set eth0 up
        ip -n "$ns" addr add "$addr/24" dev eth0
    done
}

# ---- one measurement ---------------------------------------------------------------------

RESULTS=$WORK/results.tsv
: >"$RESULTS"

run_one() { # IMPL VERSION ADVERT CASE RUN_ID
    local impl=$1 ver=$2 adv=$3 case=$4 run=$5
    local dir=$WORK/$run
    mkdir -p "$dir/lb1" "$dir/lb2"
    setup_lab "$run"

    ip netns exec "$LB1" "$TARGET/release/tk-http" --listen "0.0.0.0:$PORT" --name lb1 >"$dir/lb1/http.log" 2>&1 &
    local http1=$!; PIDS+=("$http1"); disown "$http1"
    ip netns exec "$LB2" "$TARGET/release/tk-http" --listen "0.0.0.0:$PORT" --name lb2 >"$dir/lb2/http.log" 2>&1 &
    PIDS+=("$!"); disown "$!"

    write_conf "$dir/lb1/keepalived.conf" lb1 MASTER 110 "$ver" "$adv"
    write_conf "$dir/lb2/keepalived.conf" lb2 BACKUP 100 "$ver" "$adv"
    "impl_${impl}_start" "$LB1" "$dir/lb1/keepalived.conf" "$dir/lb1"
    local master=$IMPL_PID; PIDS+=("$master"); disown "$master"
    "impl_${impl}_start" "$LB2" "$dir/lb2/keepalived.conf" "$dir/lb2"
    PIDS+=("$IMPL_PID"); disown "$IMPL_PID"

    # Theory (seconds): master down interval of the Backup and its skew.
    local skew theory down
    if [[ $ver == 2 ]]; then skew=$(awk 'BEGIN { print 156 / 256 }')
    else skew=$(awk -v a="$adv" 'BEGIN { print 156 * a / 256 }'); fi
    down=$(awk -v a="$adv" -v s="$skew" 'BEGIN { print 3 * a + s }')
    if [[ $case == sigterm ]]; then theory=$skew; else theory=$down; fi

    # lb1 Master with the VIP, lb2 without; the client reaches lb1 through the VIP.
    if ! wait_for "$(awk -v d="$down" 'BEGIN { print d + 5 }')" has_vip "$LB1"; then
        echo "lb1 never became Master; its log:" >&2; cat "$dir/lb1/impl.log" >&2
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$impl" "$ver" "$adv" "$case" "FAIL" "-" \
            "$(awk -v t="$theory" 'BEGIN { printf "%.0f", t * 1000 }')" "no-master" >>"$RESULTS"
        cleanup; return 0
    fi
    sleep "$(awk -v a="$adv" 'BEGIN { s = 4 * a; if (s < 0.5) s = 0.5; print s }')"
    has_vip "$LB2" && echo "warning: VIP on lb2 as well before the fault" >&2
    wait_for 3 ip netns exec "$CL" curl -s -m 1 -o /dev/null "http://$VIP:$PORT/" ||
        echo "warning: client cannot reach the VIP before the fault" >&2

    # Every advert of lb1 as lb2 receives it and every ARP, with kernel timestamps and MACs:
    # the phase of the fault and the moment lb2 announces the VIP.
    ip netns exec "$LB2" tcpdump -i eth0 -n -l -e -tt --immediate-mode \
        "(ip proto 112 and src 198.18.0.1) or arp" >"$dir/adverts.txt" 2>/dev/null &
    local capture=$!; PIDS+=("$capture")
    local duration
    duration=$(awk -v d="$down" -v a="$adv" 'BEGIN { printf "%d", 1000 + a * 1000 + d * 1000 + 2000 }')
    ip netns exec "$CL" "$TARGET/release/vip-poller" --target "$VIP:$PORT" \
        --interval-ms "$POLL_MS" --timeout-ms "$POLL_TIMEOUT_MS" --duration-ms "$duration" \
        >"$dir/poller.json" 2>"$dir/poller.err" &
    local poller=$!; PIDS+=("$poller")
    # 1 s of steady state, then the fault at a random phase of the advert cycle, measured
    # from an advert of lb1 that lb2 has just received (tcpdump -c 1 returns on it): the
    # phase is then the same random variable for every implementation, so their outages
    # compare fairly. Without it the fault would always come just after an advert.
    # ($RANDOM read here, not inside $(...): a subshell would not advance the generator.)
    local r=$RANDOM
    sleep 1
    timeout 3 ip netns exec "$LB2" tcpdump -i eth0 -n -l -c 1 --immediate-mode \
        "ip proto 112 and src 198.18.0.1" >/dev/null 2>&1 ||
        echo "warning: no advert from lb1 seen before the fault" >&2
    sleep "$(awk -v a="$adv" -v r="$r" 'BEGIN { print a * r / 32768 }')"
    local fault_at
    fault_at=$(date +%s.%N)
    case $case in
        sigkill) kill -KILL -- "-$master"; kill -KILL "$http1" ;;
        sigterm) kill -TERM "$master" ;;
        linkdown) ip -n "$LB1" link set eth0 down ;;
        *) die "unknown case $case" ;;
    esac
    wait "$poller" || true
    kill "$capture" 2>/dev/null || true
    wait "$capture" 2>/dev/null || true
    # lb1's last advert is the last one lb2 received before its own first GARP after the
    # fault: an advert can leave lb1 after fault_at was taken, while `ip link set down` is
    # still starting, and lb1 sends none once the fault has struck (sigterm: the priority 0).
    local timing phase reaction
    timing=$(awk -v f="$fault_at" -v down="$down" -v skew="$skew" -v c="$case" -v vip="$VIP" '
        $2 == "02:00:c6:12:01:02" && /Request who-has/ && index($0, "tell " vip ",") && $1 > f && !g { g = $1 }
        /VRRP/ && !g && !/ prio 0,/ { last = $1 }
        /VRRP/ && / prio 0,/ && $1 >= f && !p0 { p0 = $1 }
        END {
            if (last) printf "%.0f ", (f - last) * 1000; else printf "- "
            dl = (c == "sigterm") ? (p0 ? p0 + skew : 0) : (last ? last + down : 0)
            if (g && dl) printf "%.1f\n", (g - dl) * 1000; else print "-"
        }' "$dir/adverts.txt")
    read -r phase reaction <<<"$timing"
    local j; j=$(cat "$dir/poller.json")
    field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" <<<"$j" | tr -d '"'; }
    local gap after gap_to start tail fault_ok
    gap=$(field longest_gap_ms); after=$(field after); gap_to=$(field gap_to_ms)
    start=$(field start_unix); tail=$(field tail_gap_ms)
    fault_ok=$(awk -v g="$gap_to" -v s="$start" -v f="$fault_at" 'BEGIN { printf "%.0f", g - (f - s) * 1000 }')
    local verdict=ok
    if [[ -z $gap ]]; then verdict="no-output"; gap=FAIL; fault_ok=-
    elif awk -v t="$tail" 'BEGIN { exit !(t > 200) }'; then verdict="never-recovered"; gap=FAIL; fault_ok=-
    elif [[ $after != lb2 ]]; then verdict="answered-by-$after"
    fi
    [[ $gap != FAIL ]] && gap=$(awk -v g="$gap" 'BEGIN { printf "%.0f", g }')
    local theory_ms excess=-
    theory_ms=$(awk -v t="$theory" 'BEGIN { printf "%.0f", t * 1000 }')
    if [[ $fault_ok != - && $phase != - ]]; then
        # sigterm's deadline (Skew_Time after the priority 0 advert) does not depend on phase.
        excess=$(awk -v o="$fault_ok" -v t="$theory_ms" -v p="$phase" -v c="$case" \
            'BEGIN { printf "%.0f", o - (c == "sigterm" ? t : t - p) }')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$impl" "$ver" "$adv" "$case" "$gap" "$fault_ok" \
        "$theory_ms" "$verdict" "$phase" "$excess" "$reaction" >>"$RESULTS"
    if [[ $verdict != ok ]]; then
        echo "run $run ($impl v$ver $adv $case): $verdict; poller: $j" >&2
    fi
    cleanup
}

# ---- main --------------------------------------------------------------------------------

for impl in "${IMPLS[@]}"; do "impl_${impl}_check"; done
if ((BUILD)); then
    (cd "$ROOT" && cargo build --release -q -p testkit --bins) || die "building testkit bins failed"
fi
for b in tk-http vip-poller; do [[ -x $TARGET/release/$b ]] || die "$TARGET/release/$b missing"; done

n=0
for impl in "${IMPLS[@]}"; do
    for mode in $MODES; do
        ver=${mode%%:*} adv=${mode##*:}
        [[ $ver == 2 || $ver == 3 ]] || die "bad mode $mode"
        for case in $CASES; do
            for ((r = 1; r <= REPEAT; r++)); do
                n=$((n + 1))
                echo "== $impl v$ver advert_int $adv $case (run $r/$REPEAT)" >&2
                run_one "$impl" "$ver" "$adv" "$case" "$n"
            done
        done
    done
done

{
    printf '%-11s %-3s %-7s %-9s %10s %15s %10s %9s %10s %12s  %s\n' impl ver advert case outage_ms fault_to_ok_ms theory_ms phase_ms excess_ms reaction_ms verdict
    while IFS=$'\t' read -r impl ver adv case gap fok theory verdict phase excess reaction; do
        printf '%-11s v%-2s %-7s %-9s %10s %15s %10s %9s %10s %12s  %s\n' "$impl" "$ver" "$adv" "$case" "$gap" "$fok" "$theory" "$phase" "$excess" "$reaction" "$verdict"
    done <"$RESULTS"
} | tee "${OUT:-/dev/null}"
if ((REPEAT > 1)); then
    echo
    echo "over $REPEAT runs (outage_ms; excess_ms and reaction_ms over the RFC deadline; implementations side by side):"
    # column_of IMPL VER ADVERT CASE COL SKIP: column COL of those runs, less SKIP, sorted.
    column_of() {
        awk -F'\t' -v a="$1" -v b="$2" -v c="$3" -v d="$4" -v col="$5" -v skip="$6" \
            '$1 == a && $2 == b && $3 == c && $4 == d && $col != skip { print $col }' "$RESULTS" | sort -g
    }
    # spread NONE SORTED...: "median min max count", or "NONE - - 0" without values.
    spread() {
        local none=$1; shift
        if (($# == 0)); then echo "$none - - 0"; return; fi
        local v=("$@"); echo "${v[$((($# - 1) / 2))]} ${v[0]} ${v[$(($# - 1))]} $#"
    }
    cut -f1-4,7 "$RESULTS" | sort -u | sort -t$'\t' -k2,2 -k3,3n -k4,4 -k1,1 | while IFS=$'\t' read -r impl ver adv case theory; do
        mapfile -t v < <(column_of "$impl" "$ver" "$adv" "$case" 5 FAIL)
        mapfile -t x < <(column_of "$impl" "$ver" "$adv" "$case" 10 -)
        mapfile -t y < <(column_of "$impl" "$ver" "$adv" "$case" 11 -)
        read -r med min max k <<<"$(spread FAIL "${v[@]}")"
        read -r xmed _ xmax _ <<<"$(spread - "${x[@]}")"
        read -r ymed _ ymax _ <<<"$(spread - "${y[@]}")"
        printf '%-11s v%-2s %-7s %-9s median %6s  min %6s  max %6s  theory %s  excess median %4s max %4s  reaction median %5s max %5s  (%d ok)\n' \
            "$impl" "$ver" "$adv" "$case" "$med" "$min" "$max" "$theory" "$xmed" "$xmax" "$ymed" "$ymax" "$k"
    done | tee -a "${OUT:-/dev/null}"
fi
