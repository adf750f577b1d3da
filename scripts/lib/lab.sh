# The demos' lab in network namespaces, sourced by scripts/demo-ha-cluster.sh and
# scripts/demo-active-active.sh: namespaces named halbdemo-PID-*, one bridge, hosts on it
# by veth, processes each in its own process group, and everything removed on exit (set up by
# `lab_init`), or by `demo-ha-cluster.sh down` after a kill -9.

BASE=halbdemo-$$
NAMESPACES=()
PIDS=()

# lab_build 1|0: builds the release binaries (or not), and sets BINS (vrrpd, lbproxy,
# lb-exporter) and KIT (tk-http, vip-poller: testkit's, in CARGO_TARGET_DIR if set).
lab_build() {
    BINS=$ROOT/target/release
    KIT=${CARGO_TARGET_DIR:-$ROOT/target}/release
    if (($1)); then
        echo "== building (cargo build --release)"
        (cd "$ROOT" && CARGO_TARGET_DIR=$ROOT/target cargo build --release -q -p bins) ||
            die "cargo build --release -p bins failed"
        (cd "$ROOT" && cargo build --release -q -p testkit --bins) || die "building tk-http failed"
    fi
}

# A work directory, and the lab removed however the demo ends.
lab_init() {
    WORK=$(mktemp -d /tmp/demo-ha.XXXXXX)
    trap lab_cleanup EXIT
    trap 'exit 130' INT TERM
}

die() { echo "demo: $*" >&2; exit 1; }
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_for() { # SECONDS CMD...: poll every 50 ms
    local n=$(($1 * 20)) i
    shift
    for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.05; done
    return 1
}
ns_of() { echo "$BASE-$1"; }

lab_cleanup() {
    local p ns
    set +e
    for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; done
    for ns in "${NAMESPACES[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    for p in "${PIDS[@]}"; do wait_for 2 gone "$p"; done
    for ns in "${NAMESPACES[@]}"; do
        ip netns del "$ns" 2>/dev/null
        rm -rf "/etc/netns/$ns"
    done
    rm -rf "$WORK"
    echo "== cleaned up (namespaces $BASE-* removed)"
}

# Every namespace a demo left behind (after a kill -9 of the demo itself).
lab_remove_leftovers() {
    local ns p found=0
    for ns in $(ip netns list | awk '{print $1}' | grep '^halbdemo-' || true); do
        found=1
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
        rm -rf "/etc/netns/$ns"
        echo "removed namespace $ns"
    done
    ((found)) || echo "no demo namespaces left (halbdemo-*)"
}

# start NAME NS CMD...: in namespace NS, its own process group, log in $WORK/NAME.log; the
# pid is left in STARTED.
start() {
    local name=$1 ns=$2
    shift 2
    setsid ip netns exec "$ns" "$@" >"$WORK/$name.log" 2>&1 &
    STARTED=$!
    disown "$STARTED"
    PIDS+=("$STARTED")
}

# The bridge every host hangs on (its own namespace, no snooping: VRRP is multicast).
lab_bridge() {
    BR=$(ns_of br)
    ip netns add "$BR"; NAMESPACES+=("$BR")
    ip -n "$BR" link add br0 type bridge mcast_snooping 0 stp_state 0
    ip -n "$BR" link set lo up
    ip -n "$BR" link set br0 up
}

# lab_host NAME ADDR I: namespace $BASE-NAME with eth0 (MAC 02:00:c6:12:02:I) on the bridge.
lab_host() {
    local name=$1 addr=$2 i=$3 ns
    ns=$(ns_of "$name")
    ip netns add "$ns"; NAMESPACES+=("$ns")
    ip -n "$ns" link add eth0 address "$(printf '02:00:c6:12:02:%02x' "$i")" type veth peer name "p$i" netns "$BR"
    ip -n "$BR" link set "p$i" master br0
    ip -n "$BR" link set "p$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" addr add "$addr/24" dev eth0
    echo "   $name $addr"
}
