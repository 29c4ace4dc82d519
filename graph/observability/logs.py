"""The router's log lines: one JSON object per line (``telemetry.exporters.logging.stdout.
format: json``) or human lines (``text``), each with the timestamp, level, process
(``router``), pid, logger, message, ``trace_id``, ``span_id`` and ``request_id``.

The same fields and shape as the other processes' lines (puppies/observability/logs.py),
so one log pipeline parses all of them.

The access log (logger ``graph.access``, one line per request) has its own handler,
:class:`AccessLogHandler`: the telemetry stage hands it the line's fields directly
(:meth:`AccessLogHandler.access`), without a ``LogRecord``, and the line is written to
stderr by a thread, in batches, off the request path. Its queue is bounded and never
blocks a request: when stderr cannot keep up, lines are dropped and counted, and a warning
line says how many.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import IO, Any

import orjson
from opentelemetry import trace

from graph.observability.context import request_id

PROCESS = "router"
ACCESS_LOGGER = "graph.access"
_STANDARD = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "trace_id",
        "span_id",
        "request_id",
        "color_message",
    }
)
_second: tuple[int, str] = (-1, "")
_access = logging.getLogger(ACCESS_LOGGER)  # the last second formatted, and its text


def _timestamp(created: float) -> str:
    global _second
    seconds = int(created)
    last, text = _second
    if seconds != last:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second = (seconds, text)
    return f"{text}.{int((created - seconds) * 1000):03d}Z"


def _trace_ids() -> tuple[str | None, str | None]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return format(context.trace_id, "032x"), format(context.span_id, "016x")
    return None, None


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace_id", None) is None:
            record.trace_id, record.span_id = _trace_ids()
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


def json_line(
    created: float,
    level: str,
    pid: int | None,
    logger: str,
    message: str,
    trace_id: str | None,
    span_id: str | None,
    rid: str | None,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON object of one line (fields after the standard ones, which they never
    replace)."""
    out: dict[str, Any] = {
        "timestamp": _timestamp(created),
        "level": level,
        "process": PROCESS,
        "pid": pid,
        "logger": logger,
        "message": message,
        "trace_id": trace_id,
        "span_id": span_id,
        "request_id": rid,
    }
    for key, value in fields.items():
        out.setdefault(key, value)
    return out


