#!/usr/bin/env bash
# Active/active, live: N nodes (3..6) each Master of one of N VIPs, from one keepalived.conf
# and one haproxy.cfg copied to every node (vrrpd -i NODE reads its own `@NODE` lines), and
# a DNS name that resolves to all the VIPs in round-robin order, so every node serves
# clients. One node dies: its VIP moves to the next node and the clients keep being served;
# it comes back and takes its VIP again. See docs/active-active.md.
#
# usage: sudo scripts/demo-active-active.sh --nodes N [--fast] [--backends M] [--no-build]
#        (also `sudo scripts/demo-ha-cluster.sh --nodes N ...`)
#   --fast      VRRPv3 adverts every 0.05 s (default: VRRPv2, every second)
#
#   client 198.18.0.50 -- asks dns 198.18.0.53 for www.halb.demo at every request (the
#      |                   answer lists the N VIPs, rotated by one each time), connects to
#      |                   the first, falls back to the next on a failed connect
#   ----- bridge ----------------------------------------------------------------
#      |            |            |               |
#   n1 .1        n2 .2   ...  nN .N          be1..beM .11..   tk-http :8080
#   vrrpd + lbproxy on each; VIP 198.18.0.10K mastered by node K (priority 150), the next
#   node its first Backup (125), the others 100; each vrrpd tracks its own lbproxy.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/lab.sh
. "$ROOT/scripts/lib/lab.sh"

NODES=3 BACKENDS=3 FAST=0 BUILD=1
NAME=www.halb.demo DNS=198.18.0.53
while (($#)); do
    case $1 in
        --nodes) NODES=$2; shift 2 ;;
        --backends) BACKENDS=$2; shift 2 ;;
        --fast) FAST=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) die "unknown argument $1 for the active/active demo (try --help)" ;;
    esac
done
[[ $NODES =~ ^[3-6]$ ]] || die "--nodes 3..6"
[[ $BACKENDS =~ ^[1-9]$ ]] || die "--backends 1..9"
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for t in ip python3; do command -v "$t" >/dev/null || die "$t not installed"; done
if ((FAST)); then VERSION=3 ADVERT=0.05; else VERSION=2 ADVERT=1; fi
lab_build "$BUILD"
for b in "$BINS/vrrpd" "$BINS/lbproxy" "$KIT/tk-http"; do [[ -x $b ]] || die "$b missing"; done
vip() { echo "198.18.0.10$1"; }

lab_init
echo "== lab: namespaces $BASE-*"
lab_bridge
i=0
for ((k = 1; k <= NODES; k++)); do i=$((i + 1)); lab_host "n$k" "198.18.0.$k" "$i"; done
for ((b = 1; b <= BACKENDS; b++)); do i=$((i + 1)); lab_host "be$b" "198.18.0.1$b" "$i"; done
i=$((i + 1)); lab_host client 198.18.0.50 "$i"
i=$((i + 1)); lab_host dns "$DNS" "$i"

for ((b = 1; b <= BACKENDS; b++)); do
    start "be$b" "$(ns_of "be$b")" "$KIT/tk-http" --listen 0.0.0.0:8080 --name "be$b" --say-peer
done
VIPS=()
for ((k = 1; k <= NODES; k++)); do VIPS+=("$(vip "$k")"); done
start dns "$(ns_of dns)" python3 "$ROOT/scripts/lib/dns-rr.py" serve "$DNS" "$NAME" "${VIPS[@]}"

# One haproxy.cfg for every node: it binds all addresses, so whichever VIPs a node holds
# are served. The backend's answer names the proxy node that called it (--say-peer).
{
    cat <<EOF
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
EOF
    for ((b = 1; b <= BACKENDS; b++)); do
        echo "    server be$b 198.18.0.1$b:8080 check inter 200ms fall 1 rise 2"
    done
} >"$WORK/haproxy.cfg"

