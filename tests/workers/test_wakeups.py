"""Work that waits for rows is woken by them, not by a clock (real PostgreSQL and Redis):

- the arq worker asks Redis for jobs when the relay in its process queued some, not every
  50 ms: with a 60 s idle poll, an outbox event's job still runs at once;
- the analytics roll-up runs when a statement queued events (the trigger's NOTIFY at
  commit), not every 100 ms: with a 60 s fallback it runs once per notification and not
  in between;
- a LISTEN connection that comes back wakes every subscriber (rows committed while nobody
  listened are caught up at once).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from models.analytics import ROLLUP_CHANNEL
from models.db import Database
from models.outbox import Event, emit
from puppies.settings import Settings
from resolvers.runtime import Resources
from tests.support.polling import eventually
from workers.context import WorkerContext
from workers.listen import Listener
from workers.main import _run_periodic, build_worker
from workers.registry import Periodic, Registry


@pytest.fixture
async def ctx(clean: Settings) -> AsyncIterator[WorkerContext]:
    res = Resources.open(clean)
    try:
        yield {"resources": res}
    finally:
        await res.close()


@contextlib.asynccontextmanager
async def _running(*coroutines: Coroutine[Any, Any, Any]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t


async def test_the_relay_rings_the_worker_s_doorbell(clean: Settings) -> None:
    settings = clean.model_copy(update={"worker_idle_poll_seconds": 10.0})
    ran: list[str] = []
    reg = Registry()

    @reg.consumer("test.doorbell", name="test.doorbell")
    async def consume(_ctx: WorkerContext, event: Event) -> None:
        ran.append(event.id)

    worker = build_worker(settings, reg)
    db = Database(settings)
    try:
        async with _running(worker.main()):
            await eventually(lambda: "relay" in worker.ctx)
            await asyncio.sleep(0.5)  # the first polls are done: the worker waits now
            async with db.transaction() as session:
                row = await emit(session, "posts", "test.doorbell", {}, aggregate_id=1)
            await eventually(lambda: ran, timeout=5)  # well under one idle poll (10 s)
            assert ran == [f"posts:{row}"]
    finally:
        await worker.close()
        await db.dispose()


async def test_the_roll_up_runs_when_events_are_queued_not_on_a_clock(
    ctx: WorkerContext, clean: Settings
) -> None:
    listener = Listener(clean)
    ctx["listener"] = listener
    runs: list[float] = []

    async def run(_ctx: WorkerContext) -> None:
        runs.append(asyncio.get_running_loop().time())

    task = Periodic("test.woken", run, lambda s: 0.05, wake=ROLLUP_CHANNEL, idle=lambda s: 60.0)
    db = ctx["resources"].db
    async with _running(_run_periodic(ctx, task), listener.run()):
        await eventually(lambda: listener.connected.is_set() and runs)
        await asyncio.sleep(0.6)  # the first pass(es): on subscribe, on connect
        settled = len(runs)
        assert settled <= 2
        await asyncio.sleep(0.6)
        assert len(runs) == settled  # no run every 50 ms without a notification
        async with db.transaction() as session:  # two rows, one statement, one NOTIFY
            await session.execute(
                text(
                    "INSERT INTO analytics.rollup_queue (type, occurred_at, post_id) "
                    "VALUES ('POST_VIEW', :t, 1), ('POST_VIEW', :t, 2)"
                ),
                {"t": datetime.now(UTC)},
            )
        await eventually(lambda: len(runs) == settled + 1)
        await asyncio.sleep(0.6)
        assert len(runs) == settled + 1


async def test_a_rolled_back_insert_notifies_nobody(clean: Settings) -> None:
    assert clean.database_url
    dsn = clean.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    got: list[str] = []
    conn = await asyncpg.connect(dsn)
    db = Database(clean)
    try:
        await conn.add_listener(ROLLUP_CHANNEL, lambda *args: got.append(args[2]))
        with pytest.raises(RuntimeError):
            async with db.transaction() as session:
                await session.execute(
                    text(
                        "INSERT INTO analytics.rollup_queue (type, occurred_at) "
                        "VALUES ('POST_VIEW', now())"
                    )
                )
                raise RuntimeError("rolled back")
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO analytics.rollup_queue (type, occurred_at) "
                    "VALUES ('POST_VIEW', now())"
                )
            )
        await eventually(lambda: got, timeout=10)
        await asyncio.sleep(0.3)
        assert got == [ROLLUP_CHANNEL]  # the committed insert's, once
    finally:
        await conn.close()
        await db.dispose()


async def test_a_reconnected_listener_wakes_every_subscriber(clean: Settings) -> None:
    listener = Listener(clean)
    outbox, rollup = listener.subscribe("puppies_outbox"), listener.subscribe(ROLLUP_CHANNEL)
    async with _running(listener.run()):
        await eventually(listener.connected.is_set)
        outbox.clear()
        rollup.clear()
        assert listener._conn is not None
        await listener._conn.close()  # the connection drops (as when PostgreSQL restarts)
        await eventually(lambda: outbox.is_set() and rollup.is_set())


async def test_a_channel_subscribed_while_listening_is_listened_to(clean: Settings) -> None:
    listener = Listener(clean)
    listener.subscribe("puppies_outbox")
    db = Database(clean)
    try:
        async with _running(listener.run()):
            await eventually(listener.connected.is_set)
            late = listener.subscribe("puppies_test_late")
            assert late.is_set()  # a new subscriber's first pass does not wait
            late.clear()
            await asyncio.sleep(0.3)  # its LISTEN reaches the server
            async with db.transaction() as session:
                await session.execute(text("SELECT pg_notify('puppies_test_late', '')"))
            await eventually(late.is_set, timeout=10)
    finally:
        await db.dispose()


async def test_a_wake_says_which_payloads_woke_it(clean: Settings) -> None:
    listener = Listener(clean)
    wake = listener.subscribe("puppies_test_payloads")
    db = Database(clean)
    try:
        async with _running(listener.run()):
            await eventually(listener.connected.is_set)
            assert wake.take()[0] is True  # the first pass (and the connect) look at all
            assert wake.take() == (False, set())
            async with db.transaction() as session:
                for payload in ("posts", "users", "posts"):
                    await session.execute(
                        text("SELECT pg_notify('puppies_test_payloads', :p)"), {"p": payload}
                    )
            await eventually(lambda: wake.payloads == {"posts", "users"}, timeout=10)
            assert wake.is_set()
            assert wake.take() == (False, {"posts", "users"})
            assert not wake.is_set()
    finally:
        await db.dispose()
