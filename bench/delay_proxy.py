#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that delays every chunk by a fixed time in each direction, in order: a server that
is DELAY_MS away each way, as a managed database in another zone or region is. Used by bench/objects.sh
(LATENCY_MS=N) to measure what round trips cost each tool; run by hand, never in CI.

    delay_proxy.py LISTEN_PORT SERVER_PORT DELAY_MS
"""
import asyncio
import sys
import time


async def pump(reader, writer, delay):
    # Each chunk leaves DELAY after it arrived; chunks keep their order, and a slow reader still holds back the writer.
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((time.monotonic() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((0, None))
    try:
        await sender
    except (ConnectionError, OSError):
        pass


async def serve(client_reader, client_writer, server_port, delay):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", server_port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pump(client_reader, server_writer, delay), pump(server_reader, client_writer, delay))


async def main():
    listen_port, server_port, delay_ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    server = await asyncio.start_server(lambda r, w: serve(r, w, server_port, delay_ms / 1000), "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
