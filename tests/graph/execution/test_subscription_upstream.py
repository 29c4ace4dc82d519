"""The subscription's WebSocket to the subgraph (graph/execution/subscriptions.py) against a
subgraph written frame by frame on a real TCP socket, so what the router's client must cope
with can be sent exactly: a message in fragments with a ping between them, a subgraph that
goes silent (the heartbeat ends the stream), and the close frame the router sends when the
client goes away."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from graph.execution import subscriptions
from graph.execution.gateway import Gateway
from tests.graph.fixtures.subgraphs import supergraph_sdl

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CONT, CLOSE, PING, PONG = 0x1, 0x0, 0x8, 0x9, 0xA
QUERY = 'subscription { reviewAdded(upc: "p1") { body } }'


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A server frame (unmasked)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    return head + bytes([126]) + struct.pack("!H", len(payload)) + payload


def event(body: str) -> bytes:
    return json.dumps(
        {"id": "1", "type": "next", "payload": {"data": {"reviewAdded": {"body": body}}}}
    ).encode()


class Peer:
    """One connection to the hand-written subgraph: reads the client's (masked) frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received: list[tuple[int, bytes]] = []  # (opcode, payload) from the router

    async def handshake(self) -> dict[str, str]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        accept = base64.b64encode(
            hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest()
        )
        self.writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Protocol: graphql-transport-ws\r\nSec-WebSocket-Accept: "
            + accept
            + b"\r\n\r\n"
        )
        return headers

    async def read(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        assert second & 0x80, "a client frame is masked"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        mask = await self.reader.readexactly(4)
        data = await self.reader.readexactly(length)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.received.append((first & 0x0F, payload))
        return first & 0x0F, payload

    async def read_message(self) -> dict[str, Any]:
        opcode, payload = await self.read()
        assert opcode == TEXT
        message: dict[str, Any] = json.loads(payload)
        return message

    async def start(self) -> dict[str, Any]:
        """The handshake, connection_init -> connection_ack, then the subscribe message."""
        await self.handshake()
        assert (await self.read_message())["type"] == "connection_init"
        self.writer.write(frame(TEXT, b'{"type":"connection_ack"}'))
        return await self.read_message()


@pytest.fixture
async def subgraph() -> AsyncIterator[
    Callable[[Callable[[Peer], Awaitable[None]]], Awaitable[Gateway]]
]:
    """`await subgraph(behaviour)`: a gateway whose `reviews` subgraph is a TCP server
    running `behaviour` for each connection."""
    servers: list[asyncio.Server] = []
    gateways: list[Gateway] = []
    handlers: set[asyncio.Task[Any]] = set()

    async def start(behaviour: Callable[[Peer], Awaitable[None]]) -> Gateway:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await behaviour(Peer(reader, writer))
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        gateway = Gateway.from_supergraph_sdl(
            supergraph_sdl({"reviews": f"http://127.0.0.1:{port}/graphql"})
        )
        gateways.append(gateway)
        return gateway

    yield start
    for gateway in gateways:
        await gateway.aclose()
    for server in servers:
        server.close()
    for task in handlers:
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)


async def test_fragments_and_pings_then_the_client_goes_away(subgraph: Any) -> None:
    """A message in two fragments with a ping between them arrives whole (the ping answered
    with a pong carrying its payload); when the client stops, the subgraph gets a close frame
    (1000) and the connection ends."""
    closed = asyncio.get_running_loop().create_future()

    async def behaviour(peer: Peer) -> None:
        subscribe = await peer.start()
        assert subscribe["type"] == "subscribe"
        assert subscribe["payload"]["query"].startswith("subscription")
        whole = event("in two parts")
        peer.writer.write(frame(TEXT, whole[:20], fin=False))
        peer.writer.write(frame(PING, b"are you there"))
        peer.writer.write(frame(CONT, whole[20:]))
        peer.writer.write(frame(TEXT, event("whole")))
        try:
            while True:
                await peer.read()
        except asyncio.IncompleteReadError:
            closed.set_result(peer.received)

    gateway = await subgraph(behaviour)
    stream = gateway.subscribe(gateway.prepare(QUERY, None), {})
    first = await anext(stream)
    second = await anext(stream)
    assert first == {"data": {"reviewAdded": {"body": "in two parts"}}}
    assert second == {"data": {"reviewAdded": {"body": "whole"}}}
    await stream.aclose()
    received = await asyncio.wait_for(closed, 10)
    assert (PONG, b"are you there") in received
    assert received[-1] == (CLOSE, struct.pack("!H", 1000))


async def test_a_silent_subgraph_is_dropped_by_the_heartbeat(
    subgraph: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subgraph that stops answering (not even the pong to the router's ping: a host gone
    away without closing) ends the stream with SUBREQUEST_HTTP_ERROR within two heartbeats,
    not never."""
    monkeypatch.setattr(subscriptions, "HEARTBEAT", 0.3)
    pinged = asyncio.Event()

    async def behaviour(peer: Peer) -> None:
        await peer.start()
        peer.writer.write(frame(TEXT, event("one")))
        while (await peer.read())[0] != PING:
            pass
        pinged.set()
        await asyncio.sleep(30)  # silent: the ping is never answered

    gateway = await subgraph(behaviour)
    stream = gateway.subscribe(gateway.prepare(QUERY, None), {})
    assert await anext(stream) == {"data": {"reviewAdded": {"body": "one"}}}
    ended = await asyncio.wait_for(anext(stream), 10)
    assert pinged.is_set()
    [error] = ended["errors"]
    assert error["extensions"] == {"code": "SUBREQUEST_HTTP_ERROR", "serviceName": "reviews"}
    assert "connection lost" in error["message"]
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_refused_handshake_is_a_subrequest_error(subgraph: Any) -> None:
    """An upgrade the subgraph answers with an HTTP error (not 101) fails the subscription
    with SUBREQUEST_HTTP_ERROR naming the status."""

    async def behaviour(peer: Peer) -> None:
        await peer.reader.readuntil(b"\r\n\r\n")
        peer.writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
        await peer.writer.drain()

    gateway = await subgraph(behaviour)
    events = [e async for e in gateway.subscribe(gateway.prepare(QUERY, None), {})]
    [only] = events
    [error] = only["errors"]
    assert error["extensions"] == {"code": "SUBREQUEST_HTTP_ERROR", "serviceName": "reviews"}
    assert "503" in error["message"]
