"""The subgraphs' HTTP protocol (subgraphs/common/server.py): uvicorn's httptools protocol
with a response's writes coalesced answers every request with the same bytes, one write
for a response sent in one go, a streamed response's headers and parts without waiting."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from puppies.embedded import free_port
from subgraphs.common.server import FLUSH_AT, CoalescingHttpToolsProtocol, CoalescingTransport

Message = dict[str, Any]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echo-ish: the path says what to answer (status, headers, body in parts, a pause)."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/stream":  # headers, then a part a while later (a multipart subscription)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"x-kind", b"stream")]}
        )
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await asyncio.sleep(0.6)
        await send({"type": "http.response.body", "body": b"second", "more_body": False})
        return
    if path == "/boom":
        raise RuntimeError("boom")
    status = int(scope["query_string"] or b"200")
    parts = [body[i : i + 7] for i in range(0, len(body), 7)] or [b""]
    headers = [(b"x-parts", str(len(parts)).encode())]
    if path == "/length":
        headers.append((b"content-length", str(len(body)).encode()))
    if path == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    for i, part in enumerate(parts):
        await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})


@contextlib.asynccontextmanager
async def served(http: Any) -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=http,
        lifespan="off",
        log_level="critical",
        date_header=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and not task.done()
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


_REQUESTS = st.lists(
    st.tuples(
        st.sampled_from(["/", "/length", "/close", "/boom"]),
        st.sampled_from([b"", b"200", b"404", b"204", b"500"]),
        st.binary(max_size=40),
        st.sampled_from(["POST", "GET", "HEAD"]),
    ),
    min_size=1,
    max_size=4,
)


def _request(path: str, status: bytes, body: bytes, method: str) -> bytes:
    query = b"?" + status if status else b""
    return (
        f"{method} {path}".encode()
        + query
        + b" HTTP/1.1\r\nhost: t\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


@pytest.fixture(scope="module")
def both() -> Iterator[tuple[int, int]]:
    """uvicorn's own httptools protocol and ours, serving `app` from a thread's loop."""
    ports: list[int] = []
    ready = threading.Event()
    stop: list[asyncio.Event] = []

    async def run() -> None:
        stop.append(asyncio.Event())
        async with served("httptools") as stock, served(CoalescingHttpToolsProtocol) as ours:
            ports.extend([stock, ours])
            ready.set()
            await stop[0].wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield ports[0], ports[1]
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(30)


def exchange_blocking(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        sock.settimeout(0.3)
        out = b""
        with contextlib.suppress(TimeoutError):
            while chunk := sock.recv(65536):
                out += chunk
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests=_REQUESTS)
def test_same_bytes_as_uvicorns_own_protocol(
    both: tuple[int, int], requests: list[tuple[str, bytes, bytes, str]]
) -> None:
    """Pipelined requests of every kind on one connection (a body in parts, a set length,
    `connection: close`, an app that raises, HEAD, 204): the same bytes either way."""
    stock, ours = both
    raw = b"".join(_request(*r) for r in requests)
    assert exchange_blocking(ours, raw) == exchange_blocking(stock, raw)


async def test_a_response_sent_in_one_go_is_one_write() -> None:
    writes: list[bytes] = []

    class Recording(asyncio.Transport):
        def write(self, data: Any) -> None:
            writes.append(bytes(data))

        def is_closing(self) -> bool:
            return False

        def close(self) -> None:
            writes.append(b"<closed>")

        def abort(self) -> None:
            writes.append(b"<aborted>")

    loop = asyncio.get_running_loop()
    transport = CoalescingTransport(Recording(), loop)
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    transport.write(b"")
    assert writes == []
    await asyncio.sleep(0)
    assert writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    big = b"x" * FLUSH_AT  # handed over at once, with what was pending
    transport.write(b"head")
    transport.write(big)
    assert writes[-1] == b"head" + big
    await asyncio.sleep(0)
    assert writes[-1] == b"head" + big  # nothing more at the end of the turn
    transport.write(b"later")
    transport.close()  # what is pending goes before the close
    assert writes[-2:] == [b"later", b"<closed>"]
    transport.write(b"dropped")
    transport.abort()  # and is dropped by an abort, as the transport drops its buffer
    await asyncio.sleep(0)
    assert writes[-1] == b"<aborted>"


async def test_a_streamed_responses_headers_and_first_part_do_not_wait() -> None:
    async with served(CoalescingHttpToolsProtocol) as port, httpx.AsyncClient() as client:
        started = time.monotonic()
        async with client.stream("GET", f"http://127.0.0.1:{port}/stream") as response:
            assert response.headers["x-kind"] == "stream"
            chunks = response.aiter_raw()
            assert await anext(chunks) == b"first"
            assert time.monotonic() - started < 0.4
            assert b"".join([c async for c in chunks]) == b"second"


async def test_large_bodies_and_keep_alive() -> None:
    async with served(CoalescingHttpToolsProtocol) as port, httpx.AsyncClient() as client:
        big = bytes(range(256)) * 20_000  # 5 MB, past the transport's high-water mark
        for _ in range(3):  # one connection, kept alive
            r = await client.post(f"http://127.0.0.1:{port}/length", content=big)
            assert r.status_code == 200 and r.content == big
