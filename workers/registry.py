"""Which jobs exist: event consumers, plain jobs, arq cron jobs and in-process periodic tasks.

Each domain registers its own in its worker module (`workers/posts.py`, `workers/feed.py`,
...) on the shared `REGISTRY`; `workers.main` imports those modules and builds one arq
Worker from it. The relay asks `consumers_for(event_type)` which jobs a committed outbox
row becomes.

    from workers.registry import REGISTRY

    @REGISTRY.consumer("post.published")
    async def fan_out(ctx: WorkerContext, event: Event) -> None: ...

    @REGISTRY.job()
    async def rebuild_inbox(ctx: WorkerContext, user_id: int) -> None: ...

    @REGISTRY.cron(minute={0, 15, 30, 45})
    async def reconcile(ctx: WorkerContext) -> None: ...

    @REGISTRY.periodic(lambda s: s.likes_flush_interval_seconds)
    async def flush(ctx: WorkerContext) -> None: ...
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from arq.cron import CronJob, cron
from arq.worker import Function, Retry, func

from models.outbox import Event
from puppies.outages import missing_service
from puppies.settings import Settings
from workers.context import WorkerContext, arq_redis, resources
from workers.errors import RegistryError
from workers.telemetry import Origin, event_origin, instrument

ConsumerFn = Callable[[WorkerContext, Event], Awaitable[None]]
JobFn = Callable[..., Awaitable[Any]]
HookFn = Callable[[WorkerContext], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

log = logging.getLogger(__name__)

# Seconds before a consumer job that met an outage is tried again, by the try that failed;
# the last one for every later try.
OUTAGE_RETRY_SECONDS = (5.0, 10.0, 20.0, 40.0, 60.0)


def outage_retry_delay(job_try: int) -> float:
    """5, 10, 20, 40, then 60 s: a restart or a fail-over is over within the first tries,
    and the 10 tries of a consumer span about 7 minutes."""
    return OUTAGE_RETRY_SECONDS[min(max(job_try, 1), len(OUTAGE_RETRY_SECONDS)) - 1]


# The job that runs every consumer of one outbox event (an event with two or more consumers:
# a like's notification and analytics record, a follow's three), instead of one job each.
EVENT_JOB = "outbox.event"


def consumer_job_id(event_id: str, consumer_name: str) -> str:
    """The deterministic job id of one consumer's job for one event."""
    return f"{event_id}:{consumer_name}"


def event_job_id(event_id: str) -> str:
    """The deterministic job id of an event's `EVENT_JOB`."""
    return f"{event_id}:{EVENT_JOB}"


def _default_name(fn: Callable[..., Any]) -> str:
    module = fn.__module__.rsplit(".", 1)[-1]
    return f"{module}.{fn.__name__}"


@dataclass(frozen=True)
class Consumer:
    event_type: str
    name: str
    fn: ConsumerFn


@dataclass(frozen=True)
class Periodic:
    name: str
    fn: HookFn
    interval: Callable[[Settings], float]
    # A PostgreSQL NOTIFY channel: run when it is notified (at most every `interval`), and
    # without a notification only every `idle` seconds (a fallback), not every `interval`.
    wake: str | None = None
    idle: Callable[[Settings], float] | None = None


