#!/usr/bin/env python3
"""Opens N keep-alive connections to a proxy (TLS or plain), sends one GET on each, reads
the response, then holds them all open, idle, until stdin closes. Prints "ready N" on
stdout once all are established, so a caller can measure the proxy's memory while they
are held. Used by scripts/bench-proxy.sh (the idle-connection rows).

Usage: idle-conns.py HOST PORT N [tls]   (several source addresses from 127.0.0.0/8 are
used so that N can exceed one address's ephemeral ports)."""
import asyncio
import os
import ssl
import sys


async def one(host, port, ctx, src, held):
    reader, writer = await asyncio.open_connection(
        host, port, ssl=ctx, local_addr=(src, 0), server_hostname=None if ctx is None else "bench.test")
    writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    held.append((reader, writer))


async def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = None
    if len(sys.argv) > 4 and sys.argv[4] == "tls":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
    held = []
    # At most this many handshakes and first requests at once: the proxy's buffers for
    # them are freed and reused after, so they weigh on its RSS only as a constant.
    sem = asyncio.Semaphore(int(os.environ.get("IDLE_CONCURRENCY", "200")))

    async def bounded(i):
        async with sem:
            await one(host, port, ctx, f"127.0.{1 + i // 20000}.{1 + (i // 250) % 250}", held)

    await asyncio.gather(*(bounded(i) for i in range(n)))
    print(f"ready {len(held)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for _, w in held:
        w.close()


asyncio.run(main())
