"""The worker process (`puppies worker`): one arq Worker plus the outbox relay.

`run(settings)` imports every domain's worker module (each registers its jobs, consumers,
crons and periodic tasks on `workers.registry.REGISTRY`), builds an arq Worker with all of
them, and starts the outbox relay and the periodic tasks as background tasks of the same
event loop. SIGTERM/SIGINT stop it gracefully (arq's handlers); SIGKILL loses nothing that
was committed (see workers/relay.py and docs/events.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import importlib
import importlib.util
import logging
from collections.abc import Coroutine
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from puppies.memory import release_free_memory
from puppies.observability import metrics
from puppies.observability.health import Readiness
from puppies.observability.logs import configure_process_logging
from puppies.observability.tracing import configure_tracing, untraced
from puppies.settings import Settings
from resolvers.runtime import Resources
from workers.context import WorkerContext, arq_redis, resources
from workers.http import HealthServer
from workers.listen import Listener, Wake
from workers.registry import REGISTRY, Periodic, Registry
from workers.relay import OutboxRelay
from workers.telemetry import keep_gauges_fresh

log = logging.getLogger(__name__)

# Domain worker modules, imported when they exist (a domain may not be built yet).
DOMAIN_MODULES = (
    "workers.users",
    "workers.posts",
    "workers.feed",
    "workers.analytics",
    "workers.privacy",
)
PERIODIC_LOCK_PREFIX = "puppies:periodic:"
# How often the worker gives the memory glibc keeps free back to the OS (_release_memory).
RELEASE_MEMORY_SECONDS = 60.0
# Garbage collection in the worker process, as in the subgraphs (subgraphs/common/app.py):
# after start-up the long-lived heap (modules, mappers, the registry, pools) is frozen out of
# collection, and the young generation is collected every 20,000 allocations instead of 700
# (a job allocates statements, rows, events and spans by the thousand).
GC_THRESHOLDS = (20_000, 20, 50)


def load_domains(modules: tuple[str, ...] = DOMAIN_MODULES) -> Registry:
    for name in modules:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return REGISTRY


# A task run at least this often keeps its lock between runs (`_Lease`).
KEEP_LOCK_MAX_INTERVAL = 2.0


class _Lease:
    """A periodic task's Redis lock (redis-py's Lock: SET NX PX with a random token; renewed
    and released by Lua scripts that act only while the key still holds this token).

    A task that runs at most every few seconds takes it before each run and releases it
    after. One that runs more often (the roll-up up to ten times a second, the like-count
    flush every second) keeps it between runs: taking and releasing it cost two Redis round
    trips a run, most of what such a run costs when there is nothing to do. The kept lock
    lasts `seconds` (1.5 times the lock time the task would have per run) and is renewed
    before a run once a third of it has passed, so every run starts with at least the lock
    time a run had when it took the lock itself. Another process asks for a lock it did not
    get once per third of that (not every interval), and takes over within `seconds` of the
    holder's death; a stopped holder releases it at once."""

    def __init__(self, redis: Any, name: str, seconds: float, *, keep: bool) -> None:
        self.keep = keep
        self.seconds = seconds * 1.5 if keep else seconds
        self.lock = redis.lock(name, timeout=self.seconds, blocking=False)
        self._fresh_until = 0.0  # loop time until which a kept lock needs no renewal
        self._next_try = 0.0  # loop time before which a process without it does not ask

    @property
    def held(self) -> bool:
        return self.lock.local.token is not None

    async def take(self, now: float) -> bool:
        """True when this process holds the lock for the coming run."""
        if self.keep and self.held:
            if now < self._fresh_until:
                return True
            try:
                await self.lock.reacquire()  # back to its full time, if still ours
                self._fresh_until = now + self.seconds / 3
                return True
            except LockError:  # it lapsed (and may have been taken): not ours any more
                self.lock.local.token = None
        if self.keep and now < self._next_try:
            return False
        if await self.lock.acquire():
            self._fresh_until = now + self.seconds / 3
            return True
        self._next_try = now + self.seconds / 3
        return False

    async def after_run(self) -> None:
        if not self.keep:
            await self.release()

    async def release(self) -> None:
        if self.held:
            with contextlib.suppress(LockError):  # expired meanwhile: not ours
                await self.lock.release()
            self.lock.local.token = None


