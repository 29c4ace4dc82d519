"""Server-sent events for GraphQL (graphql-sse's "distinct connections" mode).

A client that sends ``Accept: text/event-stream`` gets the operation's results as a stream:
one ``event: next`` per result (``data:`` is the JSON result), then ``event: complete``.
This is how a subscription can run over plain HTTP; a query or mutation streams one result,
or, with ``@defer``/``@stream``, one event per part (incrementalSpec=v0.2).
A comment line is sent every ``keepalive`` seconds so proxies keep the connection open, and
the stream (and with it the subgraph subscription) stops as soon as the client goes away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from graph.http import EVENT_STREAM
from graph.serving.request import RawHeaders
from graph.serving.transports import Receive, Send
from graph.serving.transports.streaming import Framing, stream_body

_COMPLETE = b"event: complete\ndata:\n\n"
_KEEPALIVE = b":\n\n"


def next_event(result: dict[str, Any]) -> bytes:
    return b"event: next\ndata: " + orjson.dumps(result) + b"\n\n"


class _Events(Framing):
    content_type = EVENT_STREAM

    def result(self, result: dict[str, Any]) -> tuple[bytes, bool]:
        return next_event(result), False

    def keepalive(self) -> bytes:
        return _KEEPALIVE

    def end(self) -> bytes:
        return _COMPLETE


async def stream_events(
    send: Send,
    receive: Receive,
    results: AsyncIterator[dict[str, Any]],
    headers: RawHeaders,
    keepalive: float = 12.0,
) -> None:
    """Send ``results`` as an event stream until they end or the client disconnects."""
    await stream_body(send, receive, results, headers, _Events(), keepalive)
