"""Subscriptions: forwarded to the subgraph that owns the root field over graphql-transport-ws;
every event then runs through the rest of the plan (entity fetches) and the shaper.

The client's credentials reach the subgraph as the upgrade request's headers (from the
``headers`` rules, exactly as for HTTP fetches; a WebSocket client's connection_init payload
counts as its headers, see graph/ws.py); the connection_init sent to the subgraph is empty.
A subgraph that refuses them (close 4403) gives the client an UNAUTHENTICATED error; a stream
that breaks before the subgraph completes it (the subgraph restarted, killed, the network)
ends with a SUBREQUEST_HTTP_ERROR, never with a `complete` that would look like its end."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import OPEN, Protocol, State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from graph.execution.executor import HeadersFor
from graph.planning.plan import FetchNode, PlanNode, SequenceNode
from graph.plugins.subgraph_errors import format_subgraph_error

if TYPE_CHECKING:
    from graph.execution.gateway import Gateway, PreparedOperation

_PROTOCOL = Subprotocol("graphql-transport-ws")
# graphql-transport-ws: the server refused connection_init (its credentials)
_FORBIDDEN = 4403
# the largest message taken from a subgraph (aiohttp's default, which this client replaced)
_MAX_MESSAGE = 4 * 2**20
# a ping every HEARTBEAT seconds; a connection that sent nothing since the previous ping
# (not even its pong) is dropped at the next one: the stream ends as broken
HEARTBEAT = 30.0
_TLS: ssl.SSLContext | None = None  # made on the first wss:// subscription


class UpstreamError(Exception):
    """The subscription's WebSocket to the subgraph could not be opened or used."""


def split_subscription_plan(node: PlanNode | None) -> tuple[FetchNode | None, PlanNode | None]:
    """The subscription's root fetch, and what runs for each event after it."""
    if isinstance(node, FetchNode):
        return node, None
    if isinstance(node, SequenceNode) and isinstance(node.nodes[0], FetchNode):
        rest = node.nodes[1:]
        if not rest:
            return node.nodes[0], None
        return node.nodes[0], rest[0] if len(rest) == 1 else SequenceNode(rest)
    return None, None


def drop_handshake_parser(protocol: Protocol) -> None:
    """Replace the parser generator of an ``OPEN`` websockets protocol whose handshake is
    done by a fresh frame parser (``Protocol.parse``: what the client's and the server's
    parsers run past the handshake), so the handshake's response (client) or request
    (server), a local of the old generator, is freed: ~20 objects per socket the garbage
    collector would walk for the socket's life. Only between frames: inside one (its
    header may be read already, the buffer empty) the old parser is kept, as it holds
    that frame's state."""
    reader = protocol.reader
    if protocol.state is not OPEN or reader.buffer or reader.eof:
        return
    # between frames, the parser (through the generators it delegates to) waits in
    # reader.at_eof() at the top of Protocol.parse's loop; anywhere else, a frame is begun
    waiting: Any = protocol.parser
    while waiting is not None and waiting.gi_code.co_name != "at_eof":
        waiting = waiting.gi_yieldfrom
    if waiting is None:
        return
    parser = Protocol.parse(protocol)
    next(parser)  # started, as Protocol.__init__ does: it waits for data
    protocol.parser = parser