async def _run_periodic(ctx: WorkerContext, task: Periodic) -> None:
    """Run `task` every interval; a Redis lock keeps one run at a time across processes
    (`_Lease`: a lock that expired and was taken by another process is never released or
    renewed by this one).

    A task with a `wake` channel waits, after its interval, for a notification of that
    channel (or its `idle` seconds): it runs when there is work, not on a clock.

    Untraced (a poll many times a second would start as many traces); measured as a job
    of its name (duration, failures)."""
    res = resources(ctx)
    interval = max(0.01, task.interval(res.settings))
    lease = _Lease(
        res.redis,
        PERIODIC_LOCK_PREFIX + task.name,
        max(5.0, interval * 3),
        keep=interval <= KEEP_LOCK_MAX_INTERVAL,
    )
    duration = metrics.JOB_DURATION.labels(task.name)
    failures = metrics.JOB_FAILURES.labels(task.name)
    wake: Wake | None = None
    idle = interval
    if task.wake is not None:
        listener: Listener = ctx["listener"]
        wake = listener.subscribe(task.wake)
        idle = max(interval, task.idle(res.settings) if task.idle else interval)
    loop = asyncio.get_running_loop()
    try:
        with untraced():
            while True:
                if wake is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), idle)
                    wake.take()
                started = loop.time()
                try:
                    if await lease.take(started):
                        try:
                            await task.fn(ctx)
                        finally:
                            duration.observe(loop.time() - started)
                            await lease.after_run()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    failures.inc()
                    log.exception("periodic task %s failed", task.name)
                elapsed = loop.time() - started
                await asyncio.sleep(max(0.0, interval - elapsed))
    finally:
        with contextlib.suppress(Exception):
            await lease.release()  # another process may take over at once


_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)

# KEYS: the queue, then one in-progress key per job; ARGV: the reservation in ms, now in ms,
# then the job ids (in the keys' order). Returns [job id, score, ...] of the jobs reserved.
_CLAIM_JOBS = """
local claimed = {}
local now = tonumber(ARGV[2])
for i = 2, #KEYS do
  local id = ARGV[i + 1]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) <= now and redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('PSETEX', KEYS[i], ARGV[1], '1')
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = score
  end
end
return claimed
"""


