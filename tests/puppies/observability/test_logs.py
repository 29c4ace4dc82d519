"""Log lines: JSON and human formats, ids from the context, arq's per-job lines demoted."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry import context as otel_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from puppies.observability.context import (
    accept_request_id,
    outgoing_headers,
    reset_request_id,
    set_request_id,
)
from puppies.observability.logs import (
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    resolve_format,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _line(formatter: logging.Formatter, logger: str, level: int, msg: str, **extra: object) -> str:
    record = logging.getLogger(logger).makeRecord(
        logger, level, "f.py", 1, msg, (), None, extra=extra
    )
    ContextFilter().filter(record)
    return formatter.format(record)


def test_json_line_has_every_field_and_the_ids_of_the_context():
    token = set_request_id("req-42")
    attached = otel_context.attach(
        TraceContextTextMapPropagator().extract({"traceparent": TRACEPARENT})
    )
    try:
        line = _line(JsonFormatter("posts"), "puppies.test", logging.WARNING, "hello", user_id=7)
    finally:
        otel_context.detach(attached)
        reset_request_id(token)
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["process"] == "posts"
    assert record["message"] == "hello" and record["logger"] == "puppies.test"
    assert record["request_id"] == "req-42"
    assert record["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert record["span_id"] == "b7ad6b7169203331"
    assert record["user_id"] == 7
    assert record["timestamp"].endswith("Z") and "T" in record["timestamp"]


def test_json_line_outside_a_request_has_null_ids_and_keeps_the_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, "f.py", 1, "failed", (), sys.exc_info()
        )
    ContextFilter().filter(record)
    out = json.loads(JsonFormatter("worker").format(record))
    assert out["request_id"] is None and out["trace_id"] is None
    assert "ValueError: boom" in out["exception"]
    assert "\n" not in JsonFormatter("worker").format(record)


def test_text_line_is_for_humans():
    token = set_request_id("abc")
    try:
        line = _line(TextFormatter("users"), "puppies.x", logging.INFO, "signed up")
    finally:
        reset_request_id(token)
    assert "INFO" in line and "users[" in line and "puppies.x: signed up" in line
    assert "request_id=abc" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_request_ids_are_accepted_only_when_sane():
    assert accept_request_id("abc-123_X.y") == "abc-123_X.y"
    for bad in (None, "", "has space", "x" * 129, "new\nline", "é"):
        made = accept_request_id(bad)
        assert len(made) == 32 and made != bad
    assert accept_request_id(b"from-bytes") == "from-bytes"


def test_outgoing_headers_carry_request_id_and_trace():
    token = set_request_id("r-1")
    attached = otel_context.attach(
        TraceContextTextMapPropagator().extract({"traceparent": TRACEPARENT})
    )
    try:
        headers = outgoing_headers()
    finally:
        otel_context.detach(attached)
        reset_request_id(token)
    assert headers == {"x-request-id": "r-1", "traceparent": TRACEPARENT}
    assert outgoing_headers() == {}


def test_format_auto_is_json_in_production_only():
    assert resolve_format("auto", "production") == "json"
    assert resolve_format("auto", "development") == "text"
    assert resolve_format("text", "production") == "text"
    with pytest.raises(ValueError, match="auto, json or text"):
        resolve_format("xml", "production")


def test_arq_per_job_lines_go_to_debug_and_failures_stay():
    stream = io.StringIO()
    root = logging.getLogger()
    saved, saved_level = root.handlers[:], root.level
    configure_logging("worker", "INFO", "json")
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter("worker"))
    root.handlers[:] = [handler]
    try:
        arq = logging.getLogger("arq.worker")
        arq.info("%6.2fs → %s(%s)%s", 0.01, "id:job", "", "")
        arq.info("%6.2fs ← %s ● %s", 0.02, "id:job", "")
        arq.info("Starting worker for %d functions: %s", 3, "a, b, c")
        arq.exception("%6.2fs ! %s failed, %s: %s", 0.1, "id:job", "ValueError", "x")
        root.setLevel(logging.DEBUG)
        arq.info("%6.2fs ← %s ● %s", 0.03, "id:other", "")
    finally:
        root.handlers[:] = saved
        root.setLevel(saved_level)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["level"], r["message"][:14]) for r in records] == [
        ("INFO", "Starting worke"),
        ("ERROR", "  0.10s ! id:j"),
        ("DEBUG", "  0.03s ← id:o"),
    ]
