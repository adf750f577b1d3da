#!/usr/bin/env bash
# VRRP scale benchmark: one Master with N instances on one interface, vrrpd against
# keepalived: the daemon's CPU and memory, and how evenly its adverts leave (issue 16).
#
# usage: scripts/bench-vrrp-scale.sh [IMPL...] [--counts "1 16 64 255"] [--intervals "1 0.05"]
#            [--groups "0.05"] [--group-size 8] [--window-fast 20] [--window-slow 60]
#            [--out FILE] [--plot-only]
#   IMPL: vrrpd and/or keepalived (default both, vrrpd first in each pair). vrrpd is
#         $VRRPD or $CARGO_TARGET_DIR/release/vrrpd (`cargo build --release -p bins --bin vrrpd`).
#   Every (interval, N) runs both daemons one after the other, with the same keepalived.conf,
#   under `flock /tmp/halb-bench.lock` (taken by this script, per pair).
#   --intervals: advert_int values. 1 runs VRRPv2 (keepalived's default), anything under 1 s
#                VRRPv3 (v2 cannot go below 1 s).
#   --groups: the intervals at which the sync-group variant runs as well: the N instances
#             in vrrp_sync_groups of --group-size members (N = 1 has no group and is skipped).
#   --window-fast / --window-slow: the measured window in seconds, for intervals under 1 s /
#                from 1 s.
#   --plot-only: redraw the PNGs from the results file, run nothing.
#
# Topology (namespaces made here, removed on exit):
#   node ns: eth0 198.18.0.1/24, the daemon, Master of VRIDs 1..N (priority 150, state MASTER),
#            VIP 198.18.1.<VRID>/32 each.
#   cap ns:  eth0 198.18.0.2/24, the veth's other end: tcpdump writes every VRRP packet to a
#            pcap with the kernel's receive timestamps (microseconds).
# Each run: start the daemon, wait until all N VIPs are on eth0, wait 7 s more (keepalived's
# and vrrpd's garp_master_delay of 5 s fires in there, outside the window), start the capture,
# then measure the window: CPU from /proc/<pid>/task/*/schedstat (nanoseconds on CPU, every
# thread of every process in the node ns: keepalived's parent and VRRP child, vrrpd's one
# process) before and after, RSS (VmRSS summed over those processes) at the end, /proc/loadavg
# at the end.
#
# Output columns (scripts/bench-vrrp-scale-results.txt, one row per run):
#   daemon N int ver groups win_s  seen/expected: adverts in the window / N x win / int
#   missed: adverts absent from the wire (a gap of k intervals lacks k - 1)
#   jit_p50/p99/max_us: |gap - advert_int| between consecutive adverts of one VRID, over all
#   VRIDs, microseconds; cpu_pct: CPU time / window, % of one core; cpu_us_adv: CPU time per
#   advert seen, microseconds; rss_kB; load1: 1-minute load average at the end of the run.
#
# KEEP=1 keeps the logs, configs and pcaps. Root only; every wait is bounded; everything made
# here is removed on exit (trap).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VRRPD=${VRRPD:-$TARGET/release/vrrpd}
LOCK=/tmp/halb-bench.lock

IMPLS=()
COUNTS="1 16 64 255"
INTERVALS="1 0.05"
GROUPS_AT="0.05"
GROUP_SIZE=8
WIN_FAST=20
WIN_SLOW=60
OUT=$ROOT/scripts/bench-vrrp-scale-results.txt
PLOT_ONLY=0

die() { echo "bench-vrrp-scale: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --counts) COUNTS=$2; shift 2 ;;
        --intervals) INTERVALS=$2; shift 2 ;;
        --groups) GROUPS_AT=$2; shift 2 ;;
        --group-size) GROUP_SIZE=$2; shift 2 ;;
        --window-fast) WIN_FAST=$2; shift 2 ;;
        --window-slow) WIN_SLOW=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --plot-only) PLOT_ONLY=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        keepalived|vrrpd) IMPLS+=("$1"); shift ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
