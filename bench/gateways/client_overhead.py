"""How much CPU one subgraph POST costs the client: aiohttp (what the router's executor uses)
against a minimal keep-alive HTTP/1.1 client on an asyncio Protocol with httptools' parser.

    .venv/bin/uvicorn bench.gateways.subgraphs:app --port 4730 --workers 1 --loop uvloop \\
        --http httptools --no-access-log &
    .venv/bin/python -m bench.gateways.client_overhead [--port 4730] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

import aiohttp
import httptools
import orjson
import uvloop

BODY = orjson.dumps({"query": "{ users { id name } }"})
PATH = "/accounts"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bench_aiohttp(port: int, n: int) -> tuple[float, float]:
    url = f"http://127.0.0.1:{port}{PATH}"
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession() as session:
        for _ in range(50):
            async with session.post(url, data=BODY, headers=headers) as response:
                await response.read()
        cpu0, wall0 = _cpu(), time.perf_counter()
        for _ in range(n):
            async with session.post(url, data=BODY, headers=headers) as response:
                orjson.loads(await response.read())
        return (_cpu() - cpu0) / n * 1e6, (time.perf_counter() - wall0) / n * 1e6


class _Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[bytes] | None = None
        self.chunks: list[bytes] = []
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        body, self.chunks = b"".join(self.chunks), []
        assert self.waiter is not None
        self.waiter.set_result(body)

    async def post(self, body: bytes) -> bytes:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(
            b"POST " + PATH.encode() + b" HTTP/1.1\r\nhost: subgraph\r\n"
            b"content-type: application/json\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        return await self.waiter


async def bench_raw(port: int, n: int) -> tuple[float, float]:
    _, client = await asyncio.get_running_loop().create_connection(_Client, "127.0.0.1", port)
    for _ in range(50):
        await client.post(BODY)
    cpu0, wall0 = _cpu(), time.perf_counter()
    for _ in range(n):
        orjson.loads(await client.post(BODY))
    return (_cpu() - cpu0) / n * 1e6, (time.perf_counter() - wall0) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=4730)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    uvloop.install()
    cpu, wall = asyncio.run(bench_aiohttp(args.port, args.requests))
    print(f"aiohttp:             {cpu:.0f} us CPU, {wall:.0f} us wall per request")
    cpu, wall = asyncio.run(bench_raw(args.port, args.requests))
    print(f"httptools protocol:  {cpu:.0f} us CPU, {wall:.0f} us wall per request")


if __name__ == "__main__":
    main()
