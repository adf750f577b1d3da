#!/usr/bin/env bash
# shellcheck disable=SC2329 # functions called indirectly: trap, wait_for CMD, "fault_$f"
# Soak test: lbproxy and two vrrpd nodes under steady wrk load while faults are injected on a
# schedule; open files, RSS and CPU of every daemon sampled each second (issue 18).
#
# usage: sudo scripts/soak.sh [--minutes N] [--out DIR] [--keep]
#   --minutes N  length of the run (default 10; under 5 is the short mode for trying: shorter
#                warmup, gaps and fault windows so that every fault fits into 2 minutes).
#   --out DIR    where soak.csv, soak-wrk.csv, soak-windows.csv, soak.png and results.txt go
#                (default docs/soak).
#   --keep       keep the work directory (daemon logs, configs) instead of removing it.
#   LBPROXY=..., VRRPD=... (env) override the binaries (default target/release/*).
# Exits 0 when every check passes, 1 when one fails, 2 on a setup error.
# One file past 600 lines on purpose: set-up, faults and sampling share the namespace names
# and the trap that removes them; the checks and the plot are in scripts/soak-report.py.
#
#   client 198.18.0.50: wrk -c16 -> http://VIP/ in consecutive slices; the faults' clients
#      |
#   ----- bridge (namespace soak-PID-br) -------------------------------
#      |                        |                   |       |       |
#   lb1 198.18.0.1           lb2 198.18.0.2        be1     be2     be3   198.18.0.11-13
#   vrrpd prio 110 (Master)  vrrpd prio 100        nginx :8080, keepalive_timeout 5s
#   lbproxy *:80 -> be1..be3
#   VIP 198.18.0.100/24
#
# Before the sampling starts, a 200-connection burst primes lbproxy (its allocator reaches
# the size the faults will need). Then a warmup; its last 10 s are the baseline. Faults, each
# in a labelled window, in this order, repeated while time remains, a calm gap after each:
#   backend-kill    SIGKILL be2's nginx (master and worker), restart it after a while
#   idle-close      load paused after a 200-connection burst, one request each 0.5 s while
#                   nginx closes the idle upstream connections (keepalive_timeout 5s)
#   nginx-reload    SIGHUP to every nginx under load (old workers close their connections)
#   lbproxy-reload  a changed haproxy.cfg, loaded by SIGHUP, then another by SIGUSR2
#   vrrp-garbage    malformed VRRPv2 adverts claiming priority 254 (scripts/soak-vrrp-garbage.py)
#   slowloris       200 connections sending an endless request head (scripts/soak-slowloris.py)
# Checks (details in scripts/soak-report.py): after each window every daemon's open files
# (5-s median) are back under baseline + 10 within 15 s; no upstream CLOSE-WAIT left after
# a quiet period; files at the end under baseline + 10; RSS of the last third of the run at
# most 20 % over the first third (checked from two fault cycles on: the default 10 minutes);
# only backend-kill, idle-close and nginx-reload may cost requests, an error in a wrk slice
# overlapping none of them fails the run; the VIP stays on lb1 and no VRRP state changes;
# every reload applied; every daemon still the same process at the end.
# Everything lives in namespaces soak-PID-* created here and removed on exit (trap); every
# loop is bounded.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=10
OUT=$ROOT/docs/soak
KEEP=0
LBPROXY=${LBPROXY:-$ROOT/target/release/lbproxy}
VRRPD=${VRRPD:-$ROOT/target/release/vrrpd}

die() { echo "soak: $*" >&2; exit 2; }

while (($#)); do
    case $1 in
        --minutes) MINUTES=${2:-}; shift 2 ;;
        --out) OUT=${2:-}; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
done
if ! [[ $MINUTES =~ ^[0-9]+$ ]] || ((MINUTES < 2 || MINUTES > 1440)); then die "--minutes 2..1440"; fi
[[ $(id -u) == 0 ]] || die "needs root (network namespaces, raw sockets)"
for t in "$LBPROXY" "$VRRPD"; do [[ -x $t ]] || die "$t missing (cargo build --release -p bins)"; done
for t in nginx wrk python3 gnuplot curl ss ip setsid; do
    command -v "$t" >/dev/null || die "$t not installed"
