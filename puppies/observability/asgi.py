"""The ASGI middleware every subgraph app runs behind.

- `x-request-id`: taken from the request when acceptable (else made), kept in a contextvar
  for the log lines and outbox events of the request, and echoed in the response.
- `/health` (`?ready`) and `/metrics` are answered here, before anything else runs.
- HTTP RED metrics per method, path and status; open WebSocket connections.
- With tracing on, OpenTelemetry's ASGI middleware inside this one makes the request's span
  (a child of the caller's `traceparent`); with tracing off the caller's trace context is
  still attached, so log lines name the caller's trace.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from puppies.observability import metrics
from puppies.observability.context import (
    REQUEST_ID_HEADER,
    accept_request_id,
    reset_request_id,
    set_request_id,
)
from puppies.observability.health import UP, Readiness, wants_readiness
from puppies.observability.tracing import tracing_enabled

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID = REQUEST_ID_HEADER.encode()
_JSON = [(b"content-type", b"application/json")]
_PROPAGATOR = TraceContextTextMapPropagator()


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ObservedApp:
    """Wraps `app` (see the module docstring). `paths`: the paths worth their own metric
    label; any other path is counted as `other`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        readiness: Readiness,
        paths: frozenset[str] = frozenset({"/graphql"}),
        health_path: str = "/health",
        metrics_path: str = "/metrics",
    ) -> None:
        self.readiness = readiness
        self.paths = paths | {health_path, metrics_path}
        self.health_path = health_path
        self.metrics_path = metrics_path
        self.inner: ASGIApp = app
        if tracing_enabled():
            from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

            self.inner = OpenTelemetryMiddleware(
                app,
                excluded_urls=f"{health_path},{metrics_path}",
                exclude_spans=["receive", "send"],
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if path == self.health_path:
                if wants_readiness(scope.get("query_string", b"")):
                    status, body = await self.readiness.answer()
                else:
                    status, body = 200, UP
                await _respond(send, status, body, _JSON)
                return
            if path == self.metrics_path:
                body, content_type = metrics.render()
                await _respond(send, 200, body, [(b"content-type", content_type.encode())])
                return
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.inner(scope, receive, send)

    def _enter(self, scope: Scope) -> tuple[str, Any, Any]:
        """Set the request id (and, tracing off, the caller's trace) for this request."""
        incoming = traceparent = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                incoming = value
            elif name == b"traceparent":
                traceparent = value
        rid = accept_request_id(incoming)
        token = set_request_id(rid)
        attached = None
        if traceparent is not None and not tracing_enabled():
            ctx = _PROPAGATOR.extract({"traceparent": traceparent.decode("latin-1")})
            attached = otel_context.attach(ctx)
        return rid, token, attached

    @staticmethod
    def _leave(token: Any, attached: Any) -> None:
        if attached is not None:
            otel_context.detach(attached)
        reset_request_id(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        rid, token, attached = self._enter(scope)
        status = 500
        header = (_REQUEST_ID, rid.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.inner(scope, receive, send_with_id)
        finally:
            self._leave(token, attached)
            path = scope["path"] if scope["path"] in self.paths else metrics.OTHER
            method = scope["method"]
            metrics.http_requests(method, path, str(status)).inc()
            metrics.http_duration(method, path).observe(time.perf_counter() - started)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        _, token, attached = self._enter(scope)
        metrics.WEBSOCKET_CONNECTIONS.inc()
        try:
            await self.inner(scope, receive, send)
        finally:
            metrics.WEBSOCKET_CONNECTIONS.dec()
            self._leave(token, attached)
