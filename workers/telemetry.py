"""What the worker measures and traces of each job.

Every registered job, consumer and cron runs through `instrument`:
- a span `job <name>` (kind CONSUMER); for an outbox consumer it is a child of the span
  that wrote the event (`outbox <event type>`, in the request that made the change), so
  the job shows up in that request's trace;
- the request id of that request (or `job:<job id>`) for every log line of the job;
- `puppies_worker_job_duration_seconds`, `puppies_worker_job_wait_seconds` (enqueue to
  start) and `puppies_worker_job_failures_total`, by job name.

`WorkerGauges` refreshes the backlog gauges (outbox lag and pending events per domain, queue
depth) every few seconds; the worker's `/metrics` serves them (workers/http.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from opentelemetry.trace import SpanKind

from models.db import Database
from models.outbox import existing_outbox_schemas, pending_backlog
from puppies.observability import metrics
from puppies.observability.context import reset_request_id, set_request_id
from puppies.observability.tracing import context_from_traceparent, tracer, untraced
from workers.context import WorkerContext

log = logging.getLogger(__name__)

JobFn = Callable[..., Awaitable[Any]]
# (args, kwargs) of a job -> (traceparent, request id) of the work that caused it
Origin = Callable[[tuple[Any, ...], dict[str, Any]], tuple[str | None, str | None]]
GAUGE_INTERVAL_SECONDS = 5.0
PENDING_COUNT_CAP = 100_000


def event_origin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str | None, str | None]:
    """Where an outbox consumer's event came from (its first argument, the event dict)."""
    event = args[0] if args else kwargs.get("event")
    if isinstance(event, dict):
        return event.get("traceparent"), event.get("request_id")
    return None, None


def instrument(name: str, fn: JobFn, origin: Origin | None = None) -> JobFn:
    """`fn(ctx, ...)` with a span, the request id and the job metrics (module docstring)."""
    duration = metrics.JOB_DURATION.labels(name)
    wait = metrics.JOB_WAIT.labels(name)
    failures = metrics.JOB_FAILURES.labels(name)

    @functools.wraps(fn)
    async def run(ctx: WorkerContext, *args: Any, **kwargs: Any) -> Any:
        traceparent, rid = origin(args, kwargs) if origin else (None, None)
        job_id = ctx.get("job_id")
        token = set_request_id(rid or f"job:{job_id}")
        enqueued = ctx.get("enqueue_time")
        if isinstance(enqueued, datetime):
            wait.observe(max(0.0, (datetime.now(UTC) - enqueued).total_seconds()))
        started = time.perf_counter()
        try:
            with (
                untraced(False),
                tracer().start_as_current_span(
                    f"job {name}",
                    context=context_from_traceparent(traceparent),
                    kind=SpanKind.CONSUMER,
                    attributes={
                        "messaging.system": "arq",
                        "messaging.operation.type": "process",
                        "messaging.message.id": str(job_id),
                        "puppies.job.name": name,
                        "puppies.job.try": int(ctx.get("job_try") or 1),
                    },
                ),
            ):
                return await fn(ctx, *args, **kwargs)
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                failures.inc()
            raise
        finally:
            duration.observe(time.perf_counter() - started)
            reset_request_id(token)

    return run


async def observe_backlog(db: Database, redis: Any, queue_name: str) -> None:
    """Set the outbox and queue gauges from PostgreSQL and Redis (one pass)."""
    with untraced():
        async with db.session() as session:
            for schema in await existing_outbox_schemas(session):
                lag, pending = await pending_backlog(session, schema, PENDING_COUNT_CAP)
                metrics.OUTBOX_LAG.labels(schema).set(lag)
                metrics.OUTBOX_PENDING.labels(schema).set(pending)
        metrics.QUEUE_DEPTH.set(int(await redis.zcard(queue_name)))


async def keep_gauges_fresh(
    db: Database, redis: Any, queue_name: str, interval: float = GAUGE_INTERVAL_SECONDS
) -> None:
    """Run `observe_backlog` every `interval` seconds until cancelled."""
    while True:
        try:
            await observe_backlog(db, redis, queue_name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("could not measure the outbox and queue backlog: %s", exc)
        await asyncio.sleep(interval)
