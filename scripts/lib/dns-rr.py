#!/usr/bin/env python3
"""DNS round-robin for the active/active demo (scripts/demo-active-active.sh).

serve ADDR NAME VIP...   a DNS server on UDP ADDR:53 answering A queries for NAME with all
                         the VIPs, rotated by one at every answer (as BIND's and most
                         authoritative servers' round-robin); NXDOMAIN for other names.
client DNS_ADDR NAME SECONDS INTERVAL_MS
                         a client: every INTERVAL_MS it asks DNS_ADDR for NAME (no cache),
                         connects to the first address, falling back to the next ones on a
                         failed connect as browsers and curl do, and sends GET / with a
                         0.5 s budget. Every second it prints how many requests each VIP
                         served through which proxy node (the peer tk-http --say-peer
                         names); at the end, the totals.

Only the A records of one name: enough to show how clients spread over the VIPs, not a
resolver."""
import socket
import struct
import sys
import time
from collections import Counter


def encode_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"


def parse_query(data):
    """(id, flags, question bytes, qname, qtype) of a one-question query, or None."""
    if len(data) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", data[:6])
    if qd != 1 or flags & 0x8000:
        return None
    i, labels = 12, []
    while i < len(data) and data[i] != 0:
        n = data[i]
        if n & 0xC0 or i + 1 + n > len(data):
            return None
        labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    if i + 5 > len(data):
        return None
    qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
    return qid, flags, data[12:i + 5], ".".join(labels), qtype


def serve(addr, name, vips):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, 53))
    turn = 0
    while True:
        data, peer = sock.recvfrom(512)
        q = parse_query(data)
        if q is None:
            continue
        qid, flags, question, qname, qtype = q
        rd = flags & 0x0100
        if qname != name.lower():
            sock.sendto(struct.pack("!HHHHHH", qid, 0x8403 | rd, 1, 0, 0, 0) + question, peer)
            continue
        answers = b""
        order = vips[turn % len(vips):] + vips[:turn % len(vips)] if qtype == 1 else []
        turn += 1
        for v in order:
            # Name pointer to the question, type A, class IN, TTL 0 (no caching), 4 bytes.
            answers += struct.pack("!HHHIH", 0xC00C, 1, 1, 0, 4) + socket.inet_aton(v)
        head = struct.pack("!HHHHHH", qid, 0x8400 | rd, 1, len(order), 0, 0)
        sock.sendto(head + question + answers, peer)


def resolve(dns, name, qid):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        s.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + b"\0\1\0\1", (dns, 53))
        data = s.recv(512)
    except OSError:
        return []
    finally:
        s.close()
    count = struct.unpack("!H", data[6:8])[0]
    i = 12
    while data[i] != 0:
        i += 1 + data[i]
    i += 5
    out = []
    for _ in range(count):
        i += 2  # name pointer
        rtype, _, _, rdlen = struct.unpack("!HHIH", data[i:i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntoa(data[i:i + 4]))
        i += rdlen
    return out


def get(addrs):
    """(vip, node) of the first address that answers, or (None, reason)."""
    for a in addrs:
        try:
            with socket.create_connection((a, 80), timeout=0.2) as c:
                c.settimeout(0.5)
                c.sendall(b"GET / HTTP/1.1\r\nHost: www\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := c.recv(4096):
                    data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                return None, head.split(b"\r\n")[0].decode(errors="replace")
            # tk-http --say-peer answers "NAME <- PEER": the peer is the proxy node.
            return a, body.decode(errors="replace").strip().split(" <- ")[-1]
        except OSError:
            continue  # the next address, as a browser does
    return None, "no address answered"


def client(dns, name, seconds, interval_ms):
    end = time.monotonic() + seconds
    total, second, failed, failed_before = Counter(), Counter(), 0, 0
    tick = time.monotonic() + 1
    qid = 0
    while time.monotonic() < end:
        qid = (qid + 1) & 0xFFFF
        vip, node = get(resolve(dns, name, qid))
        if vip is None:
            failed += 1
        else:
            total[(vip, node)] += 1
            second[(vip, node)] += 1
        if time.monotonic() >= tick:
            print("   " + summary(second, failed - failed_before), flush=True)
            second.clear()
            failed_before = failed
            tick += 1
        time.sleep(interval_ms / 1000)
    print("   in all: " + summary(total, failed), flush=True)


def summary(served, failed):
    """'VIP via NODE: COUNT' for each pair, then the failures."""
    parts = [f"{vip} via {node}: {n}" for (vip, node), n in sorted(served.items())]
    return " | ".join(parts + [f"failed: {failed}"])


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 6 and sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(__doc__)
