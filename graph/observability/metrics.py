"""The router's Prometheus metrics (prometheus_client), served at
``telemetry.exporters.metrics.prometheus.path``.

Each router app has its own registry (tests run several in one process). With
``--workers N`` the processes share ``PROMETHEUS_MULTIPROC_DIR`` (set by ``puppies serve
router`` before they start) and any of them renders the sum. Operation names and client
names come from clients, so their label values are capped (``MAX_LABEL_VALUES``, then
``other``). docs/operations.md lists every metric.

The request path makes no ``labels(...)`` call (which checks and builds the label values
and takes a lock): it keeps each child it used (``ChildCache``, the operation children of
``observe_operation``), within the same caps, so a hostile operation or client name costs
no memory past them.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from graph.observability.gc import GcMetrics

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_LABEL_VALUES = 200
OTHER = "other"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class LabelCap:
    """At most ``limit`` distinct values of a label; later ones are counted as ``other``."""

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(value)
        return value


class ChildCache:
    """The children of one labelled metric by its last label value (the others fixed):
    ``cache(value)`` is ``metric.labels(*fixed, value)``, kept after its first use. At
    most ``limit`` are kept (the callers' values are bounded; past the limit a value is
    looked up each time, never stored)."""

    __slots__ = ("_children", "fixed", "limit", "metric")

    def __init__(self, metric: Any, *fixed: str, limit: int = 1000) -> None:
        self.metric = metric
        self.fixed = fixed
        self.limit = limit
        self._children: dict[str, Any] = {}

    def __call__(self, value: str) -> Any:
        child = self._children.get(value)
        if child is None:
            child = self.metric.labels(*self.fixed, value)
            if len(self._children) < self.limit:
                self._children[value] = child
        return child


class _Operation:
    """The children of one ``operation_name`` label value: its error counter, and its
    duration histograms by client name label value, then operation type."""

    __slots__ = ("by_client", "errors", "label")

    def __init__(self, label: str) -> None:
        self.label = label
        self.errors: Any = None
        self.by_client: dict[str, dict[str, Any]] = {}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        if not os.environ.get(MULTIPROC_ENV):
            ProcessCollector(registry=r)
        self.http_requests = Counter(
            "router_http_requests",
            "HTTP requests answered by the router, by method and status.",
            ["method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "router_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            buckets=BUCKETS,
            registry=r,
        )
        self.operations = Counter(
            "router_operations",
            "GraphQL operations started, by type.",
            ["type"],
            registry=r,
        )
        self.operation_duration = Histogram(
            "router_operation_duration_seconds",
            "GraphQL requests by operation name, type and client name: count (rate), "
            "duration; a refused or failed request counts too.",
            ["operation_name", "operation_type", "client_name"],
            buckets=BUCKETS,
            registry=r,
        )
        self.operation_errors = Counter(
            "router_operation_errors",
            "GraphQL requests answered with at least one error, by operation name.",
            ["operation_name"],
            registry=r,
        )
        self.errors = Counter(
            "router_graphql_errors",
            "GraphQL errors returned, by extensions.code.",
            ["code"],
            registry=r,
        )
        self.subgraph_duration = Histogram(
            "router_subgraph_request_duration_seconds",
            "Requests to subgraphs (each fetch of a query plan), by subgraph.",
            ["subgraph"],
            buckets=BUCKETS,
            registry=r,
        )
        self.subgraph_failures = Counter(
            "router_subgraph_request_failures",
            "Subgraph requests that failed (no answer, timeout, not GraphQL), by subgraph.",
            ["subgraph"],
            registry=r,
        )
        self.subgraph_errors = Counter(
            "router_subgraph_errors",
            "GraphQL errors in subgraph answers, by subgraph and extensions.code.",
            ["subgraph", "code"],
            registry=r,
        )
        self.cache = Counter(
            "router_cache_requests",
            "Lookups in the router's caches: plan (query plans) and apq (persisted "
            "queries by hash), by outcome (hit or miss).",
            ["cache", "outcome"],
            registry=r,
        )
        self.rate_limited = Counter(
            "router_rate_limited",
            "Requests refused over a rate limit or quota, by policy.",
            ["policy"],
            registry=r,
        )
        self.rate_limit_failures = Counter(
            "router_rate_limit_failures",
            "Requests whose rate limits could not be checked in Redis (unreachable or slow).",
            registry=r,
        )
        self.rate_limit_local = Counter(
            "router_rate_limit_local_decisions",
            "Requests whose rate limits this process decided alone while Redis was "
            "unreachable or slow (rate_limits.local_fallback).",
            registry=r,
        )
        self.websocket_connections = Gauge(
            "router_websocket_connections",
            "Open WebSocket connections.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.active_subscriptions = Gauge(
            "router_active_subscriptions",
            "Subscriptions being streamed.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.subgraphs_up = Gauge(
            "router_subgraph_up",
            "1 when the subgraph answered the router's last readiness probe in time.",
            ["subgraph"],
            registry=r,
            multiprocess_mode="min",
        )
        self.circuit_state = Gauge(
            "router_subgraph_circuit_state",
            "Each subgraph's circuit breaker: 0 closed, 1 half-open (probing), 2 open "
            "(failing fast); with several router processes the worst of them.",
            ["subgraph"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.circuit_transitions = Counter(
            "router_subgraph_circuit_transitions",
            "Circuit breaker state changes, by subgraph and the state entered.",
            ["subgraph", "state"],
            registry=r,
        )
        self.circuit_rejections = Counter(
            "router_subgraph_circuit_rejections",
            "Subgraph requests not sent because the subgraph's circuit breaker was open.",
            ["subgraph"],
            registry=r,
        )
        self.gc = GcMetrics(r)  # router_gc_* (graph/observability/gc.py)
        self.operation_names = LabelCap()
        self.client_names = LabelCap()
        # the children the request path uses, kept (no labels() call per request)
        self.operations_by_type = ChildCache(self.operations)
        self.plan_cache = ChildCache(self.cache, "plan")
        self.apq_cache = ChildCache(self.cache, "apq")
        self.error_codes = ChildCache(self.errors)
        self.subgraph_durations = ChildCache(self.subgraph_duration)
        self._http: dict[str, dict[int, Any]] = {}  # method -> status -> child
        self._operations: dict[str, _Operation] = {}  # operation_name label value -> children

    # what the transports and the app call
    def observe_request(self, method: str, status: int, seconds: float) -> None:
        by_status = self._http.get(method)
        if by_status is None:
            by_status = self._http.setdefault(method, {}) if len(self._http) < 64 else {}
        child = by_status.get(status)
        if child is None:
            child = by_status[status] = self.http_requests.labels(method, str(status))
        child.inc()
        self.http_duration.observe(seconds)

    def observe_operation(
        self, name: str, kind: str, client: str, seconds: float, failed: bool
    ) -> None:
        """One GraphQL request's ``router_operation_duration_seconds`` (by operation name,
        type and client name, the names capped) and, when it ``failed``,
        ``router_operation_errors_total``."""
        operation = self._operations.get(name)
        if operation is None:
            operation = self._operation(name)
        by_type = operation.by_client.get(client)
        if by_type is None:
            label = self.client_names(client)
            by_type = operation.by_client.get(label)
            if by_type is None:
                by_type = operation.by_client[label] = {}
        child = by_type.get(kind)
        if child is None:
            child = by_type[kind] = self.operation_duration.labels(
                operation.label, kind, self.client_names(client)
            )
        child.observe(seconds)
        if failed:
            if operation.errors is None:
                operation.errors = self.operation_errors.labels(operation.label)
            operation.errors.inc()

    def _operation(self, name: str) -> _Operation:
        # a name past the cap is counted as `other` and never kept itself
        label = self.operation_names(name)
        operation = self._operations.get(label)
        if operation is None:
            operation = self._operations[label] = _Operation(label)
        return operation

    def observe_errors(self, errors: list[object]) -> None:
        for error in errors:
            extensions = error.get("extensions") if isinstance(error, dict) else None
            code = extensions.get("code") if isinstance(extensions, dict) else None
            self.error_codes(str(code) if code is not None else "INTERNAL_SERVER_ERROR").inc()

    def render(self) -> tuple[bytes, str]:
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