class _Worker(Worker):
    """arq's Worker, which outlives a Redis outage and does not poll an idle queue.

    arq polls Redis every `poll_delay` (two round trips and the cron check each time); at
    the 50 ms it was set to, that was 20 polls a second on an idle queue. Here a poll waits for
    the doorbell (`wake()`: the relay in this process queued jobs, or the previous poll
    read a full page of them) or `idle_poll` seconds, whichever comes first; `poll_delay`
    stays the shortest time between two polls.

    arq's polling loop lets a Redis connection error escape, and the process exits; with
    Redis gone for a while that is a crash loop (and, outside a supervisor, no worker at all
    once Redis is back). Here a poll that cannot reach Redis is logged and tried again a
    second later. Jobs running meanwhile go on; one that cannot record its end is run again
    once its lease lapses (at-least-once, `_renew_job_leases`)."""

    _redis_down_since: float | None = None
    idle_poll = 0.5
    _read = 0  # job ids the last poll read
    # arq's pool has a connect timeout (RedisSettings.conn_timeout) and no read timeout: a
    # frozen Redis hung the poll loop, the lease renewals and every job's Redis call
    socket_timeout: float | None = None

    async def main(self) -> None:
        if self._pool is None and self.socket_timeout is not None:
            pool = await create_pool(
                self.redis_settings,
                job_deserializer=self.job_deserializer,
                job_serializer=self.job_serializer,
                default_queue_name=self.queue_name,
                expires_extra_ms=self.expires_extra_ms,
            )
            # connections made from now on have the timeout; the one create_pool used is
            # closed and forgotten
            pool.connection_pool.connection_kwargs["socket_timeout"] = self.socket_timeout
            await pool.connection_pool.disconnect()
            pool.connection_pool.reset()
            self._pool = pool
        await super().main()

    def wake(self) -> None:
        """Poll now (or as soon as `poll_delay` after the last poll allows)."""
        self._doorbell.set()

    @functools.cached_property
    def _doorbell(self) -> asyncio.Event:
        return asyncio.Event()

    async def _poll_iteration(self) -> None:
        if not self._doorbell.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._doorbell.wait(), self.idle_poll)
        self._doorbell.clear()
        self._read = 0
        try:
            await super()._poll_iteration()
            if self._read >= self.queue_read_limit:
                self.wake()  # a full page: more may be waiting
        except _REDIS_DOWN as exc:
            now = asyncio.get_running_loop().time()
            if self._redis_down_since is None:
                self._redis_down_since = now
                log.warning("Redis is unavailable (%s); the worker waits for it", exc)
            await asyncio.sleep(1.0)
            return
        if self._redis_down_since is not None:
            down = asyncio.get_running_loop().time() - self._redis_down_since
            log.warning("Redis is back after %.1f s; the worker polls again", down)
            self._redis_down_since = None

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """Start the jobs `job_ids` names, as many as there are free slots: ONE round trip.

        arq asks Redis four times per job (WATCH its in-progress key, EXISTS, ZSCORE, then
        MULTI/PSETEX/EXEC); `_CLAIM_JOBS` makes the same check and reservation for every id
        of the poll at once, atomically (a Lua script runs alone, as the transaction did):
        a job is taken when it is still queued, due, and not reserved by another worker.

        The slots (arq's semaphore and counter) are taken before asking and given back for
        every job not taken, and for all of them when Redis fails (arq kept them)."""
        self._read = len(job_ids)
        ids = job_ids[: max(0, self.max_jobs - self.job_counter)]
        if not ids:
            return
        for _ in ids:
            await self.sem.acquire()
        self.job_counter += len(ids)
        names = [job_id.decode() for job_id in ids]
        try:
            claimed = await self._claim_script(
                keys=[self.queue_name, *(in_progress_key_prefix + name for name in names)],
                args=[int(self.in_progress_timeout_s * 1000), timestamp_ms(), *names],
            )
        except BaseException:
            self.job_counter -= len(ids)
            for _ in ids:
                self.sem.release()
            raise
        scores = {
            claimed[i].decode(): int(float(claimed[i + 1])) for i in range(0, len(claimed), 2)
        }
        for name in names:
            score = scores.get(name)
            if score is None:  # finished, re-queued for later, or running elsewhere
                self.job_counter -= 1
                self.sem.release()
                continue
            task = self.loop.create_task(self.run_job(name, score))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[name] = task

    @functools.cached_property
    def _claim_script(self) -> AsyncScript:
        return self.pool.register_script(_CLAIM_JOBS)


async def _renew_job_leases(worker: Worker, redis: ArqRedis, lease: float) -> None:
    """Keep the jobs this process runs reserved for `lease` seconds at a time.

    arq reserves a started job (its "in progress" key) for the longest timeout of any
    function plus 10 s, one hour here (the privacy jobs), and nothing else frees it: a job
    that was running when its worker was SIGKILLed (a fan-out before its first batch, a
    notification, a media job) ran again only an hour later. The worker reserves each job
    for `lease` seconds instead (`in_progress_timeout_s`) and renews the reservation of the
    jobs still running every lease/4 s, so a dead worker's jobs are free again within one
    lease. A job that outlives a stalled renewal may run twice: jobs are at-least-once and
    idempotent anyway (docs/events.md)."""
    ms = int(lease * 1000)
    with untraced():
        while True:
            await asyncio.sleep(lease / 4)
            running = [job_id for job_id, task in worker.tasks.items() if not task.done()]
            if not running:
                continue
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    for job_id in running:
                        pipe.pexpire(in_progress_key_prefix + job_id, ms)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                log.warning("could not renew the leases of %d running jobs: %s", len(running), exc)


async def _release_memory(interval: float) -> None:
    """Every `interval` seconds, give back to the OS what glibc keeps free (malloc_trim).

    The worker's RSS rose in steps that never came down: a burst of jobs (start-up's
    catch-up, a big fan-out, image jobs decoding in asyncio.to_thread's threads, each with
    its own malloc arena) left ~30 MiB free but kept in glibc's arenas, and each new
    high-water mark was a step (bench/RESULTS.md, "Soak, session 21"). Run in a thread:
    it takes tens of milliseconds when there is much to give back, and holds no lock the
    event loop needs except an arena's while trimming it."""
    while True:
        await asyncio.sleep(interval)
        if not await asyncio.to_thread(release_free_memory):
            return  # not glibc's malloc: nothing to do