def text_line(
    created: float,
    level: str,
    pid: int | None,
    logger: str,
    message: str,
    trace_id: str | None,
    rid: str | None,
    fields: Mapping[str, Any],
) -> str:
    line = f"{_timestamp(created)} {level:<7} {PROCESS}[{pid}] {logger}: {message}"
    tail = " ".join(f"{k}={v}" for k, v in fields.items() if not k.startswith("_"))
    ids = " ".join(
        f"{name}={value}" for name, value in (("request_id", rid), ("trace_id", trace_id)) if value
    )
    if tail or ids:
        line += "  [" + " ".join(p for p in (tail, ids) if p) + "]"
    return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = json_line(
            record.created,
            record.levelname,
            record.process,
            record.name,
            record.getMessage(),
            getattr(record, "trace_id", None),
            getattr(record, "span_id", None),
            getattr(record, "request_id", None),
            _extras(record),
        )
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = text_line(
            record.created,
            record.levelname,
            record.process,
            record.name,
            record.getMessage(),
            getattr(record, "trace_id", None),
            getattr(record, "request_id", None),
            _extras(record),
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def access_fields(
    transport: str,
    operation_name: str | None,
    operation_type: str,
    client_name: str | None,
    status: int,
    seconds: float,
    subgraph_fetches: int,
    error_codes: list[str] | None,
) -> tuple[str, dict[str, Any]]:
    """The message and fields of one request's access line (docs/operations.md)."""
    message = (
        f"{transport} {operation_name or '-'} {client_name or '-'} {status} {seconds * 1000:.1f}ms"
    )
    return message, {
        "transport": transport,
        "operation_name": operation_name,
        "operation_type": operation_type,
        "client_name": client_name,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "subgraph_fetches": subgraph_fetches,
        "error_codes": error_codes,
    }


class AccessLogHandler(logging.Handler):
    """The access log's handler: lines queued on the request path (never blocking it),
    written to ``stream`` in batches by a thread of its own every ``interval`` seconds.

    At most ``max_pending`` lines wait; more are dropped and counted (``dropped``), and
    the next batch ends with a warning line saying how many. ``flush()`` (and ``close()``,
    which ``logging.shutdown`` calls at exit) writes what is waiting at once. Records
    logged the usual way (``logging.getLogger("graph.access").info(...)``) take the same
    queue, formatted by ``fmt``.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        fmt: str = "text",
        interval: float = 0.1,
        max_pending: int = 10_000,
    ) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        self.json = fmt == "json"
        self.setFormatter(JsonFormatter() if self.json else TextFormatter())
        self.addFilter(ContextFilter())
        self.interval = interval
        self.max_pending = max_pending
        self.dropped = 0
        self._reported = 0
        self._pending: deque[str] = deque()
        self._pid = os.getpid()
        self._writing = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- the request path
    def access(
        self,
        rid: str,
        transport: str,
        operation_name: str | None,
        operation_type: str,
        client_name: str | None,
        status: int,
        seconds: float,
        subgraph_fetches: int,
        error_codes: list[str] | None,
    ) -> None:
        """Queue the access line of one request (the fields of ``access_fields``, as
        ``JsonFormatter`` / ``TextFormatter`` would write them); the trace ids are the
        current span's."""
        if self.level > logging.INFO:
            return
        created = time.time()
        trace_id, span_id = _trace_ids()
        if self.json:
            message, fields = access_fields(
                transport,
                operation_name,
                operation_type,
                client_name,
                status,
                seconds,
                subgraph_fetches,
                error_codes,
            )
            out = {
                "timestamp": _timestamp(created),
                "level": "INFO",
                "process": PROCESS,
                "pid": self._pid,
                "logger": ACCESS_LOGGER,
                "message": message,
                "trace_id": trace_id,
                "span_id": span_id,
                "request_id": rid,
                **fields,
            }
            self._queue(orjson.dumps(out, default=str).decode())
            return
        # TextFormatter's line, spelt out (a generic join over the fields costs 3x more)
        ms = seconds * 1000
        self._queue(
            f"{_timestamp(created)} INFO    {PROCESS}[{self._pid}] {ACCESS_LOGGER}: "
            f"{transport} {operation_name or '-'} {client_name or '-'} {status} {ms:.1f}ms  "
            f"[transport={transport} operation_name={operation_name} "
            f"operation_type={operation_type} client_name={client_name} status={status} "
            f"duration_ms={round(ms, 3)} subgraph_fetches={subgraph_fetches} "
            f"error_codes={error_codes} request_id={rid}"
            + ("]" if trace_id is None else f" trace_id={trace_id}]")
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue(self.format(record))
        except Exception:
            self.handleError(record)

    def _queue(self, line: str) -> None:
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append(line)
        if self._thread is None:
            self._start()

    # ---------------------------------------------------------------- the writer
    def _start(self) -> None:
        with self._writing:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="access-log-writer", daemon=True
                )
                self._thread.start()
                os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        """In a forked child: its own pid, lock and writer thread (started on its first
        line)."""
        self._pid = os.getpid()
        self._writing = threading.Lock()
        self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self._write()

    def _write(self, wait: float = -1) -> None:
        """Write what is queued; give up after ``wait`` seconds (-1: never) while another
        write holds the stream (a stderr that takes nothing must not hang a shutdown)."""
        if not self._writing.acquire(timeout=wait):
            return
        try:
            lines: list[str] = []
            pop = self._pending.popleft
            try:
                while True:
                    lines.append(pop())
            except IndexError:
                pass
            dropped = self.dropped
            if dropped != self._reported:
                lines.append(self._dropped_line(dropped - self._reported))
                self._reported = dropped
            if not lines:
                return
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except Exception:  # a closed or broken stderr: nothing else to tell it to
                self.dropped += len(lines)
                self._reported = self.dropped
        finally:
            self._writing.release()

    def _dropped_line(self, count: int) -> str:
        message = (
            f"access log: {count} lines dropped (stderr did not keep up; "
            f"{self.max_pending} lines may wait)"
        )
        trace_id = span_id = None
        if self.json:
            out = json_line(
                time.time(),
                "WARNING",
                self._pid,
                ACCESS_LOGGER,
                message,
                trace_id,
                span_id,
                None,
                {"dropped_lines": count},
            )
            return orjson.dumps(out).decode()
        return text_line(
            time.time(),
            "WARNING",
            self._pid,
            ACCESS_LOGGER,
            message,
            trace_id,
            None,
            {"dropped_lines": count},
        )

    def flush(self) -> None:
        self._write(wait=5)

    def close(self) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._write(wait=5)
        super().close()


def access_handler() -> AccessLogHandler | None:
    """The access log's handler when the router's logging is configured (logging_config),
    else None (the access log then goes through ``logging`` as any other logger's lines)."""
    for handler in _access.handlers:
        if handler.__class__ is AccessLogHandler:
            return handler
    return None


def logging_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """A dictConfig for the router process (uvicorn's ``log_config`` too, so each worker
    process of ``--workers N`` configures the same way)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"line": {"()": JsonFormatter if fmt == "json" else TextFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["context"],
                "formatter": "line",
            },
            "access": {"()": AccessLogHandler, "stream": "ext://sys.stderr", "fmt": fmt},
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            ACCESS_LOGGER: {"handlers": ["access"], "propagate": False},
            **{
                name: {"handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
        },
    }


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    logging.config.dictConfig(logging_config(level, fmt))
