"""OpenTelemetry traces, configured by the standard `OTEL_*` environment variables.

Off unless an OTLP endpoint is given (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or `OTEL_TRACES_EXPORTER` names `console`; off
whatever else is set with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Off
means nothing is installed: no SDK, no instrumentation, no middleware, so it costs nothing.

On, a process gets:
- a TracerProvider whose resource says `service.name` = `puppies-<process>` (unless
  `OTEL_SERVICE_NAME` says otherwise) and a batch processor exporting OTLP/HTTP (protobuf)
  to the endpoint (the exporter reads `OTEL_EXPORTER_OTLP_*` itself: headers, timeout, ...);
- the sampler of `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default
  `parentbased_always_on`: a caller's decision is followed, so the router decides);
- spans for SQL (SQLAlchemy engines created afterwards) and Redis commands.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from puppies.errors import ConfigError

log = logging.getLogger(__name__)

SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
TRACER_NAME = "puppies"
_TRACE_CONTEXT = TraceContextTextMapPropagator()


class TracingSettings(BaseSettings):
    """The `OTEL_*` variables this platform looks at (the SDK reads the rest itself)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    otel_sdk_disabled: bool = False
    otel_traces_exporter: str = "otlp"
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    otel_exporter_otlp_protocol: str = "http/protobuf"
    otel_exporter_otlp_traces_protocol: str | None = None
    otel_service_name: str | None = None
    otel_traces_sampler: str = "parentbased_always_on"
    otel_traces_sampler_arg: float | None = Field(default=None, ge=0.0, le=1.0)

    @field_validator("otel_traces_exporter")
    @classmethod
    def _exporters(cls, value: str) -> str:
        names = {name.strip() for name in value.split(",") if name.strip()}
        unknown = names - {"otlp", "console", "none"}
        if unknown:
            raise ValueError(f"supported exporters are otlp, console and none, got {unknown}")
        return ",".join(sorted(names)) or "none"

    @field_validator("otel_exporter_otlp_protocol", "otel_exporter_otlp_traces_protocol")
    @classmethod
    def _protocol(cls, value: str | None) -> str | None:
        if value is not None and value != "http/protobuf":
            raise ValueError(f"only http/protobuf (OTLP over HTTP) is supported, got {value!r}")
        return value

    @field_validator("otel_traces_sampler")
    @classmethod
    def _sampler(cls, value: str) -> str:
        if value not in SAMPLERS:
            raise ValueError(f"must be one of {', '.join(SAMPLERS)}, got {value!r}")
        return value

    @property
    def exporters(self) -> set[str]:
        return set(self.otel_traces_exporter.split(","))

    @property
    def enabled(self) -> bool:
        if self.otel_sdk_disabled or "none" in self.exporters:
            return False
        endpoint = self.otel_exporter_otlp_traces_endpoint or self.otel_exporter_otlp_endpoint
        return "console" in self.exporters or ("otlp" in self.exporters and bool(endpoint))


def load_tracing_settings() -> TracingSettings:
    try:
        return TracingSettings()
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        ]
        raise ConfigError("invalid tracing settings: " + "; ".join(problems)) from None


_provider: Any = None


def configure_tracing(
    process: str, settings: TracingSettings | None = None, *, environment: str | None = None
) -> bool:
    """Install tracing for this process when the environment asks for it; True if on.

    Call once, early (before engines and Redis clients are created). Idempotent.
    """
    global _provider
    settings = settings or load_tracing_settings()
    if not settings.enabled:
        return False
    if _provider is not None:
        return True
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    attributes: dict[str, Any] = {
        "service.name": settings.otel_service_name or f"puppies-{process}",
        "service.namespace": "puppies",
        "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
    }
    if environment:
        attributes["deployment.environment.name"] = environment
    provider = TracerProvider(resource=Resource.create(attributes))
    if "otlp" in settings.exporters:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if "console" in settings.exporters:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    # patches sqlalchemy's create_engine/create_async_engine: engines made afterwards (by
    # models/db.py, which looks the function up at call time) get SQL spans
    # skip_dep_check: the instrumentation declares "sqlalchemy < 2.1" but works with 2.1's
    # engine events (tests/operations/test_trace.py sees the SQL spans)
    SQLAlchemyInstrumentor().instrument(
        tracer_provider=provider, enable_commenter=False, skip_dep_check=True
    )
    RedisInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    log.info(
        "tracing on: service %s, sampler %s%s",
        attributes["service.name"],
        settings.otel_traces_sampler,
        f" ({settings.otel_traces_sampler_arg})"
        if settings.otel_traces_sampler_arg is not None
        else "",
    )
    return True


def tracing_enabled() -> bool:
    return _provider is not None


def shutdown_tracing() -> None:
    """Export what is buffered (at process exit; the SDK also does this atexit)."""
    if _provider is not None:
        _provider.force_flush(5000)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


@contextlib.contextmanager
def untraced(suppress: bool = True) -> Iterator[None]:
    """No spans from instrumentation (SQL, Redis) inside: for background loops that poll
    (the arq worker's queue, outbox relay, periodic tasks, health checks), which would
    otherwise start a trace of their own many times a second. `untraced(False)` turns
    instrumentation back on inside such a loop (a job the worker loop starts)."""
    token = otel_context.attach(otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, suppress))
    try:
        yield
    finally:
        otel_context.detach(token)


def context_from_traceparent(traceparent: str | None) -> otel_context.Context | None:
    """The trace context a `traceparent` header value names (None for none or a bad one)."""
    if not traceparent:
        return None
    ctx = _TRACE_CONTEXT.extract({"traceparent": traceparent})
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None
