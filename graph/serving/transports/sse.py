"""Server-sent events for GraphQL (graphql-sse's "distinct connections" mode).

A client that sends ``Accept: text/event-stream`` gets the operation's results as a stream:
one ``event: next`` per result (``data:`` is the JSON result), then ``event: complete``.
This is how a subscription can run over plain HTTP; a query or mutation streams one result.
A comment line is sent every ``keepalive`` seconds so proxies keep the connection open, and
the stream (and with it the subgraph subscription) stops as soon as the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from graph.http import EVENT_STREAM
from graph.serving.request import RawHeaders
from graph.serving.transports import Receive, Send

logger = logging.getLogger("graph.sse")

_COMPLETE = b"event: complete\ndata:\n\n"
_KEEPALIVE = b":\n\n"
_FAILED = {
    "errors": [
        {
            "message": "The router failed to run this operation.",
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]
}


def next_event(result: dict[str, Any]) -> bytes:
    return b"event: next\ndata: " + orjson.dumps(result) + b"\n\n"


def _start(headers: RawHeaders) -> dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", EVENT_STREAM),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            *headers,
        ],
    }


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def stream_events(
    send: Send,
    receive: Receive,
    results: AsyncIterator[dict[str, Any]],
    headers: RawHeaders,
    keepalive: float = 12.0,
) -> None:
    """Send ``results`` as an event stream until they end or the client disconnects."""
    await send(_start(headers))
    disconnected: asyncio.Future[Any] = asyncio.ensure_future(_wait_for_disconnect(receive))
    iterator = aiter(results)
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait(
                {pending, disconnected}, timeout=keepalive, return_when=asyncio.FIRST_COMPLETED
            )
            if disconnected in done:
                return
            if not done:
                await send({"type": "http.response.body", "body": _KEEPALIVE, "more_body": True})
                continue
            try:
                result = pending.result()
            except StopAsyncIteration:
                break
            except Exception:  # the pipeline turns failures into events; this is a last resort
                logger.exception("an event stream failed")
                await send(
                    {"type": "http.response.body", "body": next_event(_FAILED), "more_body": True}
                )
                break
            finally:
                pending = None
            await send(
                {"type": "http.response.body", "body": next_event(result), "more_body": True}
            )
        await send({"type": "http.response.body", "body": _COMPLETE, "more_body": False})
    finally:
        for future in (pending, disconnected):
            if future is not None and not future.done():
                future.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await future
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
