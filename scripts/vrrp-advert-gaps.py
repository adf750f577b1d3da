#!/usr/bin/env python3
"""Advert timing from a pcap (for scripts/bench-vrrp-scale.sh).

usage: vrrp-advert-gaps.py PCAP INTERVAL_S START_EPOCH END_EPOCH

Reads every VRRP advertisement (IPv4, protocol 112, type 1, priority > 0) in PCAP (Ethernet,
libpcap format, micro- or nanosecond stamps: the capture's kernel timestamps) whose stamp
falls in [START, END], groups them by VRID and prints one line:

    vrids seen missed p50_us p99_us max_us gaps

seen: adverts in the window; gaps: intervals between two consecutive adverts of one VRID;
missed: adverts that a gap lacks (a gap of k intervals, rounded, lacks k - 1); p50/p99/max:
of |gap - INTERVAL| in microseconds over every gap of every VRID (nearest-rank percentiles).
Standard library only.
"""

import math
import struct
import sys
from collections import defaultdict


def records(path):
    """Yields (timestamp in seconds, frame bytes) of each pcap record."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        else:
            magic = struct.unpack(">I", head[:4])[0]
            endian = ">"
        if magic not in (0xA1B2C3D4, 0xA1B23C4D):
            raise SystemExit(f"{path}: not a pcap file")
        frac = 1e-9 if magic == 0xA1B23C4D else 1e-6
        linktype = struct.unpack(endian + "I", head[20:24])[0]
        if linktype != 1:
            raise SystemExit(f"{path}: link type {linktype}, expected Ethernet (1)")
        rec = struct.Struct(endian + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, sub, caplen, _ = rec.unpack(h)
            data = f.read(caplen)
            if len(data) < caplen:
                return
            yield sec + sub * frac, data


def advert_vrid(frame):
    """The VRID of an advert with a priority above 0, else None."""
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[14 + 9] != 112:
        return None
    vrrp = frame[14 + ihl :]
    if len(vrrp) < 8 or vrrp[0] & 0x0F != 1 or vrrp[2] == 0:
        return None
    return vrrp[1]


def nearest_rank(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[k - 1]


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    path, interval, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    times = defaultdict(list)
    for ts, frame in records(path):
        if start <= ts <= end:
            vrid = advert_vrid(frame)
            if vrid is not None:
                times[vrid].append(ts)
    seen = sum(len(t) for t in times.values())
    deviations = []
    missed = 0
    for stamps in times.values():
        stamps.sort()
        for a, b in zip(stamps, stamps[1:]):
            gap = b - a
            lacks = round(gap / interval) - 1
            missed += max(0, lacks)
            deviations.append(abs(gap - interval) * 1e6)
    deviations.sort()
    print(
        len(times),
        seen,
        missed,
        f"{nearest_rank(deviations, 50):.0f}",
        f"{nearest_rank(deviations, 99):.0f}",
        f"{(deviations[-1] if deviations else float('nan')):.0f}",
        len(deviations),
    )


if __name__ == "__main__":
    main()
