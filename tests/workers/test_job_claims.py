"""How the worker takes jobs off the queue (workers/main.py, `_Worker.start_jobs`): one Lua
script per poll reserves every due job no other worker holds, as arq's WATCH/MULTI did per
job; real Redis and a real arq worker."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, result_key_prefix

from puppies.settings import Settings
from tests.support.polling import eventually
from workers.context import WorkerContext
from workers.main import build_worker
from workers.registry import Registry


async def test_a_poll_takes_due_free_jobs_and_leaves_the_others(
    clean: Settings, pool: ArqRedis
) -> None:
    settings = clean.model_copy(update={"worker_idle_poll_seconds": 0.2, "worker_max_jobs": 3})
    ran: list[str] = []
    reg = Registry()

    @reg.job(name="test.record")
    async def record(_ctx: WorkerContext, label: str) -> None:
        ran.append(label)

    queue = settings.worker_queue_name
    # held by another worker: its in-progress key exists
    await pool.set(in_progress_key_prefix + "held", b"1", px=60_000)
    for label in ("held", "free-1", "free-2", "free-3", "free-4", "free-5"):
        await pool.enqueue_job("test.record", label, _job_id=label, _queue_name=queue)
    await pool.enqueue_job("test.record", "later", _job_id="later", _queue_name=queue, _defer_by=4)

    worker = build_worker(settings, reg)
    slots = worker.sem._value
    task = asyncio.create_task(worker.main())
    try:
        # more due jobs than slots (3): every free one runs, over several polls
        await eventually(lambda: len(ran) == 5)
        assert sorted(ran) == [f"free-{i}" for i in range(1, 6)]
        await asyncio.sleep(1.0)
        assert "held" not in ran and "later" not in ran
        await pool.delete(in_progress_key_prefix + "held")  # the other worker let go
        await eventually(lambda: "held" in ran and "later" in ran)  # the deferred one in time
        assert sorted(ran).count("held") == 1
        # every slot came back: nothing runs, nothing is reserved
        await eventually(lambda: not any(not t.done() for t in worker.tasks.values()))
        await eventually(lambda: worker.job_counter == 0)
        assert worker.sem._value == slots
        assert await pool.zcard(queue) == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()


async def test_a_job_another_worker_took_meanwhile_is_not_run_twice(
    clean: Settings, pool: ArqRedis
) -> None:
    """Two workers polling the same queue: every job runs once."""
    settings = clean.model_copy(update={"worker_idle_poll_seconds": 0.05, "worker_max_jobs": 5})
    ran: list[str] = []
    reg = Registry()

    @reg.job(name="test.count")
    async def count(_ctx: WorkerContext, label: str) -> Any:
        ran.append(label)
        await asyncio.sleep(0.01)

    workers = [build_worker(settings, reg) for _ in range(2)]
    tasks = [asyncio.create_task(w.main()) for w in workers]
    try:
        await asyncio.sleep(0.5)
        labels = [f"j{i}" for i in range(60)]
        for label in labels:
            await pool.enqueue_job(
                "test.count", label, _job_id=label, _queue_name=settings.worker_queue_name
            )
        await eventually(lambda: len(ran) >= 60)
        await asyncio.sleep(0.5)
        assert sorted(ran) == sorted(labels)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for w in workers:
            await w.close()


async def test_a_finished_jobs_result_is_kept_for_the_configured_time(
    clean: Settings, pool: ArqRedis
) -> None:
    """WORKER_KEEP_RESULT_SECONDS: a result is kept (the relay refuses the id meanwhile) for
    that long, then Redis forgets it; an hour of results was most of Redis's memory in the
    soak."""
    settings = clean.model_copy(
        update={"worker_idle_poll_seconds": 0.05, "worker_keep_result_seconds": 7}
    )
    reg = Registry()

    @reg.job(name="test.noop")
    async def noop(_ctx: WorkerContext) -> None:
        return None

    await pool.enqueue_job("test.noop", _job_id="kept", _queue_name=settings.worker_queue_name)
    worker = build_worker(settings, reg)
    task = asyncio.create_task(worker.main())
    try:
        key = result_key_prefix + "kept"
        await eventually(lambda: pool.exists(key), timeout=30, interval=0.05)
        ttl_ms = await pool.pttl(key)
        assert 0 < ttl_ms <= 7_000
        # while kept, the same id is refused (what the relay relies on)
        again = await pool.enqueue_job(
            "test.noop", _job_id="kept", _queue_name=settings.worker_queue_name
        )
        assert again is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()