done

# --- settings -------------------------------------------------------------------------
VIP=198.18.0.100
LB1=198.18.0.1 LB2=198.18.0.2 CLIENT=198.18.0.50
VRID=51
CONNS=16          # wrk's steady load (2 CPUs are shared by everything here)
BURST_CONNS=200   # the burst before the quiet period: fills lbproxy's idle upstream pool
LORIS_CONNS=200
FD_TOL=10         # open files (5-s median): back under baseline + 10 ...
RECOVER=15        # ... within 15 s after a fault window ends (or before the next one starts)
RSS_TOL_PCT=20    # RSS: the last third of the run at most 20% over the first (2 MiB floor)
if ((MINUTES < 5)); then
    SHORT=1 WARMUP=12 GAP=8 SLICE=5 COOLDOWN=8
    KILL_DOWN=5 IDLE_QUIET=10 LORIS_SECS=10 GARBAGE_SECS=5 GARBAGE_COUNT=1000
else
    SHORT=0 WARMUP=30 GAP=20 SLICE=10 COOLDOWN=20
    KILL_DOWN=10 IDLE_QUIET=20 LORIS_SECS=25 GARBAGE_SECS=10 GARBAGE_COUNT=2000
fi
TOTAL=$((MINUTES * 60))

WORK=$(mktemp -d /tmp/soak.XXXXXX)
BASE=soak-$$
# Private copies: target/release may be rebuilt while the soak runs, and the reload checks
# (lbproxy -c) must use the binary that is running.
mkdir -p "$WORK/bin"
cp "$LBPROXY" "$WORK/bin/lbproxy"
cp "$VRRPD" "$WORK/bin/vrrpd"
{
    echo "lbproxy $(stat -c '%y' "$LBPROXY") $(sha256sum <"$LBPROXY" | cut -c1-12)"
    echo "vrrpd $(stat -c '%y' "$VRRPD") $(sha256sum <"$VRRPD" | cut -c1-12)"
    # Which source: HEAD, whether the tree differs from it, whether a binary predates it.
    head_time=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)
    echo "git HEAD $(git -C "$ROOT" log -1 --format='%h %ci' 2>/dev/null || echo '?')$(
        git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || echo ', working tree modified')$(
        (($(stat -c %Y "$LBPROXY") < head_time || $(stat -c %Y "$VRRPD") < head_time)) &&
            echo ', a binary is older than HEAD')"
} >"$WORK/build"
LBPROXY=$WORK/bin/lbproxy VRRPD=$WORK/bin/vrrpd
NAMESPACES=()
PIDS=()        # process groups started in namespaces (daemons, wrk, helpers)
BG=()          # the sampler and the load loop (subshells of this script)

