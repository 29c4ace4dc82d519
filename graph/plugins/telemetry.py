"""Telemetry: request metrics in the Prometheus text format, served at ``/metrics``.

Config follows Apollo Router's path ``telemetry.exporters.metrics.prometheus``. The hot path
only bumps integers and floats in dicts; the text is built when a scraper asks.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections import defaultdict
from typing import Any

import psutil
from pydantic import Field, field_validator

from graph.plugins.base import StrictModel
from graph.serving.request import RouterRequest
from graph.serving.stage import Stage

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PrometheusConfig(StrictModel):
    enabled: bool = True
    listen: str | None = None
    path: str = "/metrics"

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"a path starts with '/', got {value!r}")
        return value


class MetricsExporters(StrictModel):
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)


class Exporters(StrictModel):
    metrics: MetricsExporters = Field(default_factory=MetricsExporters)


class TelemetryConfig(StrictModel):
    """``telemetry``: only the Prometheus metrics exporter for now."""

    exporters: Exporters = Field(default_factory=Exporters)


class Metrics:
    """Counters and a latency histogram for the router, rendered as Prometheus text."""

    def __init__(self) -> None:
        self.started = time.time()
        self.requests: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.operations: defaultdict[str, int] = defaultdict(int)
        self.errors: defaultdict[str, int] = defaultdict(int)
        self.bucket_counts = [0] * (len(BUCKETS) + 1)
        self.duration_sum = 0.0
        self.duration_count = 0
        self.rate_limited: defaultdict[str, int] = defaultdict(int)  # refusals by policy
        self.rate_limit_failures = 0  # requests whose limits could not be checked (Redis)
        self.websocket_connections = 0
        self.active_subscriptions = 0
        self._process = psutil.Process(os.getpid())

    def observe_request(self, method: str, status: int, seconds: float) -> None:
        self.requests[(method, status)] += 1
        self.bucket_counts[bisect_left(BUCKETS, seconds)] += 1
        self.duration_sum += seconds
        self.duration_count += 1

    def observe_operation(self, operation_type: str) -> None:
        self.operations[operation_type] += 1

    def observe_errors(self, errors: list[Any]) -> None:
        for error in errors:
            extensions = error.get("extensions") if isinstance(error, dict) else None
            code = extensions.get("code") if isinstance(extensions, dict) else None
            self.errors[str(code) if code is not None else "UNKNOWN"] += 1

    def render(self) -> bytes:
        lines: list[str] = [
            "# HELP router_http_requests_total HTTP requests answered by the router.",
            "# TYPE router_http_requests_total counter",
        ]
        for (method, status), count in sorted(self.requests.items()):
            lines.append(
                f'router_http_requests_total{{method="{method}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP router_http_request_duration_seconds Time to answer an HTTP request.",
            "# TYPE router_http_request_duration_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip(BUCKETS, self.bucket_counts, strict=False):
            cumulative += count
            lines.append(
                f'router_http_request_duration_seconds_bucket{{le="{bound}"}} {cumulative}'
            )
        cumulative += self.bucket_counts[-1]
        lines.append(f'router_http_request_duration_seconds_bucket{{le="+Inf"}} {cumulative}')
        lines.append(f"router_http_request_duration_seconds_sum {self.duration_sum}")
        lines.append(f"router_http_request_duration_seconds_count {self.duration_count}")
        lines += [
            "# HELP router_operations_total GraphQL operations started, by type.",
            "# TYPE router_operations_total counter",
        ]
        for kind, count in sorted(self.operations.items()):
            lines.append(f'router_operations_total{{type="{kind}"}} {count}')
        lines += [
            "# HELP router_graphql_errors_total GraphQL errors returned, by extensions.code.",
            "# TYPE router_graphql_errors_total counter",
        ]
        for code, count in sorted(self.errors.items()):
            safe = code.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            lines.append(f'router_graphql_errors_total{{code="{safe}"}} {count}')
        lines += [
            "# HELP router_rate_limited_total Requests refused over a rate limit, by policy.",
            "# TYPE router_rate_limited_total counter",
        ]
        for policy, count in sorted(self.rate_limited.items()):
            safe = policy.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            lines.append(f'router_rate_limited_total{{policy="{safe}"}} {count}')
        lines += [
            "# HELP router_rate_limit_failures_total Requests whose rate limits could not be "
            "checked (Redis unreachable).",
            "# TYPE router_rate_limit_failures_total counter",
            f"router_rate_limit_failures_total {self.rate_limit_failures}",
        ]
        memory = self._process.memory_info()
        lines += [
            "# HELP router_websocket_connections Open graphql-transport-ws connections.",
            "# TYPE router_websocket_connections gauge",
            f"router_websocket_connections {self.websocket_connections}",
            "# HELP router_active_subscriptions Subscriptions being streamed.",
            "# TYPE router_active_subscriptions gauge",
            f"router_active_subscriptions {self.active_subscriptions}",
            "# HELP process_resident_memory_bytes Resident memory of the router process.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {memory.rss}",
            "# HELP process_start_time_seconds When the router started (Unix time).",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {self.started}",
        ]
        return ("\n".join(lines) + "\n").encode()


class TelemetryStage(Stage):
    """Counts operations, GraphQL errors by ``extensions.code`` and active subscriptions, the
    same way for every transport (refusals included)."""

    name = "telemetry"

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def on_operation(self, request: RouterRequest) -> None:
        prepared = request.prepared
        assert prepared is not None
        kind = prepared.operation_type
        self.metrics.observe_operation(kind)
        if kind == "subscription":
            self.metrics.active_subscriptions += 1
            request.context[self.name] = True

    def on_response(self, request: RouterRequest, body: dict[str, Any], status: int | None) -> None:
        errors = body.get("errors")
        if errors:
            self.metrics.observe_errors(errors)

    def on_end(self, request: RouterRequest) -> None:
        if request.context.get(self.name):
            self.metrics.active_subscriptions -= 1
