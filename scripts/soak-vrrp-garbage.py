#!/usr/bin/env python3
"""Sends malformed VRRPv2 adverts (IP protocol 112) to 224.0.0.18 for scripts/soak.sh.

Usage: soak-vrrp-garbage.py LOCAL_ADDR VRID VIP COUNT SECONDS

Every packet claims priority 254 for VRID (higher than any node of the soak's cluster), so
a daemon that accepted one would give up mastership and the VIP would move: each variant
breaks a rule by which RFC 3768 §7.1 (or plain parsing) says the packet MUST be dropped.
COUNT packets in all, the variants in turn, spread evenly over SECONDS (bounded). Prints
how many of each variant were sent."""
import os
import socket
import struct
import sys
import time

GROUP = "224.0.0.18"
PROTO_VRRP = 112


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def advert(vrid, vip, prio=254, version=2, kind=1, count=None, auth=0, interval=1,
           good_sum=True, auth_data=b"\0" * 8):
    """A VRRPv2 advert (RFC 3768 §5.1) with the given fields; checksum right or wrong."""
    addrs = socket.inet_aton(vip)
    n = 1 if count is None else count
    head = struct.pack("!BBBBBBH", (version << 4) | kind, vrid, prio, n, auth, interval, 0)
    pkt = head + addrs + auth_data
    s = checksum(pkt)
    if not good_sum:
        s ^= 0x5A5A
    return pkt[:6] + struct.pack("!H", s) + pkt[8:]


def variants(vrid, vip):
    """(name, payload, ttl): ttl 255 unless the TTL itself is the fault."""
    return [
        ("bad-checksum", advert(vrid, vip, good_sum=False), 255),
        ("version-0", advert(vrid, vip, version=0), 255),
        ("version-7", advert(vrid, vip, version=7), 255),
        ("type-0", advert(vrid, vip, kind=0), 255),
        ("type-15", advert(vrid, vip, kind=15), 255),
        ("truncated-6", advert(vrid, vip)[:6], 255),
        ("truncated-12", advert(vrid, vip)[:12], 255),
        ("count-200", advert(vrid, vip, count=200), 255),
        ("ttl-64", advert(vrid, vip), 64),
        ("auth-type-mismatch", advert(vrid, vip, auth=1, auth_data=b"soak\0\0\0\0"), 255),
        ("interval-mismatch", advert(vrid, vip, interval=7), 255),
        ("empty", b"", 255),
        ("random", None, 255),  # fresh random bytes each time
    ]


def main():
    local, vrid, vip = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    count, seconds = int(sys.argv[4]), float(sys.argv[5])
    count = max(1, min(count, 100_000))
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTO_VRRP)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    kinds = variants(vrid, vip)
    sent = {name: 0 for name, _, _ in kinds}
    errors = 0
    gap = seconds / count
    start = time.monotonic()
    for i in range(count):
        name, payload, ttl = kinds[i % len(kinds)]
        if payload is None:
            payload = os.urandom(1 + int.from_bytes(os.urandom(1), "big") % 64)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        try:
            sock.sendto(payload, (GROUP, 0))
            sent[name] += 1
        except OSError:
            errors += 1
        delay = start + (i + 1) * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print("sent " + " ".join(f"{k}={v}" for k, v in sent.items()) + f" send_errors={errors}")


if __name__ == "__main__":
    main()
