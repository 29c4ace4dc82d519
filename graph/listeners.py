"""Listeners besides the router's own: ``health_check.listen`` and the Prometheus exporter's
``listen``, served by the same process on other ports (routed by local port)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from graph.app import RouterApp
from graph.config import RouterConfig, parse_listen
from graph.http import APPLICATION_JSON, HttpError, respond

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def create_side_app(config: RouterConfig, router: RouterApp) -> Callable[..., Awaitable[None]]:
    """The app for ``health_check.listen`` / the Prometheus ``listen`` when on other ports.

    Each endpoint answers only on the port its own ``listen`` names.
    """
    main = config.supergraph.listen
    # (port, path) -> (query string -> (status, body, content type))
    routes: dict[tuple[int, str], Callable[[bytes], tuple[int, bytes, bytes]]] = {}
    health = config.health_check
    if health.enabled and health.listen not in (None, main):
        assert health.listen is not None

        def health_answer(query: bytes) -> tuple[int, bytes, bytes]:
            status, body = router.health(query)
            return status, body, APPLICATION_JSON

        routes[(parse_listen(health.listen)[1], health.path)] = health_answer
    prometheus = config.telemetry.exporters.metrics.prometheus
    if prometheus.enabled and prometheus.listen not in (None, main):
        assert prometheus.listen is not None

        def metrics_answer(query: bytes) -> tuple[int, bytes, bytes]:
            body, content_type = router.metrics.render()
            return 200, body, content_type.encode()

        routes[(parse_listen(prometheus.listen)[1], prometheus.path)] = metrics_answer

    async def side_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        server = scope.get("server") or (None, 0)
        route = routes.get((server[1], scope["path"]))
        if route is not None and scope["method"] == "GET":
            status, body, content_type = route(scope.get("query_string", b""))
            await respond(send, status, body, content_type)
        else:
            error = HttpError(404, f"Nothing is served at {scope['path']}.", "NOT_FOUND")
            await respond(send, 404, error.body(), APPLICATION_JSON)

    return side_app
