"""One streamed HTTP response body, whatever its framing (server-sent events, multipart): the
results of a stream are written as they come, a keep-alive chunk is written whenever none
came for a while, and the stream (and with it the subscription or the fetches behind it)
stops as soon as the client goes away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from graph.http import NOSNIFF
from graph.serving.request import RawHeaders
from graph.serving.transports import Receive, Send

logger = logging.getLogger("graph.serving.streaming")

FAILED: dict[str, Any] = {
    "errors": [
        {
            "message": "The router failed to run this operation.",
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]
}


class Framing:
    """How results become bytes on the wire."""

    content_type: bytes = b""

    def first(self) -> bytes:
        """Written right after the headers (b"": nothing)."""
        return b""

    def result(self, result: dict[str, Any]) -> tuple[bytes, bool]:
        """One result's bytes, and whether the stream ends with it."""
        raise NotImplementedError

    def keepalive(self) -> bytes:
        raise NotImplementedError

    def end(self) -> bytes:
        """Written once the results are over (not after a result that ended the stream)."""
        raise NotImplementedError


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def stream_body(
    send: Send,
    receive: Receive,
    results: AsyncIterator[dict[str, Any]],
    headers: RawHeaders,
    framing: Framing,
    keepalive: float,
    on_failure: Callable[[], dict[str, Any]] = lambda: FAILED,
) -> None:
    """Send ``results`` in ``framing`` until they end or the client disconnects."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", framing.content_type),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),
                NOSNIFF,
                *headers,
            ],
        }
    )
    first = framing.first()
    if first:
        await send({"type": "http.response.body", "body": first, "more_body": True})
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
                body = framing.keepalive()
                if body:  # (an empty chunk would end a chunked response)
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                continue
            try:
                result = pending.result()
            except StopAsyncIteration:
                break
            except Exception:  # the pipeline turns failures into results; this is a last resort
                logger.exception("a streamed response failed")
                result = on_failure()
            finally:
                pending = None
            body, last = framing.result(result)
            await send({"type": "http.response.body", "body": body, "more_body": not last})
            if last:
                return
        await send({"type": "http.response.body", "body": framing.end(), "more_body": False})
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