done
((${#IMPLS[@]})) || IMPLS=(vrrpd keepalived)
for n in $COUNTS; do [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 255)) || die "--counts: 1..255"; done
[[ $GROUP_SIZE =~ ^[0-9]+$ ]] && ((GROUP_SIZE >= 2)) || die "--group-size: 2 or more"

# ---- plots (gnuplot reads the results table) -------------------------------------------

plot() {
    command -v gnuplot >/dev/null || die "gnuplot not installed"
    local base=${OUT%-results.txt}
    [[ $base != "$OUT" ]] || base=${OUT%.txt}
    # sel DAEMON INTERVAL GROUPED: that series' rows (columns as in the table).
    local sel="awk '!/^#/ && \$1 == d && \$3 == i && ((g == 0) == (\$5 ~ /^-\$/))' d=%s i=%s g=%s $OUT"
    local series=() d i g
    for i in 0.05 1; do
        for g in 0 1; do
            for d in vrrpd keepalived; do
                [[ $g == 1 && $i == 1 ]] && continue
                series+=("$d $i $g")
            done
        done
    done
    # plot_cmd COLUMN: one line per series present.
    plot_cmd() {
        local col=$1 s out="" title cmd color dash
        for s in "${series[@]}"; do
            read -r d i g <<<"$s"
            cmd=$(printf "$sel" "$d" "$i" "$g")
            [[ -n $(eval "$cmd") ]] || continue
            title="$d, advert_int $i s"
            ((g)) && title="$title, sync groups of $GROUP_SIZE"
            if [[ $d == vrrpd ]]; then color="#1f77b4"; else color="#d62728"; fi
            if [[ $i == 1 ]]; then dash=2; elif ((g)); then dash=3; else dash=1; fi
            out+="${out:+, }\"< $cmd\" using 2:$col with linespoints lw 2 pt 7 dt $dash lc rgb \"$color\" title \"$title\""
        done
        echo "$out"
    }
    local common="set terminal pngcairo noenhanced size 1100,520 font 'sans,10'; set logscale x 2; set xtics (1, 4, 16, 64, 255); set xrange [0.8:320]; set grid; set key top left; set xlabel 'VRRP instances on one interface (N)'"
    gnuplot <<EOF
$common
set output '$base-jitter.png'
set multiplot layout 1,2 title 'Advert jitter: |gap - advert_int| between consecutive adverts of a VRID, on the wire (lower is better)'
set logscale y; set ylabel 'microseconds'
set title 'p99'
plot $(plot_cmd 11)
set title 'max'
plot $(plot_cmd 12)
unset multiplot
EOF
    gnuplot <<EOF
$common
set output '$base-cpu.png'
set multiplot layout 1,2 title 'CPU of the daemon while Master of N instances (lower is better)'
set logscale y; set ylabel '% of one core'
set title 'CPU time / wall time'
plot $(plot_cmd 13)
set title 'CPU time per advert sent (microseconds)'
set ylabel 'microseconds'
plot $(plot_cmd 14)
unset multiplot
EOF
    gnuplot <<EOF
$common
set terminal pngcairo noenhanced size 640,480 font 'sans,10'
set output '$base-rss.png'
set title 'Resident memory of the daemon (all its processes), lower is better'
set ylabel 'kB'
set yrange [0:*]
plot $(plot_cmd 15)
EOF
    echo "plots: $base-jitter.png $base-cpu.png $base-rss.png" >&2
}

if ((PLOT_ONLY)); then plot; exit 0; fi

[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for impl in "${IMPLS[@]}"; do
    case $impl in
        keepalived) command -v keepalived >/dev/null || die "keepalived not installed" ;;
        vrrpd) [[ -x $VRRPD ]] || die "$VRRPD missing: cargo build --release -p bins --bin vrrpd" ;;
    esac
done
command -v tcpdump >/dev/null || die "tcpdump not installed"

# ---- lab ---------------------------------------------------------------------------------

WORK=$(mktemp -d /tmp/bench-vrrp-scale.XXXXXX)
NAMESPACES=()
PIDS=()

wait_for() { # SECONDS CMD...: poll every 50 ms, at most SECONDS.
    local limit=$1 i n
    shift
    n=$(awk -v s="$limit" 'BEGIN { printf "%d", s * 20 }')
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}
gone() { ! kill -0 "$1" 2>/dev/null; }

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

setup_lab() { # RUN
    NODE="vs$$-$1-node" CAP="vs$$-$1-cap"
    ip netns add "$NODE"; NAMESPACES+=("$NODE")
    ip netns add "$CAP"; NAMESPACES+=("$CAP")
    ip -n "$NODE" link add eth0 address 02:00:c6:12:16:01 type veth peer name eth0 netns "$CAP"
    ip -n "$CAP" link set eth0 address 02:00:c6:12:16:02
    local ns
    for ns in "$NODE" "$CAP"; do ip -n "$ns" link set lo up; ip -n "$ns" link set eth0 up; done
    ip -n "$NODE" addr add 198.18.0.1/24 dev eth0
    ip -n "$CAP" addr add 198.18.0.2/24 dev eth0
}

write_conf() { # FILE N INTERVAL VERSION GROUPED
    local file=$1 n=$2 adv=$3 ver=$4 grouped=$5 i g
    {
        printf 'global_defs {\n    router_id scale\n    vrrp_version %s\n}\n\n' "$ver"
        for ((i = 1; i <= n; i++)); do
            printf 'vrrp_instance VI_%d {\n    state MASTER\n    interface eth0\n' "$i"
            printf '    virtual_router_id %d\n    priority 150\n    advert_int %s\n' "$i" "$adv"
            printf '    virtual_ipaddress {\n        198.18.1.%d/32\n    }\n}\n\n' "$i"
        done
        if ((grouped)); then
            for ((g = 0; g * GROUP_SIZE < n; g++)); do
                printf 'vrrp_sync_group G_%d {\n    group {\n' "$g"
                for ((i = g * GROUP_SIZE + 1; i <= n && i <= (g + 1) * GROUP_SIZE; i++)); do
                    printf '        VI_%d\n' "$i"
                done
                printf '    }\n}\n\n'
            done
        fi
    } >"$file"
}

start_daemon() { # IMPL CONF DIR
    local impl=$1 conf=$2 dir=$3
    case $impl in
        keepalived)
            setsid ip netns exec "$NODE" keepalived -n -l -D -G -P -f "$conf" \
                -p "$dir/keepalived.pid" -r "$dir/vrrp.pid" -c "$dir/checkers.pid" -b "$dir/bfd.pid" \
                >"$dir/daemon.log" 2>&1 & ;;
        vrrpd)
            setsid ip netns exec "$NODE" "$VRRPD" -n -l -D -f "$conf" >"$dir/daemon.log" 2>&1 & ;;
    esac
    PIDS+=("$!"); disown "$!"
}

