"""The router's ASGI app: the GraphQL path (HTTP, server-sent events, graphql-transport-ws),
``/health`` and ``/metrics``, and the lifespan.

Raw ASGI (no framework) to keep the per-request path short. Every GraphQL request, whatever
its transport, goes through the one request pipeline (graph/serving/pipeline.py); the
transports (graph/serving/transports/) only translate the wire.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from graph.config import RouterConfig
from graph.execution.gateway import Gateway
from graph.http import APPLICATION_JSON, HttpError, respond
from graph.observability import gc as gc_tuning
from graph.observability.health import SubgraphReadiness
from graph.observability.metrics import Metrics
from graph.options import credentials_warning, gateway_options, unknown_subgraph_names
from graph.serving.pipeline import Pipeline
from graph.serving.static_files import StaticFiles
from graph.serving.transports import Receive, Scope, Send
from graph.serving.transports.http import HttpTransport
from graph.serving.transports.ws import GraphQLTransportWS

logger = logging.getLogger("graph.app")

# Garbage collection (graph/observability/gc.py): after start-up the long-lived heap
# (supergraph, schema, planner, modules: ~95,000 objects) is frozen out of collection, so a
# full collection walks only what came after it (connections, subscriptions, caches, requests
# in flight), and the thresholds are set (PUPPIES_ROUTER_GC_THRESHOLDS, else GC_THRESHOLDS).
# With neither, under the soak's load the router stopped for 1-6 s at every full collection
# (bench/RESULTS.md, "Soak, session 21"; "Session 24: router GC with subscribers").


def tune_gc() -> None:
    """Collect, freeze what is alive (start-up's heap), set the thresholds."""
    gc_tuning.tune()


HEALTH_BODY = b'{"status":"UP"}'
DOWN_BODY = b'{"status":"DOWN"}'


class RouterApp:
    """The ASGI application. Build it with :func:`create_app`."""

    def __init__(self, gateway: Gateway, config: RouterConfig) -> None:
        self.warnings: list[str] = []  # start-up warnings, printed by the CLI
        self.metrics = Metrics()
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []  # run while serving
        self.pipeline = Pipeline(config, gateway, self.metrics)
        self.http = HttpTransport(self._current)
        self.ws = GraphQLTransportWS(self._current)
        self.serving = False  # between lifespan start-up and shutdown
        interval = config.health_check.readiness.interval
        self.readiness = SubgraphReadiness(
            self._subgraph_urls,
            interval.sampling,
            interval.unready,
            on_probe=lambda name, ok: self.metrics.subgraphs_up.labels(name).set(int(ok)),
        )
        self.background.append(self.readiness.run)
        self._configure(config)

    def _subgraph_urls(self) -> dict[str, str]:
        return {name: client.url for name, client in self.pipeline.gateway.clients.items()}

    def health(self, query_string: bytes) -> tuple[int, bytes]:
        """``/health``: 200 UP while serving; ``/health?ready``: 503 DOWN until every
        subgraph answered the readiness probe recently (graph/observability/health.py)."""
        if b"ready" in query_string.split(b"&") or query_string.startswith(b"ready="):
            ready = self.serving and self.readiness.ready()
            return (200, HEALTH_BODY) if ready else (503, DOWN_BODY)
        return 200, HEALTH_BODY

    def _current(self) -> Pipeline:
        return self.pipeline

    @property
    def sse_keepalive(self) -> float:
        """Seconds between keep-alive comments on an event stream."""
        return self.http.sse_keepalive

    @sse_keepalive.setter
    def sse_keepalive(self, seconds: float) -> None:
        self.http.sse_keepalive = seconds

    @property
    def gateway(self) -> Gateway:
        return self.pipeline.gateway

    @property
    def config(self) -> RouterConfig:
        return self.pipeline.config

    def _configure(self, config: RouterConfig) -> None:
        self.graphql_path = config.supergraph.path
        self.http.multipart_heartbeat = config.subscription.heartbeat_interval
        own = (None, config.supergraph.listen)  # served on the router's own port
        health = config.health_check
        self.health_path = health.path if health.enabled and health.listen in own else None
        prometheus = config.telemetry.exporters.metrics.prometheus
        self.metrics_path = (
            prometheus.path if prometheus.enabled and prometheus.listen in own else None
        )
        self.static_files = StaticFiles(config.static_files)

    async def replace(self, supergraph_sdl: str, config: RouterConfig) -> Pipeline:
        """Serve a new supergraph and/or router.yaml from now on; returns the old pipeline
        (still used by requests in flight: ``retire`` it once they are done)."""
        gateway = Gateway.from_supergraph_sdl(supergraph_sdl, gateway_options(config))
        pipeline = Pipeline(config, gateway, self.metrics)
        if self.serving:
            await pipeline.start()
        old, self.pipeline = self.pipeline, pipeline
        self._configure(config)
        return old

    @staticmethod
    async def retire(pipeline: Pipeline) -> None:
        """Stop an old pipeline's stages and close its gateway's connections."""
        await pipeline.stop()
        await pipeline.gateway.aclose()

    def refreeze(self) -> None:
        """After a reload, once the old pipeline is retired and dropped: it was frozen with
        the start-up heap (its schema's reference cycles would never be collected), so
        unfreeze, collect it, and freeze the heap serving now."""
        if self.serving:
            gc.unfreeze()
            tune_gc()
            self.metrics.gc.install()  # the frozen objects counted again

    # ---- ASGI entry point
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            if scope["path"] == self.graphql_path:
                await self.ws.serve(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 4404})
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        tasks: list[asyncio.Task[None]] = []
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.pipeline.start()
                except Exception as exc:
                    logger.exception("the router could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self.serving = True
                tune_gc()
                self.metrics.gc.install()
                tasks = [asyncio.create_task(job()) for job in self.background]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.serving = False
                self.metrics.gc.uninstall()
                try:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    await self.retire(self.pipeline)
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    # ---- HTTP
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path = scope["path"]
        method = scope["method"]
        if path == self.graphql_path:
            status = await self.http.serve(scope, receive, send)
        elif path == self.health_path and method == "GET":
            status, body = self.health(scope.get("query_string", b""))
            status = await respond(send, status, body, APPLICATION_JSON)
        elif path == self.metrics_path and method == "GET":
            text, content_type = self.metrics.render()
            status = await respond(send, 200, text, content_type.encode())
        elif (ide := self.pipeline.ide) is not None and ide.owns(path):
            status = await ide.serve_asset(scope, send)
        elif self.static_files and (mount := self.static_files.match(path)) is not None:
            status = await self.static_files.serve(scope, send, *mount)
        else:
            error = HttpError(
                404,
                f"Nothing is served at {path}; GraphQL is at {self.graphql_path}.",
                "NOT_FOUND",
            )
            status = await respond(send, 404, error.body(), APPLICATION_JSON)
        self.metrics.observe_request(method, status, time.perf_counter() - started)


def create_app(supergraph_sdl: str, config: RouterConfig | None = None) -> RouterApp:
    """The router for one supergraph SDL and router.yaml."""
    config = config or RouterConfig()
    gateway = Gateway.from_supergraph_sdl(supergraph_sdl, gateway_options(config))
    app = RouterApp(gateway, config)
    for warning in (
        unknown_subgraph_names(config, list(gateway.subgraph_names)),
        credentials_warning(config, list(gateway.subgraph_names)),
    ):
        if warning is not None:
            logger.warning("%s", warning)
            app.warnings.append(warning)
    return app
