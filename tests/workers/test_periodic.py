"""Periodic tasks: one run at a time across processes, and a lock that outlived its run is
never released on behalf of its new owner (redis-py's Lock, released by token)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from puppies.settings import Settings
from resolvers.runtime import Resources
from workers.context import WorkerContext
from workers.main import PERIODIC_LOCK_PREFIX, _run_periodic
from workers.registry import Periodic


@pytest.fixture
async def ctx(clean: Settings) -> AsyncIterator[WorkerContext]:
    res = Resources.open(clean)
    try:
        yield {"resources": res}
    finally:
        await res.close()


async def _run_until(ctx: WorkerContext, task: Periodic, done: asyncio.Event) -> None:
    runner = asyncio.create_task(_run_periodic(ctx, task))
    try:
        await asyncio.wait_for(done.wait(), 20)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_a_lock_taken_over_meanwhile_is_left_to_its_new_owner(ctx: WorkerContext) -> None:
    res = ctx["resources"]
    key = PERIODIC_LOCK_PREFIX + "test.takeover"
    done = asyncio.Event()
    seen: list[bytes | None] = []

    async def run(_ctx: WorkerContext) -> None:
        seen.append(await res.redis.get(key))  # our own token while we run
        # Our lock expired and another process took it (simulated): its token, not ours.
        await res.redis.set(key, b"someone-else", px=60_000)
        done.set()

    await _run_until(ctx, Periodic("test.takeover", run, lambda s: 0.05), done)
    assert seen and seen[0] not in (None, b"someone-else")
    assert await res.redis.get(key) == b"someone-else"


async def test_a_held_lock_skips_the_run_and_a_finished_run_releases_it(
    ctx: WorkerContext,
) -> None:
    res = ctx["resources"]
    key = PERIODIC_LOCK_PREFIX + "test.held"
    await res.redis.set(key, b"another-process", px=300)
    runs: list[float] = []

    async def run(_ctx: WorkerContext) -> None:
        runs.append(asyncio.get_running_loop().time())

    started = asyncio.get_running_loop().time()
    runner = asyncio.create_task(_run_periodic(ctx, Periodic("test.held", run, lambda s: 0.05)))
    try:
        while not runs:
            await asyncio.sleep(0.01)
        assert runs[0] - started >= 0.25  # not before the other holder's lock lapsed
        # Released after each run (then taken again at the next interval): it is seen free.
        released = False
        for _ in range(1000):
            if await res.redis.get(key) is None:
                released = True
                break
            await asyncio.sleep(0.005)
        assert released
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
