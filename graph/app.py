"""The router's ASGI app: GraphQL over HTTP and graphql-transport-ws at ``supergraph.path``,
``/health`` and ``/metrics``.

Raw ASGI (no framework) to keep the per-request path short: one pass over the headers, one
``orjson`` decode, the gateway's cached plan, one ``orjson`` encode.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLError

from graph.config import RouterConfig
from graph.execution.errors import RequestError
from graph.execution.gateway import Gateway, PreparedOperation
from graph.http import (
    APPLICATION_JSON,
    EVENT_STREAM,
    GRAPHQL_RESPONSE_JSON,
    GraphQLParams,
    HttpError,
    check_json_content_type,
    negotiate,
    params_from_body,
    params_from_query_string,
    respond,
)
from graph.options import gateway_options, unknown_subgraph_names
from graph.plugins.apq import PersistedQueries
from graph.plugins.cors import Cors
from graph.plugins.csrf import CsrfGuard
from graph.plugins.headers import HeaderPropagation
from graph.plugins.introspection import introspection_disabled_check
from graph.plugins.limits import OperationLimits
from graph.plugins.persisted_queries import PersistedQueryManifest
from graph.plugins.telemetry import Metrics
from graph.plugins.traffic_shaping import RateLimiter
from graph.sse import stream_events
from graph.ws import GraphQLTransportWS

logger = logging.getLogger("graph.app")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Check = Callable[[DocumentNode], list[GraphQLError]]
RawHeaders = list[tuple[bytes, bytes]]

TEXT_PLAIN = b"text/plain; version=0.0.4; charset=utf-8"
HEALTH_BODY = b'{"status":"UP"}'


class RouterApp:
    """The ASGI application. Build it with :func:`create_app`."""

    def __init__(self, gateway: Gateway, config: RouterConfig) -> None:
        self.warnings: list[str] = []  # start-up warnings, printed by the CLI
        self.metrics = Metrics()
        self.ws = GraphQLTransportWS(self)
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []  # run while serving
        self.sse_keepalive = 12.0  # seconds between keep-alive comments on an event stream
        self._configure(gateway, config)

    def _configure(self, gateway: Gateway, config: RouterConfig) -> None:
        """Set everything that follows from the gateway and router.yaml (no awaits: a
        reload swaps it all between two requests' steps)."""
        self.gateway = gateway
        self.config = config
        self.graphql_path = config.supergraph.path
        own = (None, config.supergraph.listen)  # served on the router's own port
        health = config.health_check
        self.health_path = health.path if health.enabled and health.listen in own else None
        prometheus = config.telemetry.exporters.metrics.prometheus
        self.metrics_path = (
            prometheus.path if prometheus.enabled and prometheus.listen in own else None
        )
        self.cors = Cors(config.cors)
        self.csrf = CsrfGuard(config.csrf)
        self.headers = HeaderPropagation(config.headers)
        self.limits = OperationLimits(config.limits, gateway.api_schema)
        self.max_body = config.limits.http_max_request_bytes
        self.max_tokens = config.limits.parser_max_tokens
        self.introspection = config.supergraph.introspection
        self.apq = PersistedQueries(config.apq)
        self.manifest = PersistedQueryManifest(config.persisted_queries)
        shaping = config.traffic_shaping.router
        self.router_timeout = shaping.timeout
        self.rate_limiter = (
            RateLimiter(shaping.global_rate_limit) if shaping.global_rate_limit else None
        )

    def replace(self, supergraph_sdl: str, config: RouterConfig) -> Gateway:
        """Serve a new supergraph and/or router.yaml from now on; returns the old gateway
        (still used by requests in flight: close it once they are done)."""
        gateway = Gateway.from_supergraph_sdl(supergraph_sdl, gateway_options(config))
        old = self.gateway
        self._configure(gateway, config)
        return old

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
                tasks = [asyncio.create_task(job()) for job in self.background]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    await self.gateway.aclose()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    # ---- HTTP
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path = scope["path"]
        method = scope["method"]
        if path == self.graphql_path:
            status = await self._graphql(scope, receive, send, method)
        elif path == self.health_path and method == "GET":
            status = await respond(send, 200, HEALTH_BODY, APPLICATION_JSON)
        elif path == self.metrics_path and method == "GET":
            status = await respond(send, 200, self.metrics.render(), TEXT_PLAIN)
        else:
            error = HttpError(
                404,
                f"Nothing is served at {path}; GraphQL is at {self.graphql_path}.",
                "NOT_FOUND",
            )
            status = await respond(send, 404, error.body(), APPLICATION_JSON)
        self.metrics.observe_request(method, status, time.perf_counter() - started)

    async def _graphql(self, scope: Scope, receive: Receive, send: Send, method: str) -> int:
        accept = content_type = origin = content_length = None
        acrm = acrh = None
        raw_headers: RawHeaders = scope["headers"]
        for name, value in raw_headers:
            if name == b"accept":
                accept = value if accept is None else accept + b"," + value
            elif name == b"content-type":
                content_type = value
            elif name == b"origin":
                origin = value
            elif name == b"content-length":
                content_length = value
            elif name == b"access-control-request-method":
                acrm = value
            elif name == b"access-control-request-headers":
                acrh = value
        cors = self.cors.response_headers(origin) if origin is not None else []
        if method == "OPTIONS":
            if origin is not None and acrm is not None:
                headers = self.cors.preflight_headers(origin, acrh)
                return await respond(send, 200, b"", None, headers)
            return await respond(send, 204, b"", None, [(b"allow", b"GET, POST, OPTIONS")])
        media = APPLICATION_JSON
        sse = False
        try:
            media = negotiate(accept)
            if media is EVENT_STREAM:
                sse, media = True, GRAPHQL_RESPONSE_JSON  # errors before the stream are JSON
            if self.rate_limiter is not None and not self.rate_limiter.try_acquire():
                raise self.rate_limited()
            if method == "POST":
                params = await self._read_post(receive, content_type, content_length, raw_headers)
            elif method == "GET":
                if not self.csrf.is_preflighted(raw_headers):
                    raise HttpError(400, self.csrf.message, "CSRF_PREVENTION")
                params = params_from_query_string(scope["query_string"])
            else:
                raise HttpError(
                    405,
                    f"Method {method} is not allowed; use POST (or GET for queries).",
                    "METHOD_NOT_ALLOWED",
                    [(b"allow", b"GET, POST, OPTIONS")],
                )
            gateway = self.gateway  # a reload must not mix two gateways in one request
            prepared = self.prepare(params, gateway)
            kind = prepared.operation_type
            if kind != "query":
                if kind == "mutation" and method == "GET":
                    raise HttpError(
                        405,
                        "A mutation cannot be sent with GET; use POST.",
                        "METHOD_NOT_ALLOWED",
                        [(b"allow", b"POST")],
                    )
                # a subscription may come over GET: EventSource can only GET
                if kind == "subscription" and not sse:
                    if accept is None or b"text/event-stream" not in accept:
                        raise HttpError(
                            400,
                            "A subscription needs a stream: send Accept: text/event-stream "
                            "(server-sent events), or use WebSocket (graphql-transport-ws) at "
                            f"{self.graphql_path}.",
                            "SUBSCRIPTION_NEEDS_STREAM",
                        )
                    sse = True
        except HttpError as error:
            return await respond(send, error.status, error.body(), media, error.headers + cors)
        except RequestError as error:
            body = {"errors": error.errors}
            self.metrics.observe_errors(body["errors"])
            status = 400 if media is GRAPHQL_RESPONSE_JSON else 200
            return await respond(send, status, orjson.dumps(body), media, cors)
        self.metrics.observe_operation(kind)
        headers_for = self.headers.for_request(raw_headers)
        if sse:
            results = self.results(gateway, prepared, params.variables, headers_for)
            await stream_events(send, receive, results, cors, self.sse_keepalive)
            return 200
        try:
            execution = gateway.execute(prepared, params.variables, headers_for=headers_for)
            if self.router_timeout is None:
                result = await execution
            else:
                result = await asyncio.wait_for(execution, self.router_timeout)
        except TimeoutError:
            timed_out = HttpError(
                504,
                f"The request took longer than the router allows ({self.router_timeout:g}s, "
                "traffic_shaping.router.timeout).",
                "GATEWAY_TIMEOUT",
            )
            return await respond(send, 504, timed_out.body(), media, cors)
        except Exception:
            logger.exception("the gateway failed on an operation")
            failure = HttpError(
                500, "The router failed to execute this operation.", "INTERNAL_SERVER_ERROR"
            )
            return await respond(send, 500, failure.body(), media, cors)
        errors = result.get("errors")
        if errors:
            self.metrics.observe_errors(errors)
        status = 200
        if "data" not in result and media is GRAPHQL_RESPONSE_JSON:
            status = 400  # a request error (e.g. variables that do not coerce)
        return await respond(send, status, orjson.dumps(result), media, cors)

    async def results(
        self,
        gateway: Gateway,
        prepared: PreparedOperation,
        variables: dict[str, Any] | None,
        headers_for: Callable[[str], dict[str, str]],
    ) -> AsyncIterator[dict[str, Any]]:
        """The results of an operation as a stream (one for a query or mutation)."""
        if prepared.operation_type != "subscription":
            yield await gateway.execute(prepared, variables, headers_for=headers_for)
            return
        self.metrics.active_subscriptions += 1
        try:
            async for result in gateway.subscribe(prepared, variables, headers_for=headers_for):
                yield result
        finally:
            self.metrics.active_subscriptions -= 1

    async def _read_post(
        self,
        receive: Receive,
        content_type: bytes | None,
        content_length: bytes | None,
        raw_headers: RawHeaders,
    ) -> GraphQLParams:
        if not self.csrf.is_preflighted(raw_headers):
            raise HttpError(400, self.csrf.message, "CSRF_PREVENTION")
        check_json_content_type(content_type)
        limit = self.max_body
        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                raise HttpError(400, "The Content-Length header is not a number.") from None
            if declared > limit:
                raise self._too_big()
        message = await receive()
        body: bytes = message.get("body", b"")
        if message.get("more_body", False):
            chunks = [body]
            size = len(body)
            while message.get("more_body", False):
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise HttpError(400, "The client went away before sending the whole body.")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise self._too_big()
                chunks.append(chunk)
            body = b"".join(chunks)
        if len(body) > limit:
            raise self._too_big()
        return params_from_body(body)

    def rate_limited(self) -> HttpError:
        assert self.rate_limiter is not None
        return HttpError(
            429,
            "Too many requests: the router's global rate limit "
            "(traffic_shaping.router.global_rate_limit) is reached; retry later.",
            "REQUEST_RATE_LIMITED",
            [(b"retry-after", str(self.rate_limiter.retry_after()).encode())],
        )

    def _too_big(self) -> HttpError:
        return HttpError(
            413,
            f"The request body is larger than the router allows ({self.max_body} bytes, "
            "limits.http_max_request_bytes).",
            "PAYLOAD_TOO_LARGE",
        )

    def prepare(self, params: GraphQLParams, gateway: Gateway) -> PreparedOperation:
        """Parse, check, validate and plan (cached by the gateway); APQ resolves the text."""
        query = self.manifest.resolve(params)
        if query is None:
            query = self.apq.resolve(params)
        return gateway.prepare(
            query,
            params.operation_name,
            max_tokens=self.max_tokens,
            checks=self.checks_for(params.operation_name),
        )

    def checks_for(self, operation_name: str | None) -> list[Check]:
        """The router's own document checks (limits, introspection) for one request."""
        checks: list[Check] = []
        if self.limits.enabled:
            limits = self.limits
            checks.append(lambda document: limits.check(document, operation_name))
        if not self.introspection:
            checks.append(lambda document: introspection_disabled_check(document, operation_name))
        return checks


def create_app(supergraph_sdl: str, config: RouterConfig | None = None) -> RouterApp:
    """The router for one supergraph SDL and router.yaml."""
    config = config or RouterConfig()
    gateway = Gateway.from_supergraph_sdl(supergraph_sdl, gateway_options(config))
    app = RouterApp(gateway, config)
    warning = unknown_subgraph_names(config, list(gateway.subgraph_names))
    if warning is not None:
        logger.warning("%s", warning)
        app.warnings.append(warning)
    return app
