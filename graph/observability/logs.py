"""The router's log lines: one JSON object per line (``telemetry.exporters.logging.stdout.
format: json``) or human lines (``text``), each with the timestamp, level, process
(``router``), pid, logger, message, ``trace_id``, ``span_id`` and ``request_id``.

The same fields and shape as the other processes' lines (puppies/observability/logs.py),
so one log pipeline parses all of them.
"""

from __future__ import annotations

import logging
import logging.config
import time
from typing import Any

import orjson
from opentelemetry import trace

from graph.observability.context import request_id

PROCESS = "router"
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


def _timestamp(created: float) -> str:
    seconds = int(created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (
        f".{int((created - seconds) * 1000):03d}Z"
    )


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace_id", None) is None:
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                record.trace_id = format(context.trace_id, "032x")
                record.span_id = format(context.span_id, "016x")
            else:
                record.trace_id = record.span_id = None
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "process": PROCESS,
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", None),
            "span_id": getattr(record, "span_id", None),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in _extras(record).items():
            out.setdefault(key, value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_timestamp(record.created)} {record.levelname:<7} {PROCESS}[{record.process}] "
            f"{record.name}: {record.getMessage()}"
        )
        tail = " ".join(f"{k}={v}" for k, v in _extras(record).items() if not k.startswith("_"))
        ids = " ".join(
            f"{name}={value}"
            for name in ("request_id", "trace_id")
            if (value := getattr(record, name, None)) is not None
        )
        if tail or ids:
            line += "  [" + " ".join(p for p in (tail, ids) if p) + "]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


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
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    logging.config.dictConfig(logging_config(level, fmt))