async def _untraced(coroutine: Coroutine[Any, Any, None]) -> None:
    with untraced():
        await coroutine


def build_worker(
    settings: Settings,
    registry: Registry | None = None,
    *,
    health_port: int | None = None,
    freeze_gc: bool = False,
) -> Worker:
    """The arq Worker with every job, the relay and the periodic tasks; with `health_port`
    it also serves /health and /metrics there (0: any free port). `freeze_gc` (the worker
    process, `run`): at the end of start-up, freeze the heap out of garbage collection and
    collect the young generation less often (GC_THRESHOLDS); not for a worker built inside
    another process (tests, in-process benches), whose heap is not the worker's to freeze."""
    settings.require_services()
    assert settings.redis_url is not None
    reg = registry or load_domains()
    background: list[asyncio.Task[None]] = []

    async def startup(ctx: WorkerContext) -> None:
        with untraced(False):  # an engine made while untraced would never get SQL spans
            res = Resources.open(settings, redis=ctx["redis"])
        ctx["resources"] = res
        if settings.db_pool_prewarm:
            await res.db.warm()
        for hook in reg.startup:
            await hook(ctx)
        listener = Listener(settings)
        ctx["listener"] = listener
        relay = OutboxRelay(
            settings, res.db, arq_redis(ctx), reg, listener=listener, on_enqueued=worker.wake
        )
        ctx["relay"] = relay
        background.append(asyncio.create_task(_untraced(relay.run()), name="outbox-relay"))
        background.append(
            asyncio.create_task(
                keep_gauges_fresh(res.db, res.redis, settings.worker_queue_name),
                name="backlog-gauges",
            )
        )
        for task in reg.periodics:
            background.append(asyncio.create_task(_run_periodic(ctx, task), name=task.name))
        # after every subscribe (the relay's, the periodic tasks' woken by a channel)
        background.append(asyncio.create_task(_untraced(listener.run()), name="listen"))
        background.append(
            asyncio.create_task(
                _renew_job_leases(worker, arq_redis(ctx), settings.worker_job_lease_seconds),
                name="job-leases",
            )
        )
        background.append(
            asyncio.create_task(_release_memory(RELEASE_MEMORY_SECONDS), name="release-memory")
        )
        if health_port is not None:

            async def database() -> None:
                await res.db.ping()

            async def redis() -> None:
                await res.redis.ping()

            health = HealthServer(
                Readiness({"postgresql": database, "redis": redis}), settings.host, health_port
            )
            ctx["health"] = health
            ctx["health_port"] = await health.start()
        if freeze_gc:
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
        worker.wake()  # the first poll (and the start-up crons) without waiting
        log.info(
            "worker started: %d jobs, %d crons, %d periodic tasks, relay on",
            len(reg.functions),
            len(reg.cron_jobs),
            len(reg.periodics),
        )

    async def shutdown(ctx: WorkerContext) -> None:
        health = ctx.get("health")
        if isinstance(health, HealthServer):
            await health.stop()
        for t in background:
            t.cancel()
        for t in background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        background.clear()
        for hook in reg.shutdown:
            with contextlib.suppress(Exception):
                await hook(ctx)
        res = ctx.get("resources")
        if isinstance(res, Resources):
            await res.close()  # arq closes its own Redis connection

    worker = _Worker(
        functions=list(reg.functions.values()),
        cron_jobs=reg.cron_jobs,
        queue_name=settings.worker_queue_name,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        on_startup=startup,
        on_shutdown=shutdown,
        max_jobs=settings.worker_max_jobs,
        keep_result=settings.worker_keep_result_seconds,
        poll_delay=0.02,  # the shortest time between two polls (see _Worker)
        handle_signals=True,
    )
    worker.idle_poll = settings.worker_idle_poll_seconds
    worker.socket_timeout = settings.redis_socket_timeout_seconds
    # each started job reserved for one lease, renewed while it runs (_renew_job_leases)
    worker.in_progress_timeout_s = settings.worker_job_lease_seconds
    return worker


def run(settings: Settings) -> None:
    """Entry point of `puppies worker`."""
    configure_process_logging("worker", settings)
    configure_tracing("worker", environment=settings.environment)
    worker = build_worker(settings, health_port=settings.worker_port, freeze_gc=True)
    with untraced():  # arq's polls are not traced; jobs turn tracing back on
        worker.run()