vip_count() { ip -n "$NODE" -4 -o addr show dev eth0 | grep -c ' 198\.18\.1\.' || true; }
all_vips() { [[ $(vip_count) == "$1" ]]; }

# cpu_ns: nanoseconds on CPU of every thread of every process in the node namespace.
cpu_ns() {
    local p total=0 t
    for p in $(ip netns pids "$NODE"); do
        for t in /proc/"$p"/task/*/schedstat; do
            [[ -r $t ]] && read -r ns _ <"$t" 2>/dev/null && total=$((total + ns))
        done
    done
    echo "$total"
}
rss_kb() {
    local p total=0 kb
    for p in $(ip netns pids "$NODE"); do
        kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

ROWS=$WORK/rows.txt
: >"$ROWS"
ROW_FMT='%-10s %3s %5s %3s %6s %5s %7s %8s %6s %9s %9s %9s %8s %10s %8s %6s\n'

run_one() { # IMPL N INTERVAL GROUPED RUN
    local impl=$1 n=$2 adv=$3 grouped=$4 run=$5 ver=3 win=$WIN_FAST
    local dir=$WORK/$run
    mkdir -p "$dir"
    awk -v a="$adv" 'BEGIN { exit !(a >= 1) }' && { ver=2; win=$WIN_SLOW; }
    setup_lab "$run"
    write_conf "$dir/keepalived.conf" "$n" "$adv" "$ver" "$grouped"
    start_daemon "$impl" "$dir/keepalived.conf" "$dir"
    local groups=-
    ((grouped)) && groups=$(((n + GROUP_SIZE - 1) / GROUP_SIZE))x$GROUP_SIZE
    if ! wait_for 30 all_vips "$n"; then
        echo "$impl N=$n int=$adv: only $(vip_count) of $n VIPs after 30 s; log tail:" >&2
        tail -5 "$dir/daemon.log" >&2
        printf "$ROW_FMT" "$impl" "$n" "$adv" "v$ver" "$groups" "$win" FAIL - - - - - - - - - >>"$ROWS"
        cleanup; return 0
    fi
    sleep 7
    ip netns exec "$CAP" tcpdump -i eth0 -n -B 32768 --time-stamp-precision=micro \
        -w "$dir/adverts.pcap" "ip proto 112" 2>"$dir/tcpdump.err" &
    local cap=$!; PIDS+=("$cap")
    wait_for 5 grep -q "listening on" "$dir/tcpdump.err" || die "tcpdump did not start: $(cat "$dir/tcpdump.err")"
    sleep 0.5
    local t0 t1 c0 c1
    t0=$(date +%s.%N); c0=$(cpu_ns)
    sleep "$win"
    c1=$(cpu_ns); t1=$(date +%s.%N)
    local rss load have
    rss=$(rss_kb); load=$(cut -d' ' -f1 /proc/loadavg); have=$(vip_count)
    # tcpdump reads the kernel's ring a block at a time, a block at least every second:
    # stopping it sooner loses the last second of the window.
    sleep 1.5
    kill -INT "$cap"; wait "$cap" 2>/dev/null || true
    grep -E "dropped by kernel" "$dir/tcpdump.err" | grep -qv "^0 " && echo "warning: tcpdump: $(grep 'dropped by kernel' "$dir/tcpdump.err")" >&2
    [[ $have == "$n" ]] || echo "warning: $impl N=$n: $have of $n VIPs at the end of the window" >&2
    local vrids seen missed p50 p99 max gaps
    read -r vrids seen missed p50 p99 max gaps < <(python3 "$ROOT/scripts/vrrp-advert-gaps.py" "$dir/adverts.pcap" "$adv" "$t0" "$t1")
    [[ $vrids == "$n" ]] || echo "warning: $impl N=$n: adverts of $vrids VRIDs seen" >&2
    local wall expected pct per
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    expected=$(awk -v n="$n" -v w="$wall" -v a="$adv" 'BEGIN { printf "%.0f", n * w / a }')
    pct=$(awk -v c=$((c1 - c0)) -v w="$wall" 'BEGIN { printf "%.3f", c / 1e9 / w * 100 }')
    per=$(awk -v c=$((c1 - c0)) -v s="$seen" 'BEGIN { printf "%.1f", s ? c / 1e3 / s : 0 }')
    printf "$ROW_FMT" "$impl" "$n" "$adv" "v$ver" "$groups" "$win" "$seen" "$expected" "$missed" \
        "$p50" "$p99" "$max" "$pct" "$per" "$rss" "$load" | tee -a "$ROWS" >&2
    cleanup
}

# ---- main --------------------------------------------------------------------------------

run=0
for adv in $INTERVALS; do
    variants=0
    [[ " $GROUPS_AT " == *" $adv "* ]] && variants="0 1"
    for grouped in $variants; do
        for n in $COUNTS; do
            ((grouped && n == 1)) && continue
            # One pair of runs at a time, under the benchmark lock.
            exec 9>"$LOCK"
            flock 9
            for impl in "${IMPLS[@]}"; do
                run=$((run + 1))
                echo "== $impl N=$n advert_int $adv$( ((grouped)) && echo " sync groups of $GROUP_SIZE") (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
                run_one "$impl" "$n" "$adv" "$grouped" "$run"
            done
            exec 9>&-
        done
    done
done

{
    printf '# %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) cores, keepalived $(keepalived --version 2>&1 | head -1 | awk '{print $2}'), vrrpd $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    printf '# command: scripts/bench-vrrp-scale.sh %s --counts "%s" --intervals "%s" --groups "%s" --window-fast %s --window-slow %s\n' \
        "${IMPLS[*]}" "$COUNTS" "$INTERVALS" "$GROUPS_AT" "$WIN_FAST" "$WIN_SLOW"
    printf "#$ROW_FMT" daemon N int ver groups win_s seen expected missed jit_p50_us jit_p99_us jit_max_us cpu_pct cpu_us_adv rss_kB load1 | sed 's/^# /#/'
    cat "$ROWS"
} >"$WORK/table.txt"
cat "$WORK/table.txt"
if [[ -e $OUT ]] && grep -q '^# ---- table' "$OUT"; then
    # Keep the hand-written header above the table marker; replace the table.
    sed -n '1,/^# ---- table/p' "$OUT" >"$WORK/out.txt"
    cat "$WORK/table.txt" >>"$WORK/out.txt"
    cp "$WORK/out.txt" "$OUT"
else
    { echo "# ---- table"; cat "$WORK/table.txt"; } >"$OUT"
fi
plot
