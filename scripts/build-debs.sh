#!/usr/bin/env bash
# Builds the Debian package halb (vrrpd, lbproxy, lb-exporter, their units, man pages and
# starting configurations; bins/Cargo.toml [package.metadata.deb] lists the files).
#
#   scripts/build-debs.sh          release build (what to install on a node)
#   scripts/build-debs.sh --dev    package the debug binaries already built (cargo build -p
#                                  bins): no build, for the install test bins/tests/deb_package.rs
#
# Needs cargo-deb (cargo install --locked cargo-deb) and help2man (apt-get install help2man).
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
dir=release
fast=()
if [ "${1:-}" = --dev ]; then
    profile=dev
    dir=debug
    fast=(--fast)
fi
for tool in cargo-deb help2man; do
    command -v "$tool" >/dev/null || { echo "build-debs: $tool is missing" >&2; exit 1; }
done
target=${CARGO_TARGET_DIR:-$PWD/target}
bins=(vrrpd lbproxy lb-exporter)
if [ "$profile" = release ]; then
    cargo build --locked --release -p bins "${bins[@]/#/--bin=}"
fi
mkdir -p "$target/$dir/man"
declare -A name=(
    [vrrpd]="VRRP daemon reading keepalived.conf"
    [lbproxy]="HTTP, HTTPS and TCP load balancer reading haproxy.cfg"
    [lb-exporter]="Prometheus exporter for HAProxy/lbproxy and keepalived/vrrpd"
)
for b in "${bins[@]}"; do
    exe="$target/$dir/$b"
    [ -x "$exe" ] || { echo "build-debs: $exe is not built (cargo build -p bins)" >&2; exit 1; }
    # The pages come from --help and --version, so they cannot drift from the flags.
    help2man --no-info --section=8 --name="${name[$b]}" --source=halb "$exe" \
        | gzip -9n > "$target/$dir/man/$b.8.gz"
done
out="$target/debian"
mkdir -p "$out"
cargo deb -p bins --no-build --profile "$profile" "${fast[@]}" --output "$out" 2>&1 | tail -1
