"""The request pipeline: one path for every request, whatever transport brought it.

Stages, in order (each a plugin in graph/plugins/ owning its config model):

1. ``global_rate_limit`` (traffic_shaping.router.global_rate_limit)
2. ``limits``: body size and parser tokens (enforced while reading and parsing), operation
   shape (a document check)
3. ``authentication``: the credential -> ``request.principal``
4. ``persisted_queries`` (manifests, safelist), then ``apq``: the operation text
5. parse, validate and the document checks (``limits``, ``introspection``): the pipeline
6. authorization (``@authenticated``, ``@requiresScopes``, ``@policy``)  (another stage)
7. ``rate_limits``: per principal (tier), per client address, per root field; quotas
8. cost (demand control)                                             (another stage)
8b. ``progressive_override``: the override labels on for this operation pick its plan
9. plan (cached with the operation, per set of override labels): the pipeline
10. execute (``traffic_shaping.router.timeout`` on every transport), with each subgraph's
    headers from the ``subgraph_headers`` hooks (``headers``, then
    ``principal_forwarding``: the signed principal): the pipeline
11. shape: the gateway; subgraph errors as ``include_subgraph_errors`` says
    (graph/plugins/subgraph_errors.py)
12. ``telemetry``: request ids, metrics, the access log (spans: graph/observability/tracing.py)

The contract of a stage's hooks is in graph/serving/stage.py. :meth:`Pipeline.run` never
raises for a bad request: the outcome is a :class:`Response` (a result or a refusal) or a
:class:`Stream` of results (a subscription), which the transport writes in its own format.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from graph.config import RouterConfig
from graph.execution.errors import RequestError
from graph.execution.gateway import Gateway
from graph.execution.incremental import IncrementalExecution
from graph.http import GraphQLParams, HttpError
from graph.observability.fetches import FetchObserver
from graph.observability.metrics import Metrics
from graph.observability.tracing import configure_tracing, unsampled
from graph.plugins.apq import ApqStage, PersistedQueries
from graph.plugins.authentication import (
    AuthenticationStage,
    PrincipalForwardingStage,
    signer_for,
)
from graph.plugins.authorization import AuthorizationStage
from graph.plugins.client_ip import ClientAddress
from graph.plugins.cors import Cors
from graph.plugins.csrf import CsrfGuard
from graph.plugins.demand_control import DemandControlStage
from graph.plugins.headers import HeaderPropagation, HeadersStage
from graph.plugins.introspection import IntrospectionStage
from graph.plugins.limits import LimitsStage
from graph.plugins.persisted_queries import PersistedQueriesStage
from graph.plugins.progressive_override import ProgressiveOverrideStage
from graph.plugins.rate_limits import RateLimitStage
from graph.plugins.redis import RedisConnections
from graph.plugins.telemetry import TelemetryStage
from graph.plugins.traffic_shaping import GlobalRateLimitStage
from graph.serving.ide import GraphiQL
from graph.serving.request import SSE, HeadersFor, RawHeaders, RouterRequest
from graph.serving.stage import Check, Stage

logger = logging.getLogger("graph.serving")
_TRACE_CONTEXT = TraceContextTextMapPropagator()
_NO_SPAN: AbstractContextManager[object] = nullcontext()

INTERNAL_MESSAGE = "The router failed to run this operation."


@dataclass(slots=True)
class Response:
    """One response body: a GraphQL result (``status`` None: the transport's rules decide
    the HTTP status) or a refusal (``status`` is its HTTP status)."""

    body: dict[str, Any]
    status: int | None = None
    headers: RawHeaders = field(default_factory=list)  # the refusal's own headers

    @property
    def refused(self) -> bool:
        return self.status is not None


SUBSCRIPTION = "subscription"
INCREMENTAL = "incremental"
SINGLE = "single"


@dataclass(slots=True)
class Stream:
    """Results to stream, one body each; close it (``aclose``) when the client goes away.

    ``kind``: ``SUBSCRIPTION`` (one body per event), ``INCREMENTAL`` (the parts of a
    ``@defer``/``@stream`` response in ``RouterRequest.incremental``'s format, the last one
    with ``hasNext: false``), ``SINGLE`` (one result, for a client that asked for a stream)."""

    events: AsyncGenerator[dict[str, Any], None]
    kind: str = SUBSCRIPTION


Outcome = Response | Stream


def build_stages(
    config: RouterConfig,
    gateway: Gateway,
    metrics: Metrics,
    redis: RedisConnections | None = None,
) -> list[Stage]:
    """The stages for ``config``, in pipeline order (stages with nothing to do are left out)."""
    redis = redis if redis is not None else RedisConnections()
    stages: list[Stage] = []
    shaping = config.traffic_shaping.router
    if shaping.global_rate_limit is not None:
        stages.append(GlobalRateLimitStage(shaping.global_rate_limit))
    stages.append(LimitsStage(config.limits, gateway.api_schema))
    signer = signer_for(config.authentication)
    if config.authentication.enabled:
        stages.append(AuthenticationStage(config.authentication, redis, signer))
    if config.persisted_queries.enabled:
        stages.append(PersistedQueriesStage(config.persisted_queries))
    shared_apq = config.apq.router.cache.redis
    stages.append(
        ApqStage(
            PersistedQueries(
                config.apq, redis.client(shared_apq) if shared_apq is not None else None
            )
        )
    )
    stages.append(IntrospectionStage(config.supergraph.introspection))
    authorization = AuthorizationStage(config.authorization, gateway)
    if authorization.active:
        stages.append(authorization)
    if config.rate_limits.enabled:
        stages.append(RateLimitStage(config.rate_limits, gateway.api_schema, metrics))
    if config.demand_control.enabled:
        stages.append(DemandControlStage(config.demand_control, gateway))
    if gateway.supergraph.label_fields:  # progressive @override in the supergraph
        stages.append(ProgressiveOverrideStage(config.override_labels))
    propagation = HeaderPropagation(config.headers)
    if propagation.enabled:
        stages.append(HeadersStage(propagation))
    forwarding = config.authentication.subgraph.principal
    if forwarding is not None and signer is not None:
        stages.append(PrincipalForwardingStage(forwarding, signer))
    stages.append(TelemetryStage(metrics))
    return stages


class Pipeline:
    """The stages for one router.yaml and one gateway (a hot reload builds a new one)."""

    def __init__(
        self,
        config: RouterConfig,
        gateway: Gateway,
        metrics: Metrics,
        stages: list[Stage] | None = None,
    ) -> None:
        self.config = config
        self.gateway = gateway
        self.metrics = metrics
        self.redis = RedisConnections()  # the clients the stages share; closed by stop()
        self.stages = (
            stages if stages is not None else build_stages(config, gateway, metrics, self.redis)
        )
        # what the transports need of router.yaml
        self.graphql_path = config.supergraph.path
        self.cors = Cors(config.cors)
        self.client_address = ClientAddress(config.client_ip)
        self.csrf = CsrfGuard(config.csrf)
        self.max_body = config.limits.http_max_request_bytes
        self.max_tokens = config.limits.parser_max_tokens
        self.timeout = config.traffic_shaping.router.timeout
        # GraphiQL for browsers at the GraphQL path (graphiql.enabled)
        self.ide = GraphiQL(config.graphiql, self.graphql_path) if config.graphiql.enabled else None
        # the hooks each stage overrides, in stage order
        self._on_connect = [s for s in self.stages if s.overrides("on_connect")]
        self._on_request = [s for s in self.stages if s.overrides("on_request")]
        self._on_operation = [s for s in self.stages if s.overrides("on_operation")]
        self._subgraph_headers = [s for s in self.stages if s.overrides("subgraph_headers")]
        self._on_response = [s for s in self.stages if s.overrides("on_response")]
        self._on_end = [s for s in self.stages if s.overrides("on_end")]
        self.checks: tuple[Check, ...] = tuple(c for s in self.stages for c in s.checks())
        # telemetry: spans when tracing is on; every subgraph fetch measured (and traced)
        self.tracer = configure_tracing(config.telemetry)
        # Run a request through every stage; never raises for a bad request. Without tracing
        # the request goes straight to the stages (no coroutine around them per request).
        self.run: Callable[[RouterRequest], Awaitable[Outcome]] = (
            self._run if self.tracer is None else self._traced_run
        )
        propagate = config.telemetry.exporters.tracing.propagation.trace_context
        observer = FetchObserver(metrics, self.tracer if propagate else None)
        observer.watch_breakers(gateway.clients)
        gateway.executor.observer = observer

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    async def start(self) -> None:
        for stage in self.stages:
            await stage.start()

    async def stop(self) -> None:
        for stage in reversed(self.stages):
            try:
                await stage.stop()
            except Exception:  # one stage failing to stop must not keep others running
                logger.exception("stage %s failed to stop", stage.name)
        await self.redis.aclose()

    async def connect(self, request: RouterRequest) -> Response | None:
        """A connection opens (WebSocket connection_init): None when it may, else the
        refusal (a 401 closes the socket with 4403)."""
        try:
            for stage in self._on_connect:
                await stage.on_connect(request)
        except HttpError as error:
            return self._refusal(request, error)
        except Exception:
            logger.exception("a stage failed on a connection")
            return self._refusal(request, HttpError(500, INTERNAL_MESSAGE, "INTERNAL_SERVER_ERROR"))
        return None

    # ------------------------------------------------------------------ the request path
    async def _traced_run(self, request: RouterRequest) -> Outcome:
        """``run`` with tracing on: the request's span continues the client's trace (its
        traceparent, if any)."""
        assert self.tracer is not None
        carrier = {}
        for name in (b"traceparent", b"tracestate"):
            value = request.header(name)
            if value is not None:
                carrier[name.decode()] = value.decode("latin-1")
        parent = _TRACE_CONTEXT.extract(carrier) if carrier else None
        with self.tracer.start_as_current_span(
            "router",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "graphql.transport": request.transport,
                "http.request.method": request.method,
            },
        ) as span:
            passed_on: dict[str, str] | None = None
            if not span.is_recording():
                passed_on = {}
                _TRACE_CONTEXT.inject(passed_on)
            token = unsampled.set(passed_on)
            try:
                outcome = await self._run(request)
            finally:
                unsampled.reset(token)
            prepared = request.prepared
            if prepared is not None:
                span.set_attribute("graphql.operation.type", prepared.operation_type)
                if prepared.operation.name is not None:
                    span.set_attribute("graphql.operation.name", prepared.operation.name.value)
            if isinstance(outcome, Response) and outcome.status is not None:
                span.set_attribute("http.response.status_code", outcome.status)
            return outcome

    def _span(self, name: str) -> AbstractContextManager[object]:
        if self.tracer is None or unsampled.get() is not None:
            return _NO_SPAN
        return self.tracer.start_as_current_span(name)

    async def _run(self, request: RouterRequest) -> Outcome:
        try:
            for stage in self._on_request:
                await stage.on_request(request)
            query = request.query
            if query is None:
                query = request.params.query
                if query is None:  # pragma: no cover - params_from_mapping prevents it
                    raise HttpError(400, "The request has no 'query' parameter.")
            prepared = request.prepared = request.gateway.prepare(
                query,
                request.params.operation_name,
                max_tokens=self.max_tokens,
                checks=self.checks,
                plan=False,
            )
            kind = prepared.operation_type
            if kind == "mutation" and request.method == "GET":
                raise HttpError(
                    405,
                    "A mutation cannot be sent with GET; use POST.",
                    "METHOD_NOT_ALLOWED",
                    [(b"allow", b"POST")],
                )
            if kind == "subscription" and not request.stream_ok:
                raise HttpError(
                    400,
                    "A subscription needs a stream: send Accept: "
                    'multipart/mixed;subscriptionSpec="1.0" (multipart HTTP) or '
                    "text/event-stream (server-sent events), or use WebSocket "
                    f"(graphql-transport-ws) at {self.graphql_path}.",
                    "SUBSCRIPTION_NEEDS_STREAM",
                )
            for stage in self._on_operation:
                await stage.on_operation(request)
            prepared = request.prepared
            if prepared.planned:
                prepared.ensure_planned()
            else:
                with self._span("query_planning"):
                    prepared.ensure_planned()
        except HttpError as error:
            return self._refusal(request, error)
        except RequestError as error:
            return self._result(request, {"errors": error.errors})
        except Exception:
            logger.exception("a stage failed on a request")
            return self._refusal(
                request,
                HttpError(500, INTERNAL_MESSAGE, "INTERNAL_SERVER_ERROR"),
            )
        request.headers_for = self._headers_for(request)
        if kind == "subscription":
            return Stream(self._events(request))
        if request.incremental is not None and prepared.incremental:
            return await self._incremental(request)
        if request.transport == SSE:  # the client asked for a stream: the result is its event
            return Stream(self._one(request), SINGLE)
        return await self._execute(request)

    async def _incremental(self, request: RouterRequest) -> Outcome:
        """An operation with @defer/@stream for a client that takes parts: the first part
        as soon as the initial payload's fetches are done (a refusal if even that fails),
        then a stream of the others. ``traffic_shaping.router.timeout`` bounds the whole:
        parts still pending then fail with GATEWAY_TIMEOUT."""
        prepared = request.prepared
        assert prepared is not None and request.incremental is not None
        execution = request.gateway.incremental(
            prepared, request.params.variables, request.incremental, request.headers_for
        )
        if execution is None:  # nothing deferred with these variables: one whole response
            outcome = await self._execute(request)
            if request.transport == SSE:
                return Stream(self._replay(outcome.body), SINGLE)
            return outcome
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        parts = execution.payloads()
        try:
            first = await asyncio.wait_for(anext(parts), self.timeout)
        except TimeoutError:
            await parts.aclose()
            return self._refusal(request, self._timeout_error())
        except Exception:
            await parts.aclose()
            logger.exception("the gateway failed on an operation")
            return self._refusal(
                request,
                HttpError(
                    500, "The router failed to execute this operation.", "INTERNAL_SERVER_ERROR"
                ),
            )
        return Stream(self._parts(request, first, parts, execution, deadline), INCREMENTAL)

    async def _parts(
        self,
        request: RouterRequest,
        first: dict[str, Any],
        parts: AsyncGenerator[dict[str, Any], None],
        execution: IncrementalExecution,
        deadline: float | None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        loop = asyncio.get_running_loop()
        try:
            self._respond(request, first, None)
            yield first
            more = first.get("hasNext", False)
            while more:
                left = None if deadline is None else max(0.0, deadline - loop.time())
                try:
                    body = await asyncio.wait_for(anext(parts), left)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    body = execution.give_up(self._timeout_error().error())
                except Exception:
                    logger.exception("a deferred part failed")
                    body = execution.give_up(
                        {
                            "message": INTERNAL_MESSAGE,
                            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                        }
                    )
                self._respond(request, body, None)
                yield body
                more = body.get("hasNext", False)
        finally:
            await parts.aclose()
            self._end(request)

    async def _replay(self, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        yield body

    def _timeout_error(self) -> HttpError:
        return HttpError(
            504,
            f"The request took longer than the router allows ({self.timeout:g}s, "
            "traffic_shaping.router.timeout).",
            "GATEWAY_TIMEOUT",
        )

    async def _execute(self, request: RouterRequest) -> Response:
        prepared = request.prepared
        assert prepared is not None
        try:
            execution = request.gateway.execute(
                prepared, request.params.variables, headers_for=request.headers_for
            )
            if self.timeout is not None:
                execution = asyncio.wait_for(execution, self.timeout)
            if self.tracer is None:
                result = await execution
            else:
                with self._span("execution"):
                    result = await execution
        except TimeoutError:
            return self._refusal(request, self._timeout_error())
        except Exception:
            logger.exception("the gateway failed on an operation")
            return self._refusal(
                request,
                HttpError(
                    500, "The router failed to execute this operation.", "INTERNAL_SERVER_ERROR"
                ),
            )
        return self._result(request, result)

    async def _one(self, request: RouterRequest) -> AsyncGenerator[dict[str, Any], None]:
        yield (await self._execute(request)).body

    def refuse(
        self, transport: str, headers: RawHeaders, error: HttpError, method: str = "POST"
    ) -> Response:
        """A refusal found by a transport before there was a GraphQL request (a malformed
        body, a wrong content type): it goes through the response stages like any other."""
        params = GraphQLParams(None, None, None, None)
        request = RouterRequest(transport, params, headers, self.gateway, method=method)
        return self._refusal(request, error)

    # ------------------------------------------------------------------ helpers
    def _refusal(self, request: RouterRequest, error: HttpError) -> Response:
        body: dict[str, Any] = {"errors": [error.error()]}
        self._respond(request, body, error.status)
        self._end(request)
        return Response(body, error.status, error.headers)

    def _result(self, request: RouterRequest, body: dict[str, Any]) -> Response:
        self._respond(request, body, None)
        self._end(request)
        return Response(body)

    def _respond(self, request: RouterRequest, body: dict[str, Any], status: int | None) -> None:
        extensions = body.get("extensions")
        if request.extensions:
            extensions = body["extensions"] = (
                {**extensions, **request.extensions}
                if isinstance(extensions, dict)
                else dict(request.extensions)
            )
        if extensions and status is None:
            wait = extensions.get("retryAfter")
            if isinstance(wait, int) and wait > 0:  # a subgraph asked the client to wait
                request.response_headers.append((b"retry-after", str(wait).encode()))
        for stage in self._on_response:
            stage.on_response(request, body, status)

    def _end(self, request: RouterRequest) -> None:
        for stage in self._on_end:
            try:
                stage.on_end(request)
            except Exception:
                logger.exception("stage %s failed at the end of a request", stage.name)
        # request -> headers_for -> its closure -> request is a reference cycle: left in
        # place, every request (and all it holds) would wait for a garbage collection, be
        # promoted meanwhile and make full collections frequent and long (bench/RESULTS.md,
        # "Session 22: router"); broken here, reference counting frees the request at once
        request.headers_for = None

    def _headers_for(self, request: RouterRequest) -> HeadersFor | None:
        stages = self._subgraph_headers
        if not stages:
            return None
        cache: dict[str, Mapping[str, str]] = {}

        def headers_for(subgraph: str) -> Mapping[str, str]:
            found = cache.get(subgraph)
            if found is None:
                built: dict[str, str] = {}
                for stage in stages:
                    stage.subgraph_headers(request, subgraph, built)
                found = cache[subgraph] = built
            return found

        return headers_for

    async def _events(self, request: RouterRequest) -> AsyncGenerator[dict[str, Any], None]:
        prepared = request.prepared
        assert prepared is not None
        events = request.gateway.subscribe(
            prepared, request.params.variables, headers_for=request.headers_for
        )
        try:
            async with contextlib.aclosing(events):
                async for body in events:
                    self._respond(request, body, None)
                    yield body
        except Exception:
            logger.exception("a subscription failed")
            body = {
                "errors": [
                    {"message": INTERNAL_MESSAGE, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
                ]
            }
            self._respond(request, body, None)
            yield body
        finally:
            self._end(request)