def _ws_url(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


class _Upstream(asyncio.Protocol):
    """One WebSocket to a subgraph: websockets' sans-I/O protocol (handshake, framing, masking,
    answering pings and closes) on an asyncio transport. It replaced an aiohttp
    ``ClientSession`` and ``ws_connect`` per subscription: ~100 objects the garbage collector
    tracks per upstream socket (session, connector, cookie jar, response, reader, writer,
    timers, a reader queue) against ~15 here, which matters with 1,000 live subscriptions
    (every full collection walks them all; bench/RESULTS.md, "Session 22: router")."""

    __slots__ = ("_beat", "_parts", "_seen", "_waiter", "messages", "transport", "ws")

    def __init__(self, ws: ClientProtocol) -> None:
        self.ws = ws
        self.transport: asyncio.Transport | None = None
        # text messages received and not yet taken; a Response (the handshake's) first;
        # None once the socket is closed or lost
        self.messages: deque[str | Response | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._parts: list[bytes | bytearray | memoryview] | None = (
            None  # a fragmented text message so far
        )
        self._seen = True  # anything received since the last heartbeat
        self._beat: asyncio.TimerHandle | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._flush()  # the upgrade request, queued before the connection
        self._beat = asyncio.get_running_loop().call_later(HEARTBEAT, self._heartbeat)

    def data_received(self, data: bytes) -> None:
        self._seen = True
        self.ws.receive_data(data)
        self._take(self.ws.events_received())

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self._take(self.ws.events_received())
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        self._end()

    # the protocol
    def _take(self, events: list[Frame | Any]) -> None:
        self._flush()  # pongs, the answer to a close
        for event in events:
            if isinstance(event, Frame):
                self._frame(event)
            else:  # the handshake's response
                self.messages.append(event)
        if self.ws.state is State.CLOSED:
            self._end()
        self._wake()

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT:
            if frame.fin:
                self.messages.append(str(frame.data, "utf-8"))
            else:
                self._parts = [frame.data]
        elif opcode is Opcode.CONT and self._parts is not None:
            self._parts.append(frame.data)
            if frame.fin:
                self.messages.append(b"".join(self._parts).decode())
                self._parts = None
        elif opcode is Opcode.BINARY or opcode is Opcode.CLOSE:
            # graphql-transport-ws is text only: a binary message ends the stream as broken
            self._end()

    def _flush(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        for chunk in self.ws.data_to_send():
            if chunk:
                transport.write(chunk)
            else:  # the protocol is done with the connection
                transport.close()
                return

    def _end(self) -> None:
        if not self.messages or self.messages[-1] is not None:
            self.messages.append(None)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _heartbeat(self) -> None:
        if not self._seen:  # not even the pong to the previous ping
            self._beat = None
            if self.transport is not None:
                self.transport.abort()
            return
        self._seen = False
        if self.ws.state is State.OPEN:
            self.ws.send_ping(b"")
            self._flush()
        self._beat = asyncio.get_running_loop().call_later(HEARTBEAT, self._heartbeat)

    # for run_subscription
    async def receive(self) -> str | Response | None:
        """The next text message (the handshake's Response first); None: the socket ended."""
        messages = self.messages
        while not messages:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        message = messages[0]
        if message is not None:
            messages.popleft()
        return message

    def send(self, text: str) -> None:
        if self.ws.state is State.OPEN:
            self.ws.send_text(text.encode())
            self._flush()

    @property
    def close_code(self) -> int | None:
        """The code of the close frame the subgraph sent (None: none came)."""
        received = self.ws.close_rcvd
        return received.code if received is not None else None

    def close(self) -> None:
        """Close frame (1000) and the connection, without waiting for the subgraph's answer."""
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        if self.ws.state is State.OPEN:
            self.ws.send_close(1000)
            self._flush()
        if self.transport is not None:
            self.transport.close()


async def _open(url: str, headers: dict[str, str]) -> _Upstream:
    global _TLS
    try:
        uri = parse_uri(url)
    except InvalidURI as exc:
        raise UpstreamError(f"not a WebSocket URL: {url}") from exc
    ws = ClientProtocol(uri, subprotocols=[_PROTOCOL], max_size=_MAX_MESSAGE)
    request = ws.connect()
    for name, value in headers.items():
        request.headers[name] = value
    ws.send_request(request)
    tls: ssl.SSLContext | None = None
    if uri.secure:
        tls = _TLS = _TLS or ssl.create_default_context()
    _, upstream = await asyncio.get_running_loop().create_connection(
        lambda: _Upstream(ws),
        uri.host,
        uri.port,
        ssl=tls,
        server_hostname=uri.host if tls is not None else None,
    )
    return upstream


async def run_subscription(
    gateway: Gateway,
    prepared: PreparedOperation,
    variables: dict[str, Any],
    headers_for: HeadersFor | None,
) -> AsyncIterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    root, rest = split_subscription_plan(prepared.plan.node)
    if root is None:
        yield (
            {},
            [
                {
                    "message": "This subscription cannot be planned as one subgraph stream.",
                    "extensions": {"code": "QUERY_PLANNING_FAILED"},
                }
            ],
        )
        return
    subgraph = root.subgraph
    client = gateway.clients[subgraph]
    headers = dict(headers_for(subgraph)) if headers_for is not None else {}
    payload: dict[str, Any] = {"query": root.operation}
    if root.variable_usages:
        payload["variables"] = {k: variables[k] for k in root.variable_usages if k in variables}
    upstream: _Upstream | None = None
    try:
        async with asyncio.timeout(client.timeout):
            upstream = await _open(_ws_url(client.url), headers)
            response = await upstream.receive()
            if not isinstance(response, Response) or upstream.ws.handshake_exc is not None:
                raise UpstreamError(str(upstream.ws.handshake_exc or "no handshake response"))
            del response  # graphql-transport-ws messages are text frames.
            drop_handshake_parser(upstream.ws)  # the parser's copy of the response
            upstream.send('{"type":"connection_init","payload":{}}')
            ack = await upstream.receive()
        if ack is None and upstream.close_code == _FORBIDDEN:
            yield {}, [_refused(subgraph)]
            return
        if not isinstance(ack, str) or orjson.loads(ack).get("type") != "connection_ack":
            raise UpstreamError("the subgraph did not acknowledge the connection")
        upstream.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
        del payload, headers
        while isinstance(raw := await upstream.receive(), str):
            message = orjson.loads(raw)
            kind = message.get("type")
            if kind == "ping":
                upstream.send('{"type":"pong"}')
            elif kind == "next":
                # nothing of an event stays referenced here while it is sent on and the next
                # one awaited (such objects outlive young collections and are walked by every
                # full one): the message keeps only its type and id
                yield await _event(
                    gateway, subgraph, rest, variables, headers_for, message.pop("payload", None)
                )
            elif kind == "error":
                yield (
                    {},
                    [_event_error(subgraph, e, gateway) for e in message.get("payload") or ()],
                )
                return
            elif kind == "complete":
                return
        # The socket ended without the subgraph's `complete`: the subgraph went away
        # (killed, restarted, the network). Ending quietly would look like a stream
        # that finished; the client is told, so it can subscribe again.
        yield {}, [_broken(subgraph, upstream.close_code)]
    except (UpstreamError, OSError, TimeoutError) as exc:
        yield (
            {},
            [
                {
                    "message": f"subscription to '{subgraph}' failed: {exc}",
                    "extensions": {"code": "SUBREQUEST_HTTP_ERROR", "serviceName": subgraph},
                }
            ],
        )
    finally:
        if upstream is not None:
            upstream.close()


async def _event(
    gateway: Gateway,
    subgraph: str,
    rest: PlanNode | None,
    variables: dict[str, Any],
    headers_for: HeadersFor | None,
    event: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One `next` payload: its data and errors, then the rest of the plan (entity fetches)."""
    if not isinstance(event, dict):
        event = {}
    raw = event.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    errors = [_event_error(subgraph, e, gateway) for e in event.get("errors") or ()]
    if rest is not None and data:
        data, more = await gateway.executor.run_node(rest, variables, headers_for, data)
        errors += more
    return data, errors


def _broken(subgraph: str, close_code: int | None) -> dict[str, Any]:
    how = f"WebSocket close {close_code}" if close_code is not None else "connection lost"
    return {
        "message": f"subscription to '{subgraph}' failed: its stream ended before the "
        f"subgraph completed it ({how}); subscribe again",
        "extensions": {"code": "SUBREQUEST_HTTP_ERROR", "serviceName": subgraph},
    }


def _refused(subgraph: str) -> dict[str, Any]:
    return {
        "message": f"'{subgraph}' refused this subscription's credentials (WebSocket "
        "close 4403): send a valid Authorization in the connection_init "
        "payload or the upgrade request",
        "extensions": {"code": "UNAUTHENTICATED", "serviceName": subgraph},
    }


def _event_error(subgraph: str, e: Any, gateway: Gateway) -> dict[str, Any]:
    path = e.get("path") if isinstance(e, dict) and isinstance(e.get("path"), list) else None
    include = gateway.executor.include_errors.get(subgraph, False)
    return format_subgraph_error(subgraph, e, path, include)
