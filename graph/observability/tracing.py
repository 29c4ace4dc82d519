"""The router's traces: OpenTelemetry, configured by ``telemetry.exporters.tracing``
(Apollo Router's keys), exported over OTLP/HTTP.

Off unless ``telemetry.exporters.tracing.otlp.enabled``: then nothing is installed and the
request path only checks one attribute. On, a request gets a span ``router`` (a child of the
client's ``traceparent``), ``supergraph`` for the operation, ``parse_query`` and
``validate`` (when not cached), ``query_planning`` (when not cached), ``execution``, and a
``subgraph`` span per fetch whose ``traceparent`` the subgraph continues.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace

log = logging.getLogger("graph.tracing")

# While serving a request whose ``router`` span is not sampled: the ``traceparent`` (and
# ``tracestate``) that passes the unsampled decision on to every subgraph. Its stages and
# fetches then make no spans of their own (a non-recording span costs ~25 us to create and
# make current, and injecting the context into each fetch as much again). None otherwise,
# and outside a request (a stream's later parts): spans as usual.
unsampled: ContextVar[dict[str, str] | None] = ContextVar("graph_trace_unsampled", default=None)

TRACER_NAME = "graph"
_configured: trace.Tracer | None = None


def configure_tracing(config: Any) -> trace.Tracer | None:
    """Install the SDK for ``config`` (a TelemetryConfig) once per process; the tracer, or
    None when tracing is off."""
    global _configured
    tracing = config.exporters.tracing
    if not tracing.otlp.enabled:
        return None
    if _configured is not None:
        return _configured
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_OFF,
        ALWAYS_ON,
        ParentBased,
        Sampler,
        TraceIdRatioBased,
    )

    common = tracing.common
    sampler: Sampler
    if common.sampler == "always_on":
        sampler = ALWAYS_ON
    elif common.sampler == "always_off":
        sampler = ALWAYS_OFF
    else:
        sampler = TraceIdRatioBased(float(common.sampler))
    if common.parent_based_sampler:
        sampler = ParentBased(sampler)
    provider = TracerProvider(
        sampler=sampler,
        resource=Resource.create(
            {"service.name": common.service_name, "service.namespace": "puppies"}
        ),
    )
    otlp = tracing.otlp
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=otlp.traces_endpoint, headers=dict(otlp.http.headers))
        )
    )
    trace.set_tracer_provider(provider)
    _configured = trace.get_tracer(TRACER_NAME)
    log.info(
        "tracing on: %s to %s, sampler %s",
        common.service_name,
        otlp.traces_endpoint,
        common.sampler,
    )
    return _configured
