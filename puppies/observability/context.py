"""What the work in progress is part of: its request id and its trace.

The request id comes from the client's (or the router's) `x-request-id` header, or is made
here; it is kept in a contextvar so every log line written while serving the request, and
every outbox event it writes, carries it. Trace ids are read from OpenTelemetry's current
span; with tracing off that span is the context extracted from an incoming `traceparent`
header, so log lines still name the caller's trace.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

REQUEST_ID_HEADER = "x-request-id"
# What we accept from a client: printable, no spaces, short (it goes into every log line).
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")

_request_id: ContextVar[str | None] = ContextVar("puppies_request_id", default=None)
_TRACE_CONTEXT = TraceContextTextMapPropagator()


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | bytes | None) -> str:
    """The incoming request id when it is acceptable, else a new one."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if value and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


def request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


def trace_ids() -> tuple[str | None, str | None]:
    """(trace id, span id) of the current span as lower-case hex, or (None, None)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span (what a child of it would be given)."""
    carrier: dict[str, str] = {}
    _TRACE_CONTEXT.inject(carrier)
    return carrier.get("traceparent")


def outgoing_headers() -> dict[str, str]:
    """Headers that carry the current request id and trace to another process."""
    headers: dict[str, str] = {}
    _TRACE_CONTEXT.inject(headers)
    rid = _request_id.get()
    if rid is not None:
        headers[REQUEST_ID_HEADER] = rid
    return headers
