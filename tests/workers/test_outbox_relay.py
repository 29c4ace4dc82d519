"""The outbox and its relay against real PostgreSQL and Redis (arq's own queue format)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus

from models.db import Database
from models.outbox import Event, emit
from puppies.settings import Settings
from workers.idempotency import AlreadyRunning, claim, once
from workers.registry import EVENT_JOB, Registry
from workers.relay import OutboxRelay, job_id


async def _noop(ctx: dict, event: Event) -> None:  # registered, never run here
    return None


def _registry() -> Registry:
    reg = Registry()
    reg.consumer("test.happened", name="test.first")(_noop)
    reg.consumer("test.happened", name="test.second")(_noop)
    return reg


@pytest.fixture
async def db(clean: Settings) -> AsyncIterator[Database]:
    database = Database(clean)
    yield database
    await database.dispose()


async def _queued(redis: ArqRedis, settings: Settings) -> list[str]:
    return [j.decode() for j in await redis.zrange(settings.worker_queue_name, 0, -1)]


async def test_rolled_back_event_is_never_relayed(db, pool, settings):
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await emit(session, "posts", "test.happened", {"n": 1}, aggregate_id=1)
            raise RuntimeError("the change failed")
    relay = OutboxRelay(settings, db, pool, _registry())
    assert await relay.relay_once() == 0
    assert await _queued(pool, settings) == []


async def test_committed_event_becomes_one_job_once(db, pool, settings):
    """One job per event: its two consumers run in one `outbox.event` job
    (tests/workers/test_event_jobs.py runs it)."""
    async with db.transaction() as session:
        row = await emit(session, "posts", "test.happened", {"n": 1}, aggregate_id=7)
        await emit(session, "posts", "nobody.listens", {}, aggregate_id=8)
    relay = OutboxRelay(settings, db, pool, _registry())
    assert await relay.relay_once() == 2
    queued = sorted(await _queued(pool, settings))
    assert queued == [f"posts:{row}:{EVENT_JOB}"]
    job = Job(queued[0], pool, _queue_name=settings.worker_queue_name)
    info = await job.info()
    assert info is not None and info.function == EVENT_JOB
    event = Event.from_dict(info.args[0])
    assert (event.id, event.type, event.aggregate_id, event.payload) == (
        f"posts:{row}",
        "test.happened",
        7,
        {"n": 1},
    )
    # A second pass finds nothing: rows are marked dispatched in the same transaction.
    assert await relay.relay_once() == 0
    assert len(await _queued(pool, settings)) == 1


async def test_redispatch_after_a_crash_does_not_duplicate_jobs(db, pool, settings):
    """A relay that enqueued and died before committing its mark: the rows come back."""
    async with db.transaction() as session:
        row = await emit(session, "posts", "test.happened", {}, aggregate_id=1)
    relay = OutboxRelay(settings, db, pool, _registry())
    assert await relay.relay_once() == 1
    async with db.transaction() as session:  # undo the mark, as a crash before commit would
        from sqlalchemy import text

        await session.execute(text("UPDATE posts.outbox SET dispatched_at = NULL"))
    assert await relay.relay_once() == 1
    queued = await _queued(pool, settings)
    assert queued == [f"posts:{row}:{EVENT_JOB}"]
    status = await Job(queued[0], pool, _queue_name=settings.worker_queue_name).status()
    assert status == JobStatus.queued


async def test_concurrent_relays_share_rows_without_overlap(db, pool, settings):
    async with db.transaction() as session:
        for i in range(300):
            await emit(session, "posts", "test.happened", {"i": i}, aggregate_id=i)
    reg = _registry()
    small = settings.model_copy(update={"outbox_batch_size": 25})
    relays = [OutboxRelay(small, db, pool, reg) for _ in range(3)]
    counts = await asyncio.gather(*(r.relay_once() for r in relays))
    assert sum(counts) == 300
    assert len(await _queued(pool, settings)) == 300


async def test_notify_wakes_the_relay_without_waiting_for_the_poll(db, pool, settings):
    slow_poll = settings.model_copy(update={"outbox_poll_interval_seconds": 60.0})
    relay = OutboxRelay(slow_poll, db, pool, _registry())
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)  # first pass done, LISTEN connected
        async with db.transaction() as session:
            row = await emit(session, "posts", "test.happened", {}, aggregate_id=1)
        for _ in range(100):
            if f"posts:{row}:{EVENT_JOB}" in await _queued(pool, settings):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the relay did not wake on NOTIFY (poll interval was 60 s)")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_notified_pass_drains_only_the_outboxes_it_names(db, pool, settings):
    """A notification names its schema: the pass it starts drains that outbox alone; the
    first pass and the fallback poll drain every outbox."""
    async with db.transaction() as session:
        post_row = await emit(session, "posts", "test.happened", {}, aggregate_id=1)
        user_row = await emit(session, "users", "test.happened", {}, aggregate_id=2)
    relay = OutboxRelay(settings, db, pool, _registry())
    assert await relay.relay_once({"posts"}) == 1
    assert await _queued(pool, settings) == [f"posts:{post_row}:{EVENT_JOB}"]
    assert await relay.relay_once({"feed"}) == 0  # nothing pending there
    assert await relay.relay_once() == 1  # every outbox: the users row
    assert f"users:{user_row}:{EVENT_JOB}" in await _queued(pool, settings)


async def test_a_running_relay_relays_each_notified_outbox_and_polls_the_rest(db, pool, settings):
    """Under `run()`: a row whose notification is lost (its trigger off, as for a NOTIFY
    that never arrives) waits for the fallback poll; a notified one goes at once."""
    fast_poll = settings.model_copy(update={"outbox_poll_interval_seconds": 1.0})
    relay = OutboxRelay(fast_poll, db, pool, _registry())
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)  # first pass done, LISTEN connected
        async with db.transaction() as session:
            from sqlalchemy import text

            await session.execute(text("ALTER TABLE users.outbox DISABLE TRIGGER outbox_notify"))
            silent = await emit(session, "users", "test.happened", {}, aggregate_id=3)
            await session.execute(text("ALTER TABLE users.outbox ENABLE TRIGGER outbox_notify"))
        async with db.transaction() as session:
            loud = await emit(session, "posts", "test.happened", {}, aggregate_id=4)
        for _ in range(400):
            queued = await _queued(pool, settings)
            if f"posts:{loud}:{EVENT_JOB}" in queued and f"users:{silent}:{EVENT_JOB}" in queued:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the relay did not relay both rows (notified and polled)")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_claim_marks_an_event_once_per_consumer(db):
    event = Event(id="posts:1", type="test.happened", schema="posts", aggregate_id=None)
    async with db.transaction() as session:
        assert await claim(session, "posts", "c1", event) is True
    async with db.transaction() as session:
        assert await claim(session, "posts", "c1", event) is False
        assert await claim(session, "posts", "c2", event) is True
    with pytest.raises(RuntimeError):  # a rolled-back claim leaves no mark
        async with db.transaction() as session:
            assert await claim(session, "posts", "c3", event) is True
            raise RuntimeError("effect failed")
    async with db.transaction() as session:
        assert await claim(session, "posts", "c3", event) is True


async def test_once_runs_a_block_once_and_not_after_a_failure(pool):
    runs = 0
    with pytest.raises(ValueError):
        async with once(pool, "k1") as first:
            assert first
            raise ValueError("side effect failed")
    async with once(pool, "k1") as first:  # the failure left it undone
        assert first
        runs += 1
    async with once(pool, "k1") as first:
        assert not first
    assert runs == 1
    await pool.set("puppies:lease:k2", b"1", ex=60)
    with pytest.raises(AlreadyRunning):
        async with once(pool, "k2"):
            pass


def test_job_ids_are_deterministic():
    e = Event(id="posts:42", type="x", schema="posts", aggregate_id=None)
    assert job_id(e, "feed.fan_out") == "posts:42:feed.fan_out"
