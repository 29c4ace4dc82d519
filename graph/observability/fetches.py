"""What the router records of each subgraph request (every fetch of every query plan):
duration, failures and GraphQL error codes per subgraph, and its circuit breaker's state;
the fetch count of the client request it serves (for the access log); with tracing on, a
``subgraph`` span whose ``traceparent`` goes to the subgraph. The request id always goes to
the subgraph as ``x-request-id``.

Request id and ``traceparent`` travel outside the bytes the router de-duplicates on
(``SubgraphClient.post(context_headers=...)``): identical requests in flight still share
one subgraph round trip, which carries the ids of the first of them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from graph.execution.breaker import REJECTED, CircuitState
from graph.execution.errors import SubgraphFetchError
from graph.execution.http import SubgraphClient, SubgraphTransport
from graph.observability.context import request_id
from graph.observability.metrics import Metrics
from graph.observability.tracing import unsampled

# subgraph requests made for the current client request: [count]
fetch_count: ContextVar[list[int] | None] = ContextVar("graph_fetch_count", default=None)
_PROPAGATOR = TraceContextTextMapPropagator()
_STATE_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


class FetchObserver:
    def __init__(self, metrics: Metrics, tracer: trace.Tracer | None) -> None:
        self.metrics = metrics
        self.tracer = tracer

    async def fetch(
        self,
        subgraph: str,
        client: Any,
        body: dict[str, Any],
        headers: Any,
        idempotent: bool,
    ) -> dict[str, Any]:
        counter = fetch_count.get()
        if counter is not None:
            counter[0] += 1
        context: dict[str, str] = {}
        rid = request_id.get()
        if rid is not None:
            context["x-request-id"] = rid
        started = time.perf_counter()
        try:
            if self.tracer is None:
                result = await self._post(client, body, headers, idempotent, context)
            elif (carrier := unsampled.get()) is not None:
                context.update(carrier)  # the unsampled decision goes on, no span of ours
                result = await self._post(client, body, headers, idempotent, context)
            else:
                with self.tracer.start_as_current_span(
                    "subgraph",
                    kind=SpanKind.CLIENT,
                    attributes={"subgraph.name": subgraph, "graphql.operation.kind": "fetch"},
                ) as span:
                    _PROPAGATOR.inject(context)
                    result = await self._post(client, body, headers, idempotent, context)
                    errors = result.get("errors")
                    if errors:
                        span.set_attribute("graphql.error.count", len(errors))
        except SubgraphFetchError as exc:
            if exc.code == REJECTED:
                self.metrics.circuit_rejections.labels(subgraph).inc()
            else:
                self.metrics.subgraph_failures.labels(subgraph).inc()
            raise
        finally:
            self.metrics.subgraph_durations(subgraph).observe(time.perf_counter() - started)
        errors = result.get("errors")
        if errors:
            for error in errors:
                extensions = error.get("extensions") if isinstance(error, dict) else None
                code = extensions.get("code") if isinstance(extensions, dict) else None
                self.metrics.subgraph_errors.labels(subgraph, str(code or "UNKNOWN")).inc()
        return result

    def watch_breakers(self, clients: Mapping[str, SubgraphTransport]) -> None:
        """Export each subgraph's circuit breaker state (and every change of it)."""
        for name, client in clients.items():
            breaker = client.breaker if isinstance(client, SubgraphClient) else None
            if breaker is not None:
                self.metrics.circuit_state.labels(name).set(_STATE_VALUE[breaker.state])
                breaker.listener = self._breaker_moved

    def _breaker_moved(self, subgraph: str, was: CircuitState, now: CircuitState) -> None:
        self.metrics.circuit_state.labels(subgraph).set(_STATE_VALUE[now])
        self.metrics.circuit_transitions.labels(subgraph, now.value).inc()

    @staticmethod
    def _post(
        client: Any, body: dict[str, Any], headers: Any, idempotent: bool, context: dict[str, str]
    ) -> Awaitable[dict[str, Any]]:
        # (the client's coroutine itself, not one more around it: this runs for every fetch)
        if isinstance(client, SubgraphClient):
            return client.post(body, headers, idempotent=idempotent, context_headers=context)
        merged = {**(headers or {}), **context}  # an in-process transport (tests)
        result: Awaitable[dict[str, Any]] = client.post(body, merged, idempotent=idempotent)
        return result


def mark_failed(span: trace.Span, message: str) -> None:
    span.set_status(Status(StatusCode.ERROR, message))