# --- plumbing ---------------------------------------------------------------------------
gone() { ! kill -0 "$1" 2>/dev/null; }
# wait_for SECONDS CMD...: poll every 100 ms, at most SECONDS.
wait_for() {
    local n=$(($1 * 10)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

cleanup() {
    local p ns rc=$?
    set +e
    touch "$WORK/stop"
    for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; done
    for ns in "${NAMESPACES[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    for p in "${PIDS[@]}" "${BG[@]}"; do wait_for 3 gone "$p"; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if ((KEEP)); then echo "== work directory kept: $WORK"; else rm -rf "$WORK"; fi
    echo "== cleaned up (namespaces $BASE-* removed)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns_of() { echo "$BASE-$1"; }
in_ns() { local ns; ns=$(ns_of "$1"); shift; ip netns exec "$ns" "$@"; }

# start NAME NODE CMD...: run in NODE's namespace in its own process group, output to
# $WORK/NAME.log; the pid (the command itself: setsid and ip netns exec both exec) in STARTED.
start() {
    local name=$1 ns
    ns=$(ns_of "$2")
    shift 2
    setsid ip netns exec "$ns" "$@" >>"$WORK/$name.log" 2>&1 &
    STARTED=$!
    disown "$STARTED" # killed on purpose (backend-kill, cleanup): no job notices
    PIDS+=("$STARTED")
}

# Elapsed seconds since T0 (set when the load starts), millisecond resolution.
T0_US=${EPOCHREALTIME/./}
us_now() { echo "${EPOCHREALTIME/./}"; }
ts() {
    local us=$(($(us_now) - T0_US))
    printf '%d.%03d' $((us / 1000000)) $(((us / 1000) % 1000))
}
elapsed() { echo $((($(us_now) - T0_US) / 1000000)); }
# sleep_until SECONDS: sleep until that many seconds after T0.
sleep_until() {
    local left=$(($1 * 1000000 - ($(us_now) - T0_US)))
    ((left > 0)) || return 0
    sleep "$((left / 1000000)).$(printf '%06d' $((left % 1000000)))"
}
event() { echo "$(ts) $*" | tee -a "$WORK/events.log"; }

# --- lab --------------------------------------------------------------------------------
build_lab() {
    local br i node name addr ns
    br=$(ns_of br)
    ip netns add "$br"; NAMESPACES+=("$br")
    ip -n "$br" link add br0 type bridge mcast_snooping 0 stp_state 0
    ip -n "$br" link set lo up
    ip -n "$br" link set br0 up
    i=0
    for node in lb1:$LB1 lb2:$LB2 be1:198.18.0.11 be2:198.18.0.12 be3:198.18.0.13 cl:$CLIENT; do
        i=$((i + 1))
        name=${node%%:*} addr=${node##*:} ns=$(ns_of "$name")
        ip netns add "$ns"; NAMESPACES+=("$ns")
        ip -n "$ns" link add eth0 address "02:00:c6:12:00:0$i" type veth peer name "p$i" netns "$br"
        ip -n "$br" link set "p$i" master br0
        ip -n "$br" link set "p$i" up
        ip -n "$ns" link set lo up
        ip -n "$ns" link set eth0 up
        ip -n "$ns" addr add "$addr/24" dev eth0
    done
    # The malformed adverts go to 224.0.0.18 from the client's namespace.
    ip -n "$(ns_of cl)" route add 224.0.0.0/4 dev eth0
}

# --- backends: nginx, closing idle keep-alive connections after 5 s ---------------------
declare -A NGINX_PID=()
write_nginx_conf() { # NAME ADDR
    local dir=$WORK/$1
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    # The backend side closes idle upstream connections: what lbproxy's pool must notice.
    keepalive_timeout 5s;
    keepalive_requests 1000;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    server {
        listen $2:8080;
        location / { default_type text/plain; return 200 "$1\n"; }
    }
}
EOF
}
start_nginx() { # NAME
    start "$1-nginx" "$1" nginx -e "$WORK/$1/error.log" -p "$WORK/$1" -c "$WORK/$1/nginx.conf"
    NGINX_PID[$1]=$STARTED
}
backend_up() { # NAME ADDR: answers directly?
    in_ns cl curl -s -m 1 -o /dev/null "http://$2:8080/"
}

# --- lbproxy ----------------------------------------------------------------------------
GEN=0
# The generation goes into a response header, so a reload can be seen to have been applied.
write_haproxy_cfg() {
    GEN=$((GEN + 1))
    cat >"$WORK/haproxy.cfg.new" <<EOF
# soak.sh generation $GEN
global
    maxconn 4000

defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 5s
    timeout http-request 5s
    timeout http-keep-alive 5s
    retries 2
    option redispatch

frontend web
    bind *:80
    http-response set-header X-Soak-Gen $GEN
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /
    server be1 198.18.0.11:8080 check inter 1s fall 2 rise 2
    server be2 198.18.0.12:8080 check inter 1s fall 2 rise 2
    server be3 198.18.0.13:8080 check inter 1s fall 2 rise 2

listen stats
    bind 127.0.0.1:8404
    stats enable
    stats uri /stats
EOF
    "$LBPROXY" -c -q -f "$WORK/haproxy.cfg.new" || die "lbproxy -c rejects generation $GEN"
    mv "$WORK/haproxy.cfg.new" "$WORK/haproxy.cfg"
}
gen_served() { # GEN: does a response through the VIP carry it?
    in_ns cl curl -s -m 1 -o /dev/null -D - "http://$VIP/" | tr -d '\r' | grep -qix "x-soak-gen: $1"
}
# lbproxy's own view of a server (stats CSV, column 18 is status).
server_status() { # SERVER
    in_ns lb1 curl -s -m 1 "http://127.0.0.1:8404/stats;csv" | awk -F, -v s="$1" '$1 == "app" && $2 == s { print $18 }'
}
server_is_up() { [[ $(server_status "$1") == UP* ]]; }

# --- vrrpd ------------------------------------------------------------------------------
declare -A VRRPD_PID=()
start_vrrpd() { # NODE STATE PRIORITY
    cat >"$WORK/$1-keepalived.conf" <<EOF
global_defs {
    router_id $1
    vrrp_version 2
}

vrrp_instance VI_1 {
    state $2
    interface eth0
    virtual_router_id $VRID
    priority $3
    advert_int 1
    virtual_ipaddress {
        $VIP/24
    }
}
EOF
    "$VRRPD" -t -f "$WORK/$1-keepalived.conf" >/dev/null 2>&1 || die "vrrpd -t rejects $1's config"
    start "$1-vrrpd" "$1" "$VRRPD" -n -l -f "$WORK/$1-keepalived.conf" --status-addr 127.0.0.1:9650
    VRRPD_PID[$1]=$STARTED
}
has_vip() { ip -n "$(ns_of "$1")" -4 -o addr show dev eth0 | grep -q " $VIP/"; }
vip_holders() {
    local h=""
    has_vip lb1 && h=lb1
    has_vip lb2 && h=${h:+$h+}lb2
    echo "${h:-none}"
}
vrrp_status() { in_ns "$1" curl -s -m 2 http://127.0.0.1:9650/status; }

# --- sampling: one CSV row per second ---------------------------------------------------
# Per daemon: open files (entries of /proc/PID/fd), VmRSS (kB), CPU % (utime+stime delta).
# Also lbproxy's upstream sockets (established / CLOSE-WAIT, to port 8080), its client
# sockets on :80, and who holds the VIP.
HZ=$(getconf CLK_TCK)
declare -A PREV_TICKS=()
# stat_fields PID: the fields of /proc/PID/stat after the command name, into STAT (STAT[0]
# is field 3, the state: utime is STAT[11], stime STAT[12], starttime STAT[19]).
stat_fields() {
    local line
    STAT=()
    read -r line <"/proc/$1/stat" 2>/dev/null || return 1
    read -ra STAT <<<"${line##*) }"
}
ticks_start() { stat_fields "$1" && echo "${STAT[19]}"; }
# proc_sample KEY PID DT_US: "fds,rss_kb,cpu_pct" into SAMPLE (empty fields once it is gone).
proc_sample() {
    local key=$1 pid=$2 dt=$3 rss="" ticks k v _ pct=""
    local -a fds
    SAMPLE=",,"
    stat_fields "$pid" || return 0
    fds=(/proc/"$pid"/fd/*)
    while read -r k v _; do [[ $k == VmRSS: ]] && rss=$v; done <"/proc/$pid/status" 2>/dev/null || true
    ticks=$((STAT[11] + STAT[12]))
    if [[ -n ${PREV_TICKS[$key]:-} ]] && ((dt > 0)); then
        pct=$(((ticks - PREV_TICKS[$key]) * 1000 * 1000000 / (HZ * dt))) # tenths of a percent
        pct="$((pct / 10)).$((pct % 10))"
    fi
    PREV_TICKS[$key]=$ticks
    SAMPLE="${#fds[@]},$rss,$pct"
}
# host_busy PREV: the whole machine's busy % since PREV ("busy total" jiffies of /proc/stat),
# into HOST_BUSY, the new counters into HOST_PREV: shows whether something else (a build)
# took the CPUs while the soak ran.
host_busy() {
    local user nice sys idle iowait irq softirq steal _ busy total
    read -r _ user nice sys idle iowait irq softirq steal _ </proc/stat
    busy=$((user + nice + sys + irq + softirq + steal)) total=$((busy + idle + iowait))
    HOST_BUSY=""
    if [[ -n ${1:-} ]] && ((total > ${1#* })); then
        HOST_BUSY=$(((busy - ${1% *}) * 100 / (total - ${1#* })))
    fi
    HOST_PREV="$busy $total"
}
sampler() {
    local n=0 t prev_t window lb v1 v2 socks
    echo "elapsed_s,window,lbproxy_fds,lbproxy_rss_kb,lbproxy_cpu_pct,vrrpd1_fds,vrrpd1_rss_kb,vrrpd1_cpu_pct,vrrpd2_fds,vrrpd2_rss_kb,vrrpd2_cpu_pct,up_estab,up_closewait,client_estab,vip_on,host_busy_pct" >"$WORK/samples.csv"
    HOST_PREV=""
    prev_t=$(us_now)
    while [[ ! -e $WORK/stop ]] && ((n < TOTAL + 120)); do
        n=$((n + 1))
        sleep_until "$n"
        t=$(us_now)
        read -r window <"$WORK/window" || window=calm
        proc_sample lbproxy "$LBPROXY_PID" $((t - prev_t)); lb=$SAMPLE
        proc_sample vrrpd1 "${VRRPD_PID[lb1]}" $((t - prev_t)); v1=$SAMPLE
        proc_sample vrrpd2 "${VRRPD_PID[lb2]}" $((t - prev_t)); v2=$SAMPLE
        prev_t=$t
        # lbproxy's sockets: upstream (to :8080) established and CLOSE-WAIT, clients on :80.
        socks=$(in_ns lb1 ss -Htan 2>/dev/null | awk '
            $4 ~ /:80$/ && $1 == "ESTAB" { c++ }
            $5 ~ /:8080$/ && $1 == "ESTAB" { e++ }
            $5 ~ /:8080$/ && $1 == "CLOSE-WAIT" { w++ }
            END { printf "%d,%d,%d", e, w, c }') || socks=",,"
        host_busy "$HOST_PREV"
        echo "$(ts),$window,$lb,$v1,$v2,$socks,$(vip_holders),$HOST_BUSY" >>"$WORK/samples.csv"
    done
}

# --- load: wrk in consecutive slices, one CSV row each -----------------------------------
WRK_HEAD="kind,start,end,requests,err_connect,err_read,err_write,err_timeout,non2xx,other_err,lat_avg_ms,lat_max_ms"
wrk_slice() { # KIND CONNS SECONDS
    local t0 t1 out
    t0=$(ts)
    out=$(in_ns cl wrk -t1 -c"$2" -d"$3"s --timeout 2s "http://$VIP/" 2>&1) || true
    t1=$(ts)
    awk -v kind="$1" -v t0="$t0" -v t1="$t1" '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            return v }
        /Latency/ { avg = ms($2); max = ms($4) }
        / requests in / { req = $1 }
        /Socket errors/ { gsub(",", ""); c = $4; r = $6; w = $8; to = $10 }
        /Non-2xx/ { n = $5 }
        END { printf "%s,%s,%s,%d,%d,%d,%d,%d,%d,%d,%.3f,%.3f\n", kind, t0, t1, req, c, r, w, to, n,
              (req == "" ? 1 : 0), avg, max }' <<<"$out" >>"$WORK/wrk.csv"
}
load_loop() {
    while [[ ! -e $WORK/stop ]] && (($(elapsed) < TOTAL + 30)); do
        if [[ -e $WORK/pause ]]; then
            touch "$WORK/paused"
            sleep 0.2
            continue
        fi
        rm -f "$WORK/paused"
        wrk_slice load "$CONNS" "$SLICE"
    done
}
pause_load() {
    rm -f "$WORK/paused"
    touch "$WORK/pause"
    wait_for $((SLICE + 10)) test -e "$WORK/paused" || die "the load loop did not pause"
}
resume_load() { rm -f "$WORK/pause"; }

# --- fault windows ----------------------------------------------------------------------
# window_begin NAME EXCUSES: label the samples; EXCUSES=1 when the fault may cost requests.
window_begin() {
    W_NAME=$1 W_EXCUSES=$2 W_START=$(ts)
    echo "$1" >"$WORK/window"
    event "begin $1"
}
window_end() {
    echo calm >"$WORK/window"
    echo "$W_NAME,$W_START,$(ts),$W_EXCUSES" >>"$WORK/windows.csv"
    event "end $W_NAME"
}

# SIGKILL a backend's nginx (master and worker: its process group), start it again after
# KILL_DOWN seconds; the window ends once lbproxy's health check sees it UP again.
fault_backend_kill() {
    local killed
    window_begin backend-kill 1
    killed=$(elapsed)
    kill -KILL -- "-${NGINX_PID[be2]}"
    wait_for 5 gone "${NGINX_PID[be2]}" || true
    if wait_for 5 server_is_down be2; then event "lbproxy marked be2 DOWN"; else event "lbproxy never marked be2 DOWN"; fi
    sleep_until $((killed + KILL_DOWN))
    start_nginx be2
    wait_for 5 backend_up be2 198.18.0.12 || event "be2 does not answer after its restart"
    if wait_for 10 server_is_up be2; then event "lbproxy marked be2 UP"; else event "lbproxy never marked be2 UP again"; fi
    sleep 1
    window_end
}
server_is_down() { [[ $(server_status "$1") == DOWN* ]]; }

# Fill lbproxy's idle upstream pool with a burst, then go quiet but for one request each
# 0.5 s: nginx closes the idle upstream connections after 5 s, lbproxy must let them go.
fault_idle_close() {
    local ok=0 fail=0 t0 end i
    pause_load
    window_begin idle-close 1
    wrk_slice burst "$BURST_CONNS" 2
    event "after the burst: $(upstream_sockets)"
    t0=$(ts)
    end=$(($(elapsed) + IDLE_QUIET))
    for ((i = 0; i < IDLE_QUIET * 2; i++)); do
        (($(elapsed) < end)) || break
        if in_ns cl curl -s -m 1 -o /dev/null -f "http://$VIP/"; then ok=$((ok + 1)); else fail=$((fail + 1)); fi
        sleep 0.5
    done
    echo "trickle,$t0,$(ts),$ok,0,0,0,0,0,$fail,0,0" >>"$WORK/wrk.csv"
    event "end of the quiet period ($ok ok, $fail failed): $(upstream_sockets)"
    resume_load
    window_end
}
upstream_sockets() {
    in_ns lb1 ss -Htan | awk '$5 ~ /:8080$/ { s[$1]++ } END { for (k in s) printf "%s=%d ", k, s[k] }'
}

# nginx reloads (SIGHUP): new workers start, the old ones close their keep-alive
# connections, i.e. lbproxy's upstream connections are closed by the backend under load.
fault_nginx_reload() {
    local b
    window_begin nginx-reload 1
    for b in be1 be2 be3; do
        kill -HUP "${NGINX_PID[$b]}"
        sleep 1
    done
    sleep 1
    window_end
}

# A changed haproxy.cfg (its generation in a response header), loaded by SIGHUP, then
# another by SIGUSR2; README: reloads refuse no connection, so this window excuses nothing.
fault_lbproxy_reload() {
    local sig t0
    window_begin lbproxy-reload 0
    for sig in HUP USR2; do
        write_haproxy_cfg
        t0=$(us_now)
        kill -"$sig" "$LBPROXY_PID"
        if wait_for 5 gen_served "$GEN"; then
            event "SIG$sig: generation $GEN served after $((($(us_now) - t0) / 1000)) ms"
        else
            event "SIG$sig: generation $GEN NOT served after 5 s (reload not applied)"
            echo "reload-not-applied SIG$sig gen $GEN" >>"$WORK/problems"
        fi
        sleep 1
    done
    window_end
}

# Malformed VRRP adverts, each claiming priority 254: none may move the VIP.
fault_vrrp_garbage() {
    local out
    window_begin vrrp-garbage 0
    out=$(in_ns cl python3 "$ROOT/scripts/soak-vrrp-garbage.py" "$CLIENT" "$VRID" "$VIP" \
        "$GARBAGE_COUNT" "$GARBAGE_SECS") || out="failed: $out"
    event "vrrp garbage: $out"
    sleep 1
    window_end
}

# Slowloris: LORIS_CONNS endless request heads for LORIS_SECS, then all closed.
fault_slowloris() {
    local out
    window_begin slowloris 0
    out=$(in_ns cl python3 "$ROOT/scripts/soak-slowloris.py" "$VIP" 80 "$LORIS_CONNS" "$LORIS_SECS" 2) ||
        out="failed: $out"
    event "slowloris: $out"
    sleep 1
    window_end
}

FAULTS=(backend_kill idle_close nginx_reload lbproxy_reload vrrp_garbage slowloris)
nominal() { # FAULT: how long its window lasts, about (to see whether one more fits)
    case $1 in
        backend_kill) echo $((KILL_DOWN + 5)) ;;
        idle_close) echo $((SLICE + 2 + IDLE_QUIET)) ;;
        nginx_reload) echo 4 ;;
        lbproxy_reload) echo 4 ;;
        vrrp_garbage) echo $((GARBAGE_SECS + 1)) ;;
        slowloris) echo $((LORIS_SECS + 1)) ;;
    esac
}

# --- run --------------------------------------------------------------------------------
echo "== soak: $MINUTES min$( ((SHORT)) && echo " (short mode)"), namespaces $BASE-*, work $WORK"
build_lab
for b in be1:198.18.0.11 be2:198.18.0.12 be3:198.18.0.13; do
    write_nginx_conf "${b%%:*}" "${b##*:}"
    start_nginx "${b%%:*}"
done
for b in be1:198.18.0.11 be2:198.18.0.12 be3:198.18.0.13; do
    wait_for 10 backend_up "${b%%:*}" "${b##*:}" || die "nginx ${b%%:*} does not answer (see $WORK)"
done

write_haproxy_cfg
start lbproxy lb1 "$LBPROXY" -f "$WORK/haproxy.cfg" -p "$WORK/lbproxy.pid"
LBPROXY_PID=$STARTED
start_vrrpd lb1 MASTER 110
start_vrrpd lb2 BACKUP 100
sleep 0.5
[[ $(cat "/proc/$LBPROXY_PID/comm" 2>/dev/null) == lbproxy ]] || die "lbproxy did not start (see $WORK/lbproxy.log)"
for n in lb1 lb2; do
    [[ $(cat "/proc/${VRRPD_PID[$n]}/comm" 2>/dev/null) == vrrpd ]] || die "vrrpd $n did not start"
done
wait_for 15 has_vip lb1 || die "lb1 never became Master"
wait_for 10 gen_served 1 || die "no answer on http://$VIP/ through lbproxy"
for s in be1 be2 be3; do wait_for 10 server_is_up "$s" || die "lbproxy does not see $s UP"; done
# Who started when: a restarted daemon would have another pid or start time.
for p in "$LBPROXY_PID" "${VRRPD_PID[lb1]}" "${VRRPD_PID[lb2]}"; do
    echo "$p $(ticks_start "$p")" >>"$WORK/started"
done

# Before the sampling starts, one burst of BURST_CONNS connections takes lbproxy's allocator
# to the high-water mark that the faults' 200 connections will reach too, so that the RSS
# check looks for growth, not for the first use of connection buffers; then steady load
# while nginx closes the burst's idle upstream connections (keepalive_timeout 5s).
echo "== priming: wrk -c$BURST_CONNS for 2 s, then -c$CONNS for 8 s"
in_ns cl wrk -t1 -c"$BURST_CONNS" -d2s --timeout 2s "http://$VIP/" >"$WORK/prime.log" 2>&1 || true
in_ns cl wrk -t1 -c"$CONNS" -d8s --timeout 2s "http://$VIP/" >>"$WORK/prime.log" 2>&1 || true

echo calm >"$WORK/window"
echo "$WRK_HEAD" >"$WORK/wrk.csv"
echo "name,start,end,excuses" >"$WORK/windows.csv"
: >"$WORK/events.log"
T0_US=$(us_now)
sampler &
BG+=("$!")
load_loop &
BG+=("$!")

event "warmup ${WARMUP}s (wrk -c$CONNS in ${SLICE}s slices)"
sleep_until "$WARMUP"
vrrp_status lb1 >"$WORK/status-lb1-start.json" || true
vrrp_status lb2 >"$WORK/status-lb2-start.json" || true

i=0
while :; do
    f=${FAULTS[i % ${#FAULTS[@]}]}
    (($(elapsed) + $(nominal "$f") + GAP <= TOTAL - COOLDOWN)) || break
    "fault_$f"
    sleep_until $(($(elapsed) + GAP))
    i=$((i + 1))
done
event "$i faults done; calm until the end"
sleep_until "$TOTAL"
touch "$WORK/stop"
event "stopping the load"
wait "${BG[@]}" 2>/dev/null || true
BG=()

# Still the same processes?
alive() { # PID NAME
    [[ -r /proc/$1/comm && $(cat "/proc/$1/comm") == "$2" ]] &&
        grep -qx "$1 $(ticks_start "$1")" "$WORK/started"
}
{
    alive "$LBPROXY_PID" lbproxy && echo "lbproxy alive" || echo "lbproxy DEAD"
    alive "${VRRPD_PID[lb1]}" vrrpd && echo "vrrpd-lb1 alive" || echo "vrrpd-lb1 DEAD"
    alive "${VRRPD_PID[lb2]}" vrrpd && echo "vrrpd-lb2 alive" || echo "vrrpd-lb2 DEAD"
} >"$WORK/alive"
vrrp_status lb1 >"$WORK/status-lb1-end.json" || true
vrrp_status lb2 >"$WORK/status-lb2-end.json" || true
in_ns lb1 curl -s -m 2 "http://127.0.0.1:8404/stats;csv" >"$WORK/stats-end.csv" || true
# How much each daemon logged, and its busiest second (a fault answered by a log line per
# packet or per request shows here).
for l in lbproxy lb1-vrrpd lb2-vrrpd; do
    echo "$l $(wc -l <"$WORK/$l.log") $(grep -c ' WARN ' "$WORK/$l.log" || true)" \
        "$(grep -c ' ERROR ' "$WORK/$l.log" || true)" \
        "$(cut -c1-19 "$WORK/$l.log" | uniq -c | sort -rn | awk 'NR == 1 { print $1 }')"
done >"$WORK/logstats"

# --- report -----------------------------------------------------------------------------
mkdir -p "$OUT"
cp "$WORK/samples.csv" "$OUT/soak.csv"
cp "$WORK/wrk.csv" "$OUT/soak-wrk.csv"
cp "$WORK/windows.csv" "$OUT/soak-windows.csv"
rc=0
python3 "$ROOT/scripts/soak-report.py" --work "$WORK" --out "$OUT" \
    --minutes "$MINUTES" --warmup "$WARMUP" --recover "$RECOVER" --fd-tol "$FD_TOL" \
    --rss-tol-pct "$RSS_TOL_PCT" --conns "$CONNS" --slice "$SLICE" || rc=$?
gnuplot "$WORK/soak.gp" || { echo "soak: gnuplot failed" >&2; rc=2; }
echo "== $OUT/results.txt, $OUT/soak.png"
((rc == 0)) || {
    echo "== last lines of the daemons' logs:"
    for l in lbproxy lb1-vrrpd lb2-vrrpd; do echo "-- $l"; tail -n 5 "$WORK/$l.log"; done
}
exit "$rc"