@dataclass
class Registry:
    consumers: dict[str, list[Consumer]] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    cron_jobs: list[CronJob] = field(default_factory=list)
    periodics: list[Periodic] = field(default_factory=list)
    startup: list[HookFn] = field(default_factory=list)
    shutdown: list[HookFn] = field(default_factory=list)

    def _add_function(
        self,
        name: str,
        coroutine: Callable[..., Awaitable[Any]],
        *,
        max_tries: int | None,
        timeout: float | None,
        origin: Origin | None = None,
    ) -> None:
        if name in self.functions:
            raise RegistryError(f"job {name!r} is registered twice")
        self.functions[name] = func(
            instrument(name, coroutine, origin),  # type: ignore[arg-type]
            name=name,
            max_tries=max_tries,
            timeout=timeout,
        )

    def consumer(
        self,
        event_type: str,
        *,
        name: str | None = None,
        max_tries: int = 10,
        timeout: float | None = 120,
    ) -> Callable[[ConsumerFn], ConsumerFn]:
        """Register `fn(ctx, event)` to run once per committed `event_type` outbox row.

        Delivery is at least once (a relay crash may re-enqueue; a job that fails because
        a backing service is unreachable, `puppies.outages`, is tried again after
        `outage_retry_delay`, up to `max_tries`; any other exception fails it for good):
        make the consumer idempotent, e.g. with `workers.idempotency`.
        """

        def register(fn: ConsumerFn) -> ConsumerFn:
            job_name = name or _default_name(fn)

            @functools.wraps(fn)
            async def run(ctx: WorkerContext, event: dict[str, Any]) -> None:
                try:
                    await fn(ctx, Event.from_dict(event))
                except Exception as exc:
                    # arq retries only a job that raises Retry: without this, a consumer
                    # whose PostgreSQL, Redis or S3 was away failed for good
                    missing = missing_service(exc)
                    if missing is None:
                        raise
                    job_try = int(ctx.get("job_try") or 1)
                    delay = outage_retry_delay(job_try)
                    log.warning(
                        "%s: %s is unreachable (try %d of %d); trying again in %.0f s: %s",
                        job_name,
                        missing,
                        job_try,
                        max_tries,
                        delay,
                        exc,
                    )
                    raise Retry(defer=delay) from exc

            self._add_function(
                job_name, run, max_tries=max_tries, timeout=timeout, origin=event_origin
            )
            self.consumers.setdefault(event_type, []).append(
                Consumer(event_type=event_type, name=job_name, fn=fn)
            )
            self._register_event_job()
            return fn

        return register

    def _register_event_job(self) -> None:
        """(Re-)register `EVENT_JOB` with a timeout above every consumer's: each consumer
        in it runs under its own timeout (`run_event`)."""
        longest = max(
            (self.functions[c.name].timeout_s or 0.0 for cs in self.consumers.values() for c in cs),
            default=0.0,
        )
        self.functions[EVENT_JOB] = func(
            self.run_event,
            name=EVENT_JOB,
            max_tries=10,
            timeout=longest + 10.0,
        )

    async def run_event(self, ctx: WorkerContext, event: dict[str, Any]) -> None:
        """`EVENT_JOB`: run every consumer of `event` at once, each as its own job would run
        (the same instrumented function: span, request id, metrics, outage -> Retry; its own
        timeout; `ctx["job_id"]` its own job id).

        One arq job per event instead of one per consumer: arq's bookkeeping (the poll's
        reservation, the job fetch, the finish with its kept result, and the relay's
        enqueue) is paid once per event. A consumer that fails does not fail the others:
        - an outage (`Retry`): its own job is queued, `consumer_job_id`, with the delay the
          consumer asked for and the next try number, so it is retried exactly as it would
          have been alone (up to its own `max_tries`);
        - any other exception, or its timeout: it fails for good (logged; counted by its
          instrumentation), as its own job would have.
        Only when such a hand-over cannot be queued (Redis away) does this job raise, and
        arq runs it again later (every consumer again: they are idempotent). A worker killed
        meanwhile: the whole job runs again once its lease lapses."""
        event_id = str(event.get("id"))
        event_type = str(event.get("type"))
        consumers = self.consumers_for(event_type)
        job_try = int(ctx.get("job_try") or 1)

        async def one(consumer: Consumer) -> Retry | None:
            function = self.functions[consumer.name]
            own = {**ctx, "job_id": consumer_job_id(event_id, consumer.name)}
            try:
                async with asyncio.timeout(function.timeout_s):  # no task of its own
                    await function.coroutine(own, event)
            except Retry as retry:
                return retry
            except TimeoutError:
                log.error(
                    "%s of %s timed out after %s s", consumer.name, event_id, function.timeout_s
                )
            except Exception:
                log.exception("%s of %s failed", consumer.name, event_id)
            return None

        outcomes = await asyncio.gather(*(one(c) for c in consumers))
        handovers = [(c, r) for c, r in zip(consumers, outcomes, strict=True) if r is not None]
        if not handovers:
            return
        redis = arq_redis(ctx)
        queue = resources(ctx).settings.worker_queue_name
        try:
            for consumer, retry in handovers:
                await redis.enqueue_job(
                    consumer.name,
                    event,
                    _job_id=consumer_job_id(event_id, consumer.name),
                    _queue_name=queue,
                    _defer_by=(retry.defer_score or 0) / 1000,
                    _job_try=job_try + 1,
                )
        except Exception as exc:
            missing = missing_service(exc)
            if missing is None:
                raise
            delay = outage_retry_delay(job_try)
            log.warning(
                "%s of %s: %s is unreachable, its retries not queued; the event runs again "
                "in %.0f s: %s",
                EVENT_JOB,
                event_id,
                missing,
                delay,
                exc,
            )
            raise Retry(defer=delay) from exc

    def job(
        self, *, name: str | None = None, max_tries: int = 5, timeout: float | None = 300
    ) -> Callable[[F], F]:
        """Register a plain arq job, enqueued by name (`ArqRedis.enqueue_job`)."""

        def register(fn: F) -> F:
            self._add_function(name or _default_name(fn), fn, max_tries=max_tries, timeout=timeout)
            return fn

        return register

    def cron(
        self,
        *,
        name: str | None = None,
        run_at_startup: bool = False,
        timeout: float | None = 300,
        **when: Any,
    ) -> Callable[[F], F]:
        """Register an arq cron job (`minute=`, `second=`, ... as `arq.cron.cron` takes)."""

        def register(fn: F) -> F:
            job_name = name or _default_name(fn)
            self.cron_jobs.append(
                cron(
                    instrument(job_name, fn),  # type: ignore[arg-type]
                    name=job_name,
                    run_at_startup=run_at_startup,
                    timeout=timeout,
                    unique=True,
                    **when,
                )
            )
            return fn

        return register

    def periodic(
        self,
        interval: Callable[[Settings], float],
        *,
        name: str | None = None,
        wake: str | None = None,
        idle: Callable[[Settings], float] | None = None,
    ) -> Callable[[HookFn], HookFn]:
        """Register `fn(ctx)` to run every `interval(settings)` seconds in the worker process.

        For sub-minute work (counter flushes). Across several worker processes one run at a
        time holds a Redis lock, so the task behaves as a singleton. With `wake` (a
        PostgreSQL NOTIFY channel a trigger notifies when there is work), it runs when
        notified, at most every `interval`, and otherwise every `idle(settings)` seconds.
        """

        def register(fn: HookFn) -> HookFn:
            self.periodics.append(
                Periodic(
                    name=name or _default_name(fn), fn=fn, interval=interval, wake=wake, idle=idle
                )
            )
            return fn

        return register

    def on_startup(self, fn: HookFn) -> HookFn:
        self.startup.append(fn)
        return fn

    def on_shutdown(self, fn: HookFn) -> HookFn:
        self.shutdown.append(fn)
        return fn

    def consumers_for(self, event_type: str) -> list[Consumer]:
        return self.consumers.get(event_type, [])


REGISTRY = Registry()
