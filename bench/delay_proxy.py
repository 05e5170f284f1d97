"""A TCP proxy on loopback that adds network latency: what a database across a network costs.

    .venv/bin/python bench/delay_proxy.py --listen 127.0.0.1:7001 --to 127.0.0.1:56433 --rtt-ms 20

This machine's kernel has no `netem` qdisc, so bench/async_io.py puts this in front of each
replica's pooler. Every chunk of bytes is delivered half the round trip after it arrived, in
order, in each direction: a query's answer comes back one round trip after it was sent, and the
proxy never holds up a stream for another (latency, not a bandwidth limit). Runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True, help="host:port to accept on")
    parser.add_argument("--to", required=True, help="host:port to connect each client to")
    parser.add_argument("--rtt-ms", type=float, required=True, help="round trip added, milliseconds")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()  # the proxy's own CPU is the twins' shared cost: keep it small
    except ImportError:
        pass
    asyncio.run(serve(_address(args.listen), _address(args.to), args.rtt_ms / 2000))


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def serve(listen: tuple[str, int], upstream: tuple[str, int], one_way: float) -> None:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            _pipe(reader, up_writer, one_way), _pipe(up_reader, writer, one_way), return_exceptions=True
        )

    server = await asyncio.start_server(client, *listen)
    added = f"+{one_way * 2000:g} ms"
    print(f"delay proxy {listen[0]}:{listen[1]} -> {upstream[0]}:{upstream[1]}, {added}", flush=True)
    async with server:
        await server.serve_forever()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, one_way: float) -> None:
    """Copy reader to writer, each chunk delivered `one_way` seconds after it was read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, due - loop.time()))
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + one_way, data))
    finally:
        queue.put_nowait((0.0, b""))
        with contextlib.suppress(Exception):
            await sender
        writer.close()


if __name__ == "__main__":
    main()
