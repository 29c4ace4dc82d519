"""Periodic tasks: one run at a time across processes, and a lock that outlived its run is
never released on behalf of its new owner (redis-py's Lock, released by token). A task run
every few seconds or less often takes the lock for each run; one run more often keeps it
between runs (renewed, released when it stops)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from puppies.settings import Settings
from resolvers.runtime import Resources
from workers.context import WorkerContext
from workers.main import KEEP_LOCK_MAX_INTERVAL, PERIODIC_LOCK_PREFIX, _run_periodic
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
    interval = KEEP_LOCK_MAX_INTERVAL + 0.5  # a lock per run
    runner = asyncio.create_task(_run_periodic(ctx, Periodic("test.held", run, lambda s: interval)))
    try:
        while not runs:
            await asyncio.sleep(0.01)
        # not before the other holder's lock lapsed (its first try found it held)
        assert runs[0] - started >= 0.25
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


async def _runs(
    ctx: WorkerContext, name: str, interval: float, runs: list[str], label: str
) -> asyncio.Task[None]:
    async def run(_ctx: WorkerContext) -> None:
        runs.append(label)

    return asyncio.create_task(_run_periodic(ctx, Periodic(name, run, lambda s: interval)))


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_frequent_task_keeps_its_lock_between_runs_and_releases_it_when_stopped(
    ctx: WorkerContext,
) -> None:
    res = ctx["resources"]
    key = PERIODIC_LOCK_PREFIX + "test.kept"
    runs: list[str] = []
    runner = await _runs(ctx, "test.kept", 0.02, runs, "a")
    try:
        while len(runs) < 3:
            await asyncio.sleep(0.01)
        token = await res.redis.get(key)
        assert token is not None
        seen = set()
        for _ in range(50):  # never free between runs, and always the same holder
            seen.add(await res.redis.get(key))
            await asyncio.sleep(0.005)
        assert seen == {token}
        assert 0 < await res.redis.pttl(key) <= 7500
    finally:
        await _stop(runner)
    assert await res.redis.get(key) is None  # released at stop: another may take over


async def test_one_process_runs_a_frequent_task_and_another_takes_over_when_it_stops(
    ctx: WorkerContext,
) -> None:
    runs: list[str] = []
    first = await _runs(ctx, "test.single", 0.02, runs, "first")
    try:
        while not runs:
            await asyncio.sleep(0.01)
        second = await _runs(ctx, "test.single", 0.02, runs, "second")
        try:
            await asyncio.sleep(1.0)
            assert "second" not in runs and runs.count("first") > 5
            await _stop(first)
            deadline = asyncio.get_running_loop().time() + 20
            while "second" not in runs:
                assert asyncio.get_running_loop().time() < deadline, "no take-over"
                await asyncio.sleep(0.02)
        finally:
            await _stop(second)
    finally:
        await _stop(first)


async def test_a_kept_lock_that_lapsed_and_was_taken_is_not_renewed_over_its_new_owner(
    ctx: WorkerContext,
) -> None:
    res = ctx["resources"]
    key = PERIODIC_LOCK_PREFIX + "test.lapsed"
    runs: list[str] = []
    runner = await _runs(ctx, "test.lapsed", 0.02, runs, "a")
    try:
        while not runs:
            await asyncio.sleep(0.01)
        # The kept lock lapsed and another process took it (simulated): at its next
        # renewal (a third of 7.5 s) this process finds it is not the owner and stops.
        await res.redis.set(key, b"someone-else", px=60_000)
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            before = len(runs)
            await asyncio.sleep(0.5)
            if len(runs) == before:
                break
            assert asyncio.get_running_loop().time() < deadline, "it kept running"
        assert await res.redis.get(key) == b"someone-else"
    finally:
        await _stop(runner)
    assert await res.redis.get(key) == b"someone-else"  # not released on its behalf
