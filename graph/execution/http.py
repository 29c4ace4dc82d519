"""Pooled keep-alive HTTP/1.1 connections to subgraphs.

A lean client on asyncio protocols and the httptools response parser (the one uvicorn uses):
a subgraph request is one `transport.write` and one parsed response, with no per-request
objects beyond a future. Each subgraph has its own pool (at most `max_connections` open at
once), a per-request total timeout, idle connections dropped before servers usually close
them, and one retry on a fresh connection when a reused keep-alive connection turns out to be
closed (only for queries: a mutation is never sent twice). With a circuit breaker
(graph/execution/breaker.py), a subgraph that keeps failing is not called at all for a while.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Hashable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import httptools
import orjson

from graph.deadline import Deadline
from graph.execution.breaker import CircuitBreaker
from graph.execution.errors import SubgraphFetchError
from graph.execution.inflight import shared

_IDLE_SECONDS = 4.0  # below uvicorn's default keep-alive timeout of 5 s


class _StaleConnection(ConnectionError):
    """The connection was closed before any byte of the response arrived."""


class _Connection(asyncio.Protocol):
    __slots__ = (
        "_body",
        "_headers_done",
        "_parser",
        "_started",
        "_waiter",
        "closed",
        "idle_since",
        "keep_alive",
        "transport",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self._parser: Any = None
        self._started = False
        self._headers_done = False
        self.closed = False
        self.keep_alive = True
        self.idle_since = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._started = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"invalid HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        w = self._waiter
        if self._headers_done and exc is None and w is not None and not w.done():
            # A body delimited by the end of the connection (no length, not chunked).
            self.keep_alive = False
            w.set_result((self._parser.get_status_code(), b"".join(self._body)))
            return
        if self._started:
            self._fail(ConnectionError("the subgraph closed the connection mid-response"))
        else:
            self._fail(_StaleConnection("the subgraph closed the connection"))

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = bool(self._parser.should_keep_alive())
        w = self._waiter
        if w is not None and not w.done():
            w.set_result((self._parser.get_status_code(), b"".join(self._body)))

    def _fail(self, exc: Exception) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_exception(exc)

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._body = []
        self._started = False
        self._headers_done = False
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class SubgraphTransport(Protocol):
    """What the executor sends subgraph requests through (`SubgraphClient` over HTTP).

    `url` and `timeout` are also what a subscription's WebSocket to the subgraph uses."""

    url: str
    timeout: float

    async def post(
        self,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Send one GraphQL request body; the subgraph's response body (with data/errors), or
        SubgraphFetchError."""
        ...

    async def aclose(self) -> None: ...


class SubgraphClient:
    """Sends GraphQL requests to one subgraph over a pool of keep-alive connections."""

    def __init__(
        self,
        name: str,
        url: str,
        timeout: float,
        max_connections: int,
        headers: Mapping[str, str] | None = None,
        deduplicate: bool = True,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.name = name
        self.breaker = breaker  # fails fast while the subgraph is down (graph/execution/breaker.py)
        self.deduplicate = deduplicate
        self.requests_sent = 0  # round trips made (shared ones count once)
        # Identical query requests in flight (same bytes: query, variables, headers) share
        # one subgraph round trip; each caller parses the answer into its own objects.
        self._inflight: dict[Hashable, asyncio.Future[tuple[int, bytes]]] = {}
        self.url = url
        self.timeout = timeout
        self.max_connections = max_connections
        parts = urlsplit(url)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._tls else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        static = {
            "content-type": "application/json",
            "accept": "application/graphql-response+json, application/json",
            **{k: v for k, v in (headers or {}).items() if k.lower() not in _RESERVED},
        }
        self._head = f"POST {target} HTTP/1.1\r\nhost: {parts.netloc}\r\n".encode() + _header_bytes(
            static, reserved=False
        )
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if self._tls else None

    async def post(
        self,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        idempotent: bool = True,
        context_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """`context_headers` (request id, traceparent) are sent but not part of what
        identical in-flight requests are recognised by: a shared round trip carries the
        first caller's."""
        payload = orjson.dumps(body)
        head = self._head + _header_bytes(headers) if headers else self._head
        if idempotent and self.deduplicate:
            data = b"%bcontent-length: %d\r\n\r\n%b" % (head, len(payload), payload)
            # the bytes sent carry the context headers of whoever sends them
            sent = _request(head, context_headers, payload) if context_headers else data
            (status, raw), _ = await shared(
                self._inflight, data, functools.partial(self._send, sent, True)
            )
        else:
            status, raw = await self._send(_request(head, context_headers, payload), idempotent)
        try:
            result = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise SubgraphFetchError(
                self.name,
                f"HTTP fetch failed from '{self.name}': {status} with a body that is not JSON",
                "SUBREQUEST_HTTP_ERROR",
            ) from exc
        if not isinstance(result, dict) or ("data" not in result and "errors" not in result):
            raise SubgraphFetchError(
                self.name,
                f"HTTP fetch failed from '{self.name}': {status} without a GraphQL response",
                "SUBREQUEST_HTTP_ERROR",
            )
        return result

    async def _send(self, data: bytes, idempotent: bool) -> tuple[int, bytes]:
        breaker = self.breaker
        if breaker is None:
            return await self._attempt(data, idempotent)
        ticket = breaker.admit()  # raises SubgraphFetchError while the breaker is open
        try:
            status, raw = await self._attempt(data, idempotent)
        except SubgraphFetchError:
            breaker.record(ticket, ok=False)
            raise
        except BaseException:
            breaker.cancelled(ticket)
            raise
        breaker.record(ticket, ok=status < 500)
        return status, raw

    async def _attempt(self, data: bytes, idempotent: bool) -> tuple[int, bytes]:
        self.requests_sent += 1
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        try:
            async with self._slots:  # (waiting for a connection slot is not timed)
                # asyncio.timeout's semantics at half its cost (graph/deadline.py)
                with Deadline(self.timeout):
                    return await self._roundtrip(data, idempotent)
        except TimeoutError as exc:
            raise SubgraphFetchError(
                self.name,
                f"subgraph '{self.name}' did not answer within {self.timeout:g}s",
                "SUBREQUEST_TIMEOUT",
            ) from exc
        except OSError as exc:
            raise SubgraphFetchError(
                self.name, f"HTTP fetch failed from '{self.name}': {exc}", "SUBREQUEST_HTTP_ERROR"
            ) from exc

    async def _roundtrip(self, data: bytes, idempotent: bool) -> tuple[int, bytes]:
        conn = self._checkout()
        reused = conn is not None
        if conn is None:
            conn = await self._connect()
        try:
            result = await conn.request(data)
        except _StaleConnection:
            conn.close()
            if not (reused and idempotent):
                raise
            conn = await self._connect()
            try:
                result = await conn.request(data)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            conn.close()  # a timeout or failure mid-request: the connection is unusable
            raise
        if conn.keep_alive and not conn.closed:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()
        return result

    def _checkout(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < _IDLE_SECONDS:
                return conn
            conn.close()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            _Connection,
            self._host,
            self._port,
            ssl=self._ssl,
            server_hostname=self._host if self._tls else None,
        )
        return conn

    async def aclose(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


# Headers the client sets itself: a propagated or configured one would duplicate them.
_RESERVED = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "accept",
        "connection",
        "transfer-encoding",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "accept-encoding",
    }
)


def _request(head: bytes, context_headers: Mapping[str, str] | None, payload: bytes) -> bytes:
    return b"%b%bcontent-length: %d\r\n\r\n%b" % (
        head,
        _header_bytes(context_headers),
        len(payload),
        payload,
    )


def _header_bytes(headers: Mapping[str, str] | None, reserved: bool = True) -> bytes:
    if not headers:
        return b""
    out = []
    for k, v in headers.items():
        if "\r" in k or "\n" in k or "\r" in v or "\n" in v or ":" in k:
            continue  # never let a header split the request
        if reserved and k.lower() in _RESERVED:
            continue
        out.append(f"{k}: {v}\r\n")
    return "".join(out).encode("latin-1", "replace")
