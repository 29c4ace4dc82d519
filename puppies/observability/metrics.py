"""Prometheus metrics of the subgraphs and the worker (prometheus_client).

One process serves its own `/metrics`. A server run with several processes
(`puppies serve posts --workers 4`) shares one `PROMETHEUS_MULTIPROC_DIR` between them
(`use_multiprocess_dir`, before the processes start), and any of them renders the sum.

Labels whose values come from clients (operation names) are capped: past
`MAX_LABEL_VALUES` distinct values a new one is counted as `other`, so a client cannot
grow the series without bound.

docs/operations.md lists every metric with what to alert on.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Generic, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_LABEL_VALUES = 200
OTHER = "other"
# seconds; request-sized at the low end, job-sized at the high end
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)

# ---- servers (every subgraph)
HTTP_REQUESTS = Counter(
    "puppies_http_requests_total",
    "HTTP requests answered, by method, path and status.",
    ["method", "path", "status"],
)
HTTP_DURATION = Histogram(
    "puppies_http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of the body).",
    ["method", "path"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_DURATION = Histogram(
    "puppies_graphql_operation_duration_seconds",
    "GraphQL operations executed, by type and name (the root field when unnamed).",
    ["operation_type", "operation_name"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter(
    "puppies_graphql_errors_total",
    "GraphQL errors returned, by operation name and extensions.code.",
    ["operation_name", "code"],
)
WEBSOCKET_CONNECTIONS = Gauge(
    "puppies_websocket_connections",
    "Open WebSocket connections.",
    multiprocess_mode="livesum",
)
ACTIVE_SUBSCRIPTIONS = Gauge(
    "puppies_active_subscriptions",
    "Subscriptions being streamed.",
    multiprocess_mode="livesum",
)

# ---- the worker
JOB_DURATION = Histogram(
    "puppies_worker_job_duration_seconds",
    "Time a job ran, by job (failed tries included).",
    ["job"],
    buckets=LATENCY_BUCKETS,
)
JOB_WAIT = Histogram(
    "puppies_worker_job_wait_seconds",
    "Time from enqueueing a job to its start, by job.",
    ["job"],
    buckets=LATENCY_BUCKETS,
)
JOB_FAILURES = Counter(
    "puppies_worker_job_failures_total",
    "Job tries that raised (arq retries them up to the job's max_tries), by job.",
    ["job"],
)
OUTBOX_LAG = Gauge(
    "puppies_outbox_lag_seconds",
    "Age of the oldest undispatched outbox event, by domain schema (0 when none).",
    ["schema"],
    multiprocess_mode="max",
)
OUTBOX_PENDING = Gauge(
    "puppies_outbox_pending_events",
    "Undispatched outbox events, by domain schema (counted up to 100,000).",
    ["schema"],
    multiprocess_mode="max",
)
QUEUE_DEPTH = Gauge(
    "puppies_worker_queue_depth",
    "Jobs waiting in the arq queue (what the worker's HPA scales on).",
    multiprocess_mode="max",
)
FANOUT_LAG = Histogram(
    "puppies_feed_fanout_lag_seconds",
    "Time from a post's creation to the end of its fan-out into followers' inboxes.",
    buckets=LATENCY_BUCKETS,
)


class LabelCap:
    """Keeps at most `limit` distinct values of a label; later ones become `other`."""

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(value)
        return value


operation_names = LabelCap()


M = TypeVar("M", Counter, Gauge, Histogram)


class Children(Generic[M]):
    """`metric.labels(*values)`, remembered per tuple of values: prometheus_client's
    `labels` checks and joins its arguments and takes a lock on every call (what a
    request server does a few times per request). The child is the one `labels` returns
    (prometheus_client keeps one per tuple for the metric's lifetime); only for values
    that are bounded already (capped or from a fixed set), as the series are."""

    def __init__(self, metric: M) -> None:
        self.metric: M = metric
        self._found: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._found.get(values)
        if child is None:
            child = self._found[values] = self.metric.labels(*values)
        return child


http_requests = Children(HTTP_REQUESTS)
http_duration = Children(HTTP_DURATION)
graphql_duration = Children(GRAPHQL_DURATION)


def render() -> tuple[bytes, str]:
    """(body, content type) of this process's metrics, or of all processes sharing the
    multiprocess directory."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def use_multiprocess_dir(data_dir: Path | None = None) -> Path | None:
    """Make (empty) and export the directory that several server processes share.

    Call in the parent before it starts the processes (they read the variable when they
    first import prometheus_client). An operator's own `PROMETHEUS_MULTIPROC_DIR` is
    used as given, emptied first: stale files of a previous run would add up. Returns the
    directory made here (for `remove_multiprocess_dir` at exit), None for the operator's.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        if path.exists():
            for child in path.glob("*.db"):
                child.unlink()
        path.mkdir(parents=True, exist_ok=True)
        return None
    base = data_dir if data_dir is not None and data_dir.is_dir() else None
    path = Path(tempfile.mkdtemp(prefix="puppies-metrics-", dir=base))
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def remove_multiprocess_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