# One keepalived.conf for every node: `@nK` lines are read by node nK only (vrrpd -i nK).
# Instance K: node K at 150, node K+1 at 125 (its first Backup), the others at 100. Each
# node tracks its own proxy (the namespaces share one pid namespace, so by its config path).
{
    cat <<EOF
global_defs {
    vrrp_version $VERSION
}

vrrp_track_process proxy {
EOF
    for ((k = 1; k <= NODES; k++)); do echo "@n$k process lbproxy -f $WORK/n$k/haproxy.cfg"; done
    cat <<EOF
    param_match partial
    weight 0
}
EOF
    for ((k = 1; k <= NODES; k++)); do
        echo
        echo "vrrp_instance VI_$k {"
        echo "    interface eth0"
        echo "    virtual_router_id $((60 + k))"
        for ((n = 1; n <= NODES; n++)); do
            p=100
            ((n == k)) && p=150
            ((n == k % NODES + 1)) && p=125
            echo "    @n$n priority $p"
        done
        cat <<EOF
    advert_int $ADVERT
    preempt_delay 1
    track_process {
        proxy
    }
    virtual_ipaddress {
        $(vip "$k")/24
    }
}
EOF
    done
} >"$WORK/keepalived.conf"
"$BINS/vrrpd" -t -f "$WORK/keepalived.conf" -i n1 || die "vrrpd -t rejects the config"
"$BINS/lbproxy" -c -f "$WORK/haproxy.cfg" || die "lbproxy -c rejects the config"

start_node() { # K
    local ns; ns=$(ns_of "n$1")
    mkdir -p "$WORK/n$1"
    cp "$WORK/haproxy.cfg" "$WORK/n$1/haproxy.cfg"
    start "n$1-proxy" "$ns" env PATH="$BINS:$PATH" lbproxy -f "$WORK/n$1/haproxy.cfg"
    # Process events are sent in the initial network namespace only: subscribe there.
    start "n$1-vrrp" "$ns" "$BINS/vrrpd" -n -l -i "n$1" -f "$WORK/keepalived.conf" \
        --proc-events-netns "/proc/$$/ns/net"
}
echo "== $NODES nodes, one keepalived.conf and one haproxy.cfg for all (VRRPv$VERSION, advert_int $ADVERT)"
for ((k = 1; k <= NODES; k++)); do start_node "$k"; done

holds() { ip -n "$(ns_of "n$1")" -4 -o addr show dev eth0 | grep -q " $2/"; }
table() { # which node holds which VIP
    local k v line
    for ((k = 1; k <= NODES; k++)); do
        line=""
        for v in "${VIPS[@]}"; do holds "$k" "$v" && line+=" $v"; done
        printf '   n%d:%s\n' "$k" "${line:- (none)}"
    done
}
each_vip_once() {
    local v k n
    for v in "${VIPS[@]}"; do
        n=0
        for ((k = 1; k <= NODES; k++)); do holds "$k" "$v" && n=$((n + 1)); done
        ((n == 1)) || return 1
    done
}
settled() { # every VIP on its own Master
    local k
    for ((k = 1; k <= NODES; k++)); do holds "$k" "$(vip "$k")" || return 1; done
    each_vip_once
}
client() { # SECONDS
    ip netns exec "$(ns_of client)" python3 "$ROOT/scripts/lib/dns-rr.py" client "$DNS" "$NAME" "$1" 20
}

wait_for 30 settled || { table; die "the VIPs never settled on their Masters"; }
echo "== every node masters its VIP:"
table
echo "== a client resolves $NAME at each request (DNS round-robin over ${#VIPS[@]} VIPs), 3 s:"
client 3

DEAD=2
echo "== node n$DEAD dies (its link goes down) while the client runs; each line is one second:"
(sleep 1; ip -n "$(ns_of "n$DEAD")" link set eth0 down) &
client 5
wait
echo "== its VIP $(vip "$DEAD") moved to its first Backup, n$((DEAD % NODES + 1)); no survivor holds more than 2 (= ceil(K/(N-1))):"
table
each_vip_once || die "a VIP is held twice or by nobody"

echo "== n$DEAD comes back and takes its VIP again (preempt_delay 1 s):"
ip -n "$(ns_of "n$DEAD")" link set eth0 up
wait_for 20 settled || { table; die "n$DEAD did not take its VIP back"; }
table
client 3
echo "== done. The same with two VIPs per node, and what it costs: docs/active-active.md"
