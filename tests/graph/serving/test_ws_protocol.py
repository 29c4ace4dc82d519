"""The router's WebSocket sockets forget their handshake once it is done
(graph/serving/transports/ws_protocol.py, graph/execution/subscriptions.py
``drop_handshake_parser``): fewer objects per socket for every full garbage collection, and
never a frame lost, changed or reordered by the parser swap."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Protocol
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from graph.execution.subscriptions import drop_handshake_parser
from graph.serving.transports.ws_protocol import LeanWebSocketProtocol
from tests.graph.serving.test_ws import PROTOCOL, handshake, recv, ws_url


def _pair() -> tuple[ClientProtocol, ServerProtocol, bytes]:
    """A client and a server protocol through their handshake, in memory, and the bytes the
    server sent with its 101 (nothing but the response)."""
    client = ClientProtocol(parse_uri("ws://example.test/graphql"))
    server = ServerProtocol()
    client.send_request(client.connect())
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    [request] = server.events_received()
    assert isinstance(request, Request)
    server.send_response(server.accept(request))
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    [response] = client.events_received()
    assert isinstance(response, Response) and response.status_code == 101
    return client, server, b""


def _holds(protocol: Protocol, kind: type) -> bool:
    """Whether the protocol's parser generator (or one it delegates to) holds a `kind`."""
    frame = protocol.parser.gi_frame  # type: ignore[attr-defined]
    return any(isinstance(v, kind) for v in frame.f_locals.values())


messages = st.lists(
    st.one_of(st.text(max_size=300), st.binary(max_size=300)), min_size=1, max_size=8
)


@settings(max_examples=150, deadline=None)
@given(
    messages,
    st.integers(0, 4000),
    st.integers(1, 64),
    st.booleans(),
)
def test_the_fresh_parser_reads_every_frame_as_the_old_one(
    sent: list[str | bytes], swap_after: int, chunk: int, client_side: bool
) -> None:
    """Frames sent in chunks of any size, the parser swapped after any number of bytes
    (between frames it is replaced, inside one it is kept): the receiver gets exactly the
    messages sent, in order."""
    client, server, _ = _pair()
    sender, receiver = (server, client) if client_side else (client, server)
    for message in sent:
        if isinstance(message, str):
            sender.send_text(message.encode())
        else:
            sender.send_binary(message)
    wire = b"".join(sender.data_to_send())
    received: list[str | bytes] = []
    swapped = False
    for start in range(0, len(wire), chunk):
        if not swapped and start >= swap_after:
            drop_handshake_parser(receiver)
            swapped = True
        receiver.receive_data(wire[start : start + chunk])
        for event in receiver.events_received():
            assert isinstance(event, Frame)
            if event.opcode is Opcode.TEXT:
                received.append(bytes(event.data).decode())
            elif event.opcode is Opcode.BINARY:
                received.append(bytes(event.data))
    assert received == sent


def test_the_handshake_leaves_the_parser_between_frames() -> None:
    client, server, _ = _pair()
    assert _holds(client, Response) and _holds(server, Request)
    drop_handshake_parser(client)
    drop_handshake_parser(server)
    assert not _holds(client, Response) and not _holds(server, Request)


@pytest.mark.parametrize("begun", [1, 2, 3, 4, 5])
def test_a_frame_begun_keeps_its_parser(begun: int) -> None:
    """Part of a frame received (4 bytes: its whole header read, nothing buffered)."""
    client, server, _ = _pair()
    server.send_text(b"x" * 200)
    wire = b"".join(server.data_to_send())
    client.receive_data(wire[:begun])
    before = client.parser
    drop_handshake_parser(client)
    assert client.parser is before
    client.receive_data(wire[begun:])
    [frame] = client.events_received()
    assert isinstance(frame, Frame) and frame.data == b"x" * 200


async def test_the_router_forgets_the_upgrade_request_and_response(router_url: str) -> None:
    """On a real socket of the router (served with LeanWebSocketProtocol, as `puppies serve
    router` does): no handshake kept once accepted, and the socket still works."""
    async with connect(ws_url(router_url), subprotocols=[PROTOCOL]) as ws:
        await handshake(ws)
        await ws.send(
            json.dumps({"type": "subscribe", "id": "q", "payload": {"query": "{ __typename }"}})
        )
        assert (await recv(ws))["payload"] == {"data": {"__typename": "Query"}}
        assert (await recv(ws)) == {"type": "complete", "id": "q"}
        sockets = [
            o
            for o in gc.get_objects()
            if isinstance(o, LeanWebSocketProtocol) and o.handshake_complete and not o.close_sent
        ]
        assert sockets
        for socket in sockets:
            assert "request" not in socket.__dict__ and "response" not in socket.__dict__
            assert not _holds(socket.conn, Request)
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
        await asyncio.sleep(0)
