"""The subgraph HTTP client against raw TCP servers: keep-alive reuse, chunked bodies, stale
connections (retried for queries, never for mutations), bad answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from graph.execution.errors import SubgraphFetchError
from graph.execution.http import SubgraphClient

Responder = Callable[[int, bytes], bytes | None]  # (request number, body) -> raw response


class RawServer:
    def __init__(self, respond: Responder, close_after_response: bool = False) -> None:
        self.respond = respond
        self.close_after_response = close_after_response
        self.connections = 0
        self.requests = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = await reader.readexactly(length)
                self.requests += 1
                raw = self.respond(self.requests, body)
                if raw is None:
                    break
                writer.write(raw)
                await writer.drain()
                if self.close_after_response:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/graphql"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()
        await asyncio.sleep(0.01)


def ok(payload: dict[str, Any]) -> bytes:
    body = orjson.dumps(payload)
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%b" % (
        len(body),
        body,
    )


def chunked(payload: dict[str, Any]) -> bytes:
    body = orjson.dumps(payload)
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%b\r\n" % (len(c), c) for c in (body[:half], body[half:]))
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    )


@pytest.fixture
async def clients() -> AsyncIterator[list[SubgraphClient]]:
    made: list[SubgraphClient] = []
    yield made
    for c in made:
        await c.aclose()


def client(url: str, made: list[SubgraphClient], timeout: float = 2.0) -> SubgraphClient:
    c = SubgraphClient("sub", url, timeout, 10)
    made.append(c)
    return c


async def test_keep_alive_connection_is_reused(clients: list[SubgraphClient]) -> None:
    server = RawServer(lambda n, body: ok({"data": {"n": n, "q": orjson.loads(body)["query"]}}))
    async with server as url:
        c = client(url, clients)
        for i in range(1, 4):
            assert await c.post({"query": f"{{ q{i} }}"}) == {"data": {"n": i, "q": f"{{ q{i} }}"}}
    assert server.connections == 1


async def test_chunked_response(clients: list[SubgraphClient]) -> None:
    async with RawServer(lambda n, b: chunked({"data": {"big": "x" * 5000}})) as url:
        assert await client(url, clients).post({"query": "{ big }"}) == {
            "data": {"big": "x" * 5000}
        }


async def test_stale_connection_is_retried_for_queries_only(clients: list[SubgraphClient]) -> None:
    # The server answers, keeps the socket, then drops it without a word on the next request.
    server = RawServer(lambda n, b: ok({"data": {"n": n}}) if n != 2 else None)
    async with server as url:
        c = client(url, clients)
        assert await c.post({"query": "{ n }"}) == {"data": {"n": 1}}
        assert await c.post({"query": "{ n }"}) == {"data": {"n": 3}}  # retried once
        assert server.connections == 2
    server = RawServer(lambda n, b: ok({"data": {"n": n}}) if n != 2 else None)
    async with server as url:
        c = client(url, clients)
        await c.post({"query": "mutation { n }"}, idempotent=False)
        with pytest.raises(SubgraphFetchError) as info:
            await c.post({"query": "mutation { n }"}, idempotent=False)
        assert info.value.code == "SUBREQUEST_HTTP_ERROR"
        assert server.requests == 2  # never sent twice


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\noops",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]",
        b"NOT HTTP AT ALL\r\n\r\n",
    ],
)
async def test_bad_answers_are_fetch_errors(clients: list[SubgraphClient], raw: bytes) -> None:
    async with RawServer(lambda n, b: raw) as url:
        with pytest.raises(SubgraphFetchError) as info:
            await client(url, clients).post({"query": "{ a }"})
    assert info.value.code == "SUBREQUEST_HTTP_ERROR"


async def test_unreachable_subgraph(clients: list[SubgraphClient]) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(SubgraphFetchError) as info:
        await client(f"http://127.0.0.1:{port}/graphql", clients).post({"query": "{ a }"})
    assert info.value.code == "SUBREQUEST_HTTP_ERROR"


async def test_timeout(clients: list[SubgraphClient]) -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(SubgraphFetchError) as info:
            await client(f"http://127.0.0.1:{port}/graphql", clients, timeout=0.2).post(
                {"query": "{ a }"}
            )
        assert info.value.code == "SUBREQUEST_TIMEOUT"
    finally:
        server.close()
        await asyncio.sleep(0.01)


async def test_identical_queries_in_flight_share_one_request(clients: list[SubgraphClient]) -> None:
    requests = 0

    async def slow_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = orjson.loads(await reader.readexactly(length))
                requests += 1
                await asyncio.sleep(0.1)
                writer.write(ok({"data": {"q": body["query"]}}))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(slow_ok, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/graphql"
    try:
        c = client(url, clients)
        results = await asyncio.gather(
            *(c.post({"query": "{ a }"}) for _ in range(5)), c.post({"query": "{ b }"})
        )
        assert [r["data"]["q"] for r in results] == ["{ a }"] * 5 + ["{ b }"]
        assert requests == 2  # five identical queries, one round trip
        results[0]["data"]["q"] = "changed"
        assert results[1]["data"]["q"] == "{ a }"  # each caller has its own objects
        # Mutations are never shared.
        await asyncio.gather(
            *(c.post({"query": "mutation { m }"}, idempotent=False) for _ in range(3))
        )
        assert requests == 5
        # Nor is anything when deduplication is off.
        plain = SubgraphClient("sub", url, 2.0, 10, deduplicate=False)
        clients.append(plain)
        await asyncio.gather(*(plain.post({"query": "{ a }"}) for _ in range(3)))
        assert requests == 8
    finally:
        for made in clients:
            await made.aclose()
        server.close()
        await asyncio.sleep(0.01)


async def test_headers_are_sent_but_never_split_or_duplicate_the_request(
    clients: list[SubgraphClient],
) -> None:
    seen: list[bytes] = []

    def respond(n: int, body: bytes) -> bytes:
        return ok({"data": {}})

    async def capture(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.lower())
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        writer.write(respond(1, b""))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(capture, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/graphql"
    try:
        c = SubgraphClient("sub", url, 2.0, 10, headers={"x-static": "1"})
        clients.append(c)
        await c.post(
            {"query": "{ a }"},
            {
                "authorization": "Bearer t",
                "content-length": "1",
                "x-evil": "a\r\nx-injected: 1",
                "host": "other",
            },
        )
    finally:
        server.close()
    [head] = seen
    assert b"authorization: bearer t" in head and b"x-static: 1" in head
    assert b"x-injected" not in head and b"other" not in head
    assert head.count(b"content-length") == 1 and head.count(b"host:") == 1


async def test_body_delimited_by_connection_close(clients: list[SubgraphClient]) -> None:
    body = orjson.dumps({"data": {"old": "style"}})
    raw = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n" + body
    async with RawServer(lambda n, b: raw, close_after_response=True) as url:
        c = client(url, clients)
        assert await c.post({"query": "{ old }"}) == {"data": {"old": "style"}}
        assert await c.post({"query": "{ old }"}) == {"data": {"old": "style"}}
