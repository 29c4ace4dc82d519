"""Process-wide logging: one JSON object per line in production, human lines otherwise.

Every line carries the timestamp (UTC, ISO 8601 with milliseconds), the level, the process
(`router`, `users`, `posts`, `feed`, `analytics`, `worker`), the pid, the logger, the
message, and the `trace_id`, `span_id` and `request_id` of the work it was written for
(null outside a request or job). Fields given with `extra={...}` are kept as fields of the
JSON object. Exceptions become an `exception` field (the traceback, for the operator; it
never reaches a client).

    configure_logging("posts", level="INFO", fmt="json")
"""

from __future__ import annotations

import logging
import logging.config
import time
from typing import Any, Literal

import orjson

from puppies.observability.context import request_id, trace_ids

LogFormat = Literal["json", "text"]

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "trace_id",
        "span_id",
        "request_id",
        "color_message",  # uvicorn's coloured copy of the message
    }
)
_QUIET = ("botocore", "boto3", "urllib3", "s3transfer", "aiohttp.access", "asyncio")


def _timestamp(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class ContextFilter(logging.Filter):
    """Stamps each record with the request id and trace ids of the current context
    (unless the caller gave its own with `extra=`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace_id", None) is None:
            record.trace_id, record.span_id = trace_ids()
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "process": self.process,
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", None),
            "span_id": getattr(record, "span_id", None),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """`2025-01-31T12:00:00.123Z INFO posts[4242] logger: message [request_id=… trace_id=…]`"""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(
            f"{name}={value}"
            for name in ("request_id", "trace_id")
            if (value := getattr(record, name, None)) is not None
        )
        extras = " ".join(
            f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")
        )
        line = (
            f"{_timestamp(record.created)} {record.levelname:<7} {self.process}[{record.process}]"
            f" {record.name}: {record.getMessage()}"
        )
        tail = " ".join(part for part in (extras, ids) if part)
        if tail:
            line += f"  [{tail}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        return line


class _DemoteJobLines(logging.Filter):
    """arq logs two INFO lines per job (`→ job started`, `← job done`): DEBUG for us.
    Failures, retries and start-up lines keep their levels."""

    _PER_JOB = ("%6.2fs → ", "%6.2fs ← ")

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if (
            record.levelno == logging.INFO
            and isinstance(msg, str)
            and msg.startswith(self._PER_JOB)
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def resolve_format(fmt: str, environment: str) -> LogFormat:
    """`auto` is JSON in production and human lines elsewhere."""
    if fmt == "auto":
        return "json" if environment == "production" else "text"
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be auto, json or text, got {fmt!r}")
    return fmt  # type: ignore[return-value]


def logging_config(process: str, level: str = "INFO", fmt: LogFormat = "text") -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: every logger's records, one line each, to stderr.

    Also what `puppies serve` gives uvicorn as `log_config`, so each server process it
    starts configures the same way.
    """
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    # servers and libraries that install their own handlers write through ours instead
    libraries = ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"line": {"()": formatter, "process": process}},
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
            **{name: {"handlers": [], "propagate": True} for name in libraries},
            **{name: {"level": "WARNING"} for name in _QUIET},
        },
    }


def configure_logging(process: str, level: str = "INFO", fmt: LogFormat = "text") -> None:
    """Configure this process's logging (see `logging_config`)."""
    logging.config.dictConfig(logging_config(process, level, fmt))
    arq_worker = logging.getLogger("arq.worker")
    arq_worker.filters[:] = [f for f in arq_worker.filters if not isinstance(f, _DemoteJobLines)]
    arq_worker.addFilter(_DemoteJobLines())
    logging.captureWarnings(True)


def configure_process_logging(process: str, settings: Any) -> None:
    """Logging from the platform settings (LOG_LEVEL, LOG_FORMAT, ENVIRONMENT)."""
    configure_logging(
        process, settings.log_level, resolve_format(settings.log_format, settings.environment)
    )
