"""The worker process freezes its start-up heap out of garbage collection, as the subgraphs
do (workers/main.py, GC_THRESHOLDS); a worker built inside another process (a test, an
in-process bench) leaves that process's collector alone. Real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import gc

from puppies.settings import Settings
from tests.support.polling import eventually
from workers.main import GC_THRESHOLDS, build_worker
from workers.registry import Registry


async def _started(settings: Settings, *, freeze_gc: bool) -> tuple[int, tuple[int, int, int]]:
    """(objects frozen, collector thresholds) once the worker's start-up ran."""
    reg = Registry()

    @reg.job(name="test.nothing")
    async def nothing(_ctx: object) -> None:
        return None

    worker = build_worker(settings, reg, freeze_gc=freeze_gc)
    task = asyncio.create_task(worker.main())
    try:
        await eventually(lambda: "relay" in worker.ctx)
        await asyncio.sleep(0.2)  # past the end of start-up
        return gc.get_freeze_count(), gc.get_threshold()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()


async def test_the_worker_process_freezes_its_start_up_heap(clean: Settings) -> None:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        assert await _started(clean, freeze_gc=False) == (0, thresholds)
        frozen, after = await _started(clean, freeze_gc=True)
        assert frozen > 10_000  # modules, mappers, the registry: the whole start-up heap
        assert after == GC_THRESHOLDS
    finally:
        gc.unfreeze()  # the test process's heap is not ours to keep frozen
        gc.set_threshold(*thresholds)
