"""The access log's own handler: the same lines the logging formatters write for the same
record, queued without blocking the request path, written in batches, drops counted."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from graph.observability.logs import (
    ACCESS_LOGGER,
    AccessLogHandler,
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    _timestamp,
    access_fields,
)

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331

# (transport, operation name, type, client name, status, seconds, fetches, error codes)
REQUESTS: list[tuple[Any, ...]] = [
    ("http", "Me", "query", "web", 200, 0.0123456, 1, None),
    ("websocket", None, "subscription", None, 200, 12.5, 0, None),
    ("sse", "Typo", "unknown", None, 400, 0.0004, 0, ["GRAPHQL_VALIDATION_FAILED", "None"]),
]


@contextmanager
def _span(traced: bool) -> Iterator[None]:
    if not traced:
        yield
        return
    context = SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(1))
    with trace.use_span(NonRecordingSpan(context)):
        yield


def _logged(fmt: str, rid: str, values: tuple[Any, ...]) -> str:
    """What `logging.getLogger("graph.access").info(...)` writes through the router's
    formatters for the same request (the path used without AccessLogHandler)."""
    message, fields = access_fields(*values)
    record = logging.makeLogRecord(
        {
            "name": ACCESS_LOGGER,
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "%s",
            "args": (message,),
            "request_id": rid,
            **fields,
        }
    )
    ContextFilter().filter(record)
    return (JsonFormatter() if fmt == "json" else TextFormatter()).format(record)


def _without_timestamp(fmt: str, line: str) -> Any:
    if fmt == "json":
        out = json.loads(line)
        assert out.pop("timestamp").endswith("Z")
        return out
    stamp, _, rest = line.partition(" ")
    assert stamp.endswith("Z")
    return rest


@pytest.mark.parametrize("fmt", ["json", "text"])
@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("values", REQUESTS)
def test_a_line_is_what_the_formatter_writes_for_the_same_record(
    fmt: str, traced: bool, values: tuple[Any, ...]
) -> None:
    stream = io.StringIO()
    handler = AccessLogHandler(stream, fmt=fmt, interval=3600)
    try:
        with _span(traced):
            handler.access("rid-1", *values)
            expected = _logged(fmt, "rid-1", values)
        handler.flush()
        (line,) = stream.getvalue().splitlines()
        assert _without_timestamp(fmt, line) == _without_timestamp(fmt, expected)
    finally:
        handler.close()
    if fmt == "json":
        out = json.loads(line)
        assert out["logger"] == "graph.access" and out["request_id"] == "rid-1"
        assert out["trace_id"] == (format(TRACE_ID, "032x") if traced else None)
        assert out["status"] == values[4] and out["error_codes"] == values[7]


def test_timestamps_are_utc_with_milliseconds() -> None:
    for created in (0.0, 1_765_000_000.9996, 1_765_000_001.0, 1_765_000_000.25):
        seconds = int(created)
        expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (
            f".{int((created - seconds) * 1000):03d}Z"
        )
        assert _timestamp(created) == expected


def test_lines_wait_for_the_writer_and_flush_writes_them_in_order() -> None:
    stream = io.StringIO()
    handler = AccessLogHandler(stream, fmt="json", interval=3600)
    try:
        for n in range(3):
            handler.access(f"rid-{n}", *REQUESTS[0])
        assert stream.getvalue() == ""  # queued, not written on the request path
        handler.flush()
        lines = [json.loads(x) for x in stream.getvalue().splitlines()]
        assert [x["request_id"] for x in lines] == ["rid-0", "rid-1", "rid-2"]
        assert handler.dropped == 0
    finally:
        handler.close()


def test_the_writer_thread_writes_without_a_flush() -> None:
    stream = io.StringIO()
    handler = AccessLogHandler(stream, fmt="text", interval=0.01)
    try:
        handler.access("rid-w", *REQUESTS[0])
        deadline = time.monotonic() + 30
        while "request_id=rid-w" not in stream.getvalue():
            assert time.monotonic() < deadline, "the writer never wrote"
            time.sleep(0.01)
    finally:
        handler.close()


class _StuckStream(io.StringIO):
    """stderr that does not take lines until released (a full pipe)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.entered.set()
        assert self.release.wait(60)
        return super().write(text)


def test_a_stuck_stderr_never_blocks_a_request_lines_past_the_bound_are_dropped_and_counted() -> (
    None
):
    stream = _StuckStream()
    handler = AccessLogHandler(stream, fmt="json", interval=0.01, max_pending=5)
    try:
        handler.access("first", *REQUESTS[0])
        assert stream.entered.wait(30)  # the writer holds the first line, stuck in write()
        for n in range(8):  # returns at once: 5 wait, 3 are dropped
            handler.access(f"rid-{n}", *REQUESTS[0])
        assert handler.dropped == 3
        stream.release.set()
        handler.flush()
        lines = [json.loads(x) for x in stream.getvalue().splitlines()]
        assert [x["request_id"] for x in lines[:6]] == ["first"] + [f"rid-{n}" for n in range(5)]
        (warning,) = [x for x in lines if x["level"] == "WARNING"]
        assert warning["dropped_lines"] == 3 and "3 lines dropped" in warning["message"]
        assert warning["logger"] == "graph.access"
    finally:
        stream.release.set()
        handler.close()


def test_close_writes_what_waits_and_records_logged_as_usual_take_the_same_queue() -> None:
    stream = io.StringIO()
    handler = AccessLogHandler(stream, fmt="text", interval=3600)
    logger = logging.getLogger("tests.access.usual")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        handler.access("rid-a", *REQUESTS[0])
        logger.warning("a line %s", "logged as usual", extra={"request_id": "rid-b"})
    finally:
        logger.removeHandler(handler)
        handler.close()
    first, second = stream.getvalue().splitlines()
    assert "graph.access: http Me web 200 12.3ms" in first and "request_id=rid-a" in first
    assert " WARNING " in second and "tests.access.usual: a line logged as usual" in second
    assert "request_id=rid-b" in second
