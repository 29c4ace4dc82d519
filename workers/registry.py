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

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from arq.cron import CronJob, cron
from arq.worker import Function, func

from models.outbox import Event
from puppies.settings import Settings
from workers.context import WorkerContext
from workers.errors import RegistryError
from workers.telemetry import Origin, event_origin, instrument

ConsumerFn = Callable[[WorkerContext, Event], Awaitable[None]]
JobFn = Callable[..., Awaitable[Any]]
HookFn = Callable[[WorkerContext], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


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

        Delivery is at least once (arq retries; a relay crash may re-enqueue): make the
        consumer idempotent, e.g. with `workers.idempotency`.
        """

        def register(fn: ConsumerFn) -> ConsumerFn:
            job_name = name or _default_name(fn)

            @functools.wraps(fn)
            async def run(ctx: WorkerContext, event: dict[str, Any]) -> None:
                await fn(ctx, Event.from_dict(event))

            self._add_function(
                job_name, run, max_tries=max_tries, timeout=timeout, origin=event_origin
            )
            self.consumers.setdefault(event_type, []).append(
                Consumer(event_type=event_type, name=job_name, fn=fn)
            )
            return fn

        return register

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
        self, interval: Callable[[Settings], float], *, name: str | None = None
    ) -> Callable[[HookFn], HookFn]:
        """Register `fn(ctx)` to run every `interval(settings)` seconds in the worker process.

        For sub-minute work (counter flushes). Across several worker processes one run at a
        time holds a Redis lock, so the task behaves as a singleton.
        """

        def register(fn: HookFn) -> HookFn:
            self.periodics.append(
                Periodic(name=name or _default_name(fn), fn=fn, interval=interval)
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
