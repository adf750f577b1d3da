#!/usr/bin/env python3
"""Slowloris clients for scripts/soak.sh: hold CONNS connections to HOST:PORT, each sending
a request head that never ends (one more header line every INTERVAL seconds), for SECONDS.

Usage: soak-slowloris.py HOST PORT CONNS SECONDS [INTERVAL]

A connection the server closes (its `timeout http-request`) is opened again, as a real
slowloris does, at most 10 x CONNS opens in all (bounded). At the end every connection is
closed by the client. Prints: opened, closed by the server, answered (the server sent a
status line, e.g. 408), refused or failed connects, still open at the end."""
import asyncio
import sys
import time

stats = {"opened": 0, "closed_by_server": 0, "answered": 0, "connect_failed": 0, "held_at_end": 0}


async def one(host, port, interval, deadline, budget):
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 3)
        except (OSError, asyncio.TimeoutError):
            stats["connect_failed"] += 1
            await asyncio.sleep(interval)
            continue
        stats["opened"] += 1
        try:
            writer.write(b"GET /slowloris HTTP/1.1\r\nHost: soak\r\n")
            await writer.drain()
            n = 0
            while time.monotonic() < deadline:
                # Wait for the next header line's turn, watching for the server's answer
                # or close meanwhile.
                try:
                    data = await asyncio.wait_for(reader.read(4096), interval)
                except asyncio.TimeoutError:
                    data = None
                if data is not None:
                    if data:
                        stats["answered"] += 1
                    stats["closed_by_server"] += 1
                    break
                n += 1
                writer.write(f"X-Slow-{n}: {'a' * 8}\r\n".encode())
                await writer.drain()
            else:
                stats["held_at_end"] += 1
        except (OSError, ConnectionError):
            stats["closed_by_server"] += 1
        finally:
            writer.close()


async def main():
    host, port, conns, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    interval = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
    conns = max(1, min(conns, 2000))
    deadline = time.monotonic() + min(seconds, 3600)
    budget = [10 * conns]
    await asyncio.gather(*(one(host, port, interval, deadline, budget) for _ in range(conns)))
    print(" ".join(f"{k}={v}" for k, v in stats.items()))


asyncio.run(main())
