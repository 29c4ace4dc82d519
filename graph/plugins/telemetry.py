"""Telemetry: the ``telemetry`` section of router.yaml (Apollo Router's keys) and the
pipeline's last stage.

- ``exporters.metrics.prometheus``: Prometheus metrics (graph/observability/metrics.py) at
  ``path``, on the router's port or on ``listen``.
- ``exporters.tracing``: OpenTelemetry traces over OTLP/HTTP (graph/observability/tracing.py).
- ``exporters.logging.stdout``: log lines as JSON or text (graph/observability/logs.py).

The stage, the same for every transport: the request id (the client's ``x-request-id`` or a
new one; echoed in the response, sent to every subgraph, on every log line), operations
and GraphQL errors by code, RED per operation name and client, plan and APQ cache hits,
active subscriptions, and one access log line per request (logger ``graph.access``).

It runs for every request, so it is kept cheap: metric children are kept rather than
looked up per request (graph/observability/metrics.py), and the access line goes to its
handler without a ``LogRecord`` and is written off the request path
(graph/observability/logs.py).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from graph.observability.context import REQUEST_ID_HEADER, accept_request_id, request_id
from graph.observability.fetches import fetch_count
from graph.observability.logs import ACCESS_LOGGER, access_fields, access_handler
from graph.observability.metrics import Metrics
from graph.plugins.base import StrictModel
from graph.serving.request import RouterRequest
from graph.serving.stage import Stage

access_log = logging.getLogger(ACCESS_LOGGER)

CLIENT_NAME_HEADER = b"apollographql-client-name"
NAME = "telemetry"  # the stage's name, and its key in RouterRequest.context


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


class StdoutLogging(StrictModel):
    enabled: bool = True
    format: Literal["json", "text"] = "text"


class LoggingExporters(StrictModel):
    stdout: StdoutLogging = Field(default_factory=StdoutLogging)


class TracingCommon(StrictModel):
    service_name: str = "puppies-router"
    # a ratio of new traces to record (0.01 = 1%), or always_on / always_off
    sampler: float | Literal["always_on", "always_off"] = "always_on"
    # follow the client's sampling decision (its traceparent) when it sends one
    parent_based_sampler: bool = True

    @field_validator("sampler")
    @classmethod
    def _ratio(cls, value: float | str) -> float | str:
        if isinstance(value, float | int) and not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"a sampling ratio is between 0.0 and 1.0, got {value}")
        return value


class OtlpHttp(StrictModel):
    headers: dict[str, str] = Field(default_factory=dict)


class OtlpExporter(StrictModel):
    enabled: bool = False
    # the collector's OTLP/HTTP endpoint; /v1/traces is added unless the path has it
    endpoint: str = "http://127.0.0.1:4318"
    protocol: Literal["http"] = "http"
    http: OtlpHttp = Field(default_factory=OtlpHttp)

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"the OTLP endpoint is an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _endpoint_when_enabled(self) -> OtlpExporter:
        if self.enabled and not self.endpoint:
            raise ValueError("otlp.enabled needs an endpoint (the collector's OTLP/HTTP URL)")
        return self

    @property
    def traces_endpoint(self) -> str:
        return (
            self.endpoint if self.endpoint.endswith("/v1/traces") else self.endpoint + "/v1/traces"
        )


class Propagation(StrictModel):
    trace_context: bool = True  # W3C traceparent to subgraphs (the only propagator)


class TracingExporters(StrictModel):
    common: TracingCommon = Field(default_factory=TracingCommon)
    otlp: OtlpExporter = Field(default_factory=OtlpExporter)
    propagation: Propagation = Field(default_factory=Propagation)


class Exporters(StrictModel):
    metrics: MetricsExporters = Field(default_factory=MetricsExporters)
    tracing: TracingExporters = Field(default_factory=TracingExporters)
    logging: LoggingExporters = Field(default_factory=LoggingExporters)


class TelemetryConfig(StrictModel):
    """``telemetry``: metrics, traces and logs (docs/router-config.md, docs/operations.md)."""

    exporters: Exporters = Field(default_factory=Exporters)


class _Seen:
    """What the telemetry stage keeps of one request."""

    __slots__ = ("client", "codes", "fetches", "kind", "rid", "status", "subscription")

    def __init__(self, rid: str, client: str) -> None:
        self.rid = rid
        self.client = client
        self.kind = "unknown"
        self.status = 200
        self.codes: list[str] = []
        self.fetches: list[int] = [0]
        self.subscription = False


def _operation_name(request: RouterRequest) -> str | None:
    """The name the client gave, else the name of the operation it sent (if it has one)."""
    if request.operation_name:
        return request.operation_name
    prepared = request.prepared
    if prepared is not None and prepared.operation.name is not None:
        return prepared.operation.name.value
    return None


class TelemetryStage(Stage):
    """Request ids, metrics and the access log, the same way for every transport (refusals
    included)."""

    name = NAME

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def _seen(self, request: RouterRequest) -> _Seen:
        seen: _Seen | None = request.context.get(NAME)
        if seen is None:
            given = client = None
            for key, value in request.headers:  # one pass for both headers
                if key == REQUEST_ID_HEADER:
                    given = value if given is None else given + b", " + value
                elif key == CLIENT_NAME_HEADER:
                    client = value if client is None else client + b", " + value
            rid = accept_request_id(given)
            name = client.decode("latin-1") if client else (request.principal.client_name or "")
            seen = request.context[NAME] = _Seen(rid, name)
            request.response_headers.append((REQUEST_ID_HEADER, rid.encode()))
        return seen

    async def on_request(self, request: RouterRequest) -> None:
        seen = self._seen(request)
        # every log line and subgraph request made for this request carries its id
        request_id.set(seen.rid)
        fetch_count.set(seen.fetches)

    async def on_operation(self, request: RouterRequest) -> None:
        prepared = request.prepared
        assert prepared is not None
        seen = request.context.get(NAME) or self._seen(request)
        seen.kind = kind = prepared.operation_type
        metrics = self.metrics
        metrics.operations_by_type(kind).inc()
        metrics.plan_cache("hit" if prepared.planned else "miss").inc()
        extensions = request.params.extensions
        if request.params.query is None and extensions and "persistedQuery" in extensions:
            metrics.apq_cache("hit").inc()
        if kind == "subscription":
            self.metrics.active_subscriptions.inc()
            seen.subscription = True

    def on_response(self, request: RouterRequest, body: dict[str, Any], status: int | None) -> None:
        seen = request.context.get(NAME) or self._seen(request)
        if status is not None:
            seen.status = status
        errors = body.get("errors")
        if errors:
            self.metrics.observe_errors(errors)
            for error in errors:
                extensions = error.get("extensions") if isinstance(error, dict) else None
                code = extensions.get("code") if isinstance(extensions, dict) else None
                seen.codes.append(str(code))
                if code == "PERSISTED_QUERY_NOT_FOUND":
                    self.metrics.apq_cache("miss").inc()

    def on_end(self, request: RouterRequest) -> None:
        seen = request.context.get(NAME) or self._seen(request)
        seconds = time.perf_counter() - request.started
        if seen.subscription:
            self.metrics.active_subscriptions.dec()
        name = _operation_name(request)
        self.metrics.observe_operation(
            name or "", seen.kind, seen.client, seconds, failed=bool(seen.codes)
        )
        if not access_log.isEnabledFor(logging.INFO):
            return
        values = (
            request.transport,
            name,
            seen.kind,
            seen.client or None,
            seen.status,
            seconds,
            seen.fetches[0],
            seen.codes or None,
        )
        handler = access_handler()
        if handler is not None:  # the router's own logging (graph/observability/logs.py)
            handler.access(seen.rid, *values)
        else:
            message, fields = access_fields(*values)
            access_log.info("%s", message, extra={"request_id": seen.rid, **fields})
