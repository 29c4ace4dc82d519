"""``multipart/mixed`` responses (GraphQL over HTTP's incremental delivery, as Apollo Router
writes them): the parts of a ``@defer``/``@stream`` response, and Apollo's multipart
subscription protocol.

Each part is ``content-type: application/json`` and one JSON body; the boundary is always
``graphql``. The body starts with ``\r\n--graphql\r\n``; every part ends with its
delimiter line right away (``\r\n--graphql\r\n``, or the close delimiter
``\r\n--graphql--\r\n`` after the last part), so a client sees each part as soon as it is
sent, whether it splits on ``\r\n--graphql`` (Apollo Client, meros) or reads delimiter lines
(a MIME parser such as aiohttp's).

- Incremental delivery (``deferSpec=20220824`` or ``incrementalSpec=v0.2``): one part per
  payload; the one with ``hasNext: false`` ends the response.
- Subscriptions (``subscriptionSpec="1.0"``): ``{"payload": <result>}`` per event, ``{}`` as a
  heartbeat (right away, then whenever no event came for ``heartbeat`` seconds, and as the
  last part when the subscription completes), ``{"payload": null, "errors": [...]}`` as the
  last part when the subscription fails (the subgraph refused it, or its stream broke). A
  client that asked for a plain ``multipart/mixed`` gets each event as the incremental
  delivery RFC's part (the result with ``hasNext: true``) and a last ``{"hasNext": false}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from graph.http import DEFER_SPEC_20220824
from graph.serving.request import RawHeaders
from graph.serving.transports import Receive, Send
from graph.serving.transports.streaming import FAILED, Framing, stream_body

_FIRST = b"\r\n--graphql\r\n"
_HEAD = b"content-type: application/json\r\n\r\n"
_NEXT = b"\r\n--graphql\r\n"
_LAST = b"\r\n--graphql--\r\n"
_HEARTBEAT = _HEAD + b"{}" + _NEXT

DEFER_20220824 = b'multipart/mixed;boundary="graphql";deferSpec=20220824'
INCREMENTAL = b'multipart/mixed;boundary="graphql";incrementalSpec=v0.2'
SUBSCRIPTION = b'multipart/mixed;boundary="graphql";subscriptionSpec="1.0"'
PLAIN = b'multipart/mixed;boundary="graphql"'


def part(body: bytes, *, last: bool = False) -> bytes:
    return _HEAD + body + (_LAST if last else _NEXT)


class Incremental(Framing):
    """The parts of an incremental response (or one whole result, ``hasNext`` false)."""

    def __init__(self, fmt: str | None) -> None:
        self.content_type = DEFER_20220824 if fmt == DEFER_SPEC_20220824 else INCREMENTAL

    def first(self) -> bytes:
        return _FIRST

    def result(self, result: dict[str, Any]) -> tuple[bytes, bool]:
        last = not result.get("hasNext", False)
        return part(orjson.dumps(result), last=last), last

    def keepalive(self) -> bytes:
        return b""  # nothing is written between parts: a part is one JSON body

    def end(self) -> bytes:
        return part(b'{"hasNext":false}', last=True)


class Subscription(Framing):
    """Apollo's multipart subscription protocol, or (``plain``) the RFC's parts."""

    def __init__(self, plain: bool) -> None:
        self.plain = plain
        self.content_type = PLAIN if plain else SUBSCRIPTION

    def first(self) -> bytes:
        return _FIRST if self.plain else _FIRST + _HEARTBEAT

    def result(self, result: dict[str, Any]) -> tuple[bytes, bool]:
        if self.plain:
            return part(orjson.dumps({**result, "hasNext": True})), False
        if "data" not in result:  # the subscription failed: no more events
            errors = result.get("errors") or FAILED["errors"]
            return part(orjson.dumps({"payload": None, "errors": errors}), last=True), True
        return part(orjson.dumps({"payload": result})), False

    def keepalive(self) -> bytes:
        return b"" if self.plain else _HEARTBEAT

    def end(self) -> bytes:
        return part(b'{"hasNext":false}' if self.plain else b"{}", last=True)


async def stream_parts(
    send: Send,
    receive: Receive,
    results: AsyncIterator[dict[str, Any]],
    headers: RawHeaders,
    framing: Framing,
    heartbeat: float,
) -> None:
    """Send ``results`` as a multipart response until they end or the client goes away."""
    await stream_body(send, receive, results, headers, framing, heartbeat)
