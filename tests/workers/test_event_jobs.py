"""An outbox event with several consumers is ONE arq job (`outbox.event`,
`Registry.run_event`) that runs them all; each consumer still succeeds, is retried after an
outage, or fails for good on its own, as its own job would. Real PostgreSQL, Redis, the
relay and an arq worker (workers/main.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.worker import Retry

from models.db import Database
from models.outbox import Event, emit
from puppies.settings import Settings
from resolvers.runtime import Resources
from tests.support.polling import eventually
from workers.context import WorkerContext
from workers.main import build_worker
from workers.registry import EVENT_JOB, Registry, event_job_id
from workers.relay import OutboxRelay, job_id


@pytest.fixture
async def db(clean: Settings) -> AsyncIterator[Database]:
    database = Database(clean)
    yield database
    await database.dispose()


async def _emit(db: Database, event_type: str) -> str:
    async with db.transaction() as session:
        row = await emit(session, "posts", event_type, {"n": 1}, aggregate_id=1)
    return f"posts:{row}"


async def test_the_relay_queues_one_job_per_event(
    settings: Settings, db: Database, pool: ArqRedis
) -> None:
    reg = Registry()

    async def noop(_ctx: WorkerContext, _event: Event) -> None:
        return None

    for name in ("test.a", "test.b", "test.c"):
        reg.consumer("test.many", name=name)(noop)
    reg.consumer("test.one", name="test.alone")(noop)
    many = await _emit(db, "test.many")
    one = await _emit(db, "test.one")
    relay = OutboxRelay(settings, db, pool, reg)
    assert await relay.relay_once() == 2
    queued = sorted(j.decode() for j in await pool.zrange(settings.worker_queue_name, 0, -1))
    # several consumers: one job that runs them all; one consumer: its own job, as before
    assert queued == sorted([f"{many}:{EVENT_JOB}", f"{one}:test.alone"])
    assert event_job_id(many) == f"{many}:{EVENT_JOB}"
    # the event job's timeout covers every consumer's own (each runs under its own)
    assert (
        reg.functions[EVENT_JOB].timeout_s
        == max(reg.functions[n].timeout_s or 0 for n in ("test.a", "test.b", "test.c")) + 10
    )


async def test_each_consumer_of_an_event_job_succeeds_retries_or_fails_on_its_own(
    clean: Settings, db: Database, pool: ArqRedis
) -> None:
    settings = clean.model_copy(update={"worker_idle_poll_seconds": 0.05})
    runs: dict[str, list[tuple[str, int]]] = {"ok": [], "outage": [], "bug": []}
    reg = Registry()

    async def ok(ctx: WorkerContext, event: Event) -> None:
        runs["ok"].append((str(ctx["job_id"]), int(ctx["job_try"])))

    async def outage(ctx: WorkerContext, event: Event) -> None:
        runs["outage"].append((str(ctx["job_id"]), int(ctx["job_try"])))
        if len(runs["outage"]) == 1:  # the first try meets PostgreSQL away
            raise ConnectionRefusedError(111, "Connection refused")

    async def bug(ctx: WorkerContext, event: Event) -> None:
        runs["bug"].append((str(ctx["job_id"]), int(ctx["job_try"])))
        raise ValueError("a bug")

    reg.consumer("test.many", name="test.ok")(ok)
    reg.consumer("test.many", name="test.outage")(outage)
    reg.consumer("test.many", name="test.bug")(bug)
    event_id = await _emit(db, "test.many")
    ev = Event(id=event_id, type="test.many", schema="posts", aggregate_id=1)

    worker = build_worker(settings, reg)
    task = asyncio.create_task(worker.main())
    try:
        # the event's job ran every consumer once, each under its own job id
        await eventually(lambda: pool.exists(result_key_prefix + event_job_id(event_id)))
        assert runs["ok"] == [(job_id(ev, "test.ok"), 1)]
        assert runs["bug"] == [(job_id(ev, "test.bug"), 1)]
        assert runs["outage"] == [(job_id(ev, "test.outage"), 1)]
        # the outage handed over the consumer's own job, deferred by its first delay (5 s)
        # and as its second try
        handover = job_id(ev, "test.outage")
        assert await pool.exists(job_key_prefix + handover)
        score = await pool.zscore(settings.worker_queue_name, handover)
        assert score is not None

        async def retried() -> bool:
            return len(runs["outage"]) == 2

        await eventually(retried, timeout=60)
        assert runs["outage"][1] == (handover, 2)
        await eventually(lambda: pool.exists(result_key_prefix + handover))
        await asyncio.sleep(1.0)
        # nothing else ran again: the bug failed for good, the others succeeded once
        assert len(runs["ok"]) == 1 and len(runs["bug"]) == 1 and len(runs["outage"]) == 2
        assert await pool.zcard(settings.worker_queue_name) == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()


async def test_an_event_job_whose_retry_cannot_be_queued_runs_again(clean: Settings) -> None:
    """A hand-over that cannot reach Redis: the event job itself is retried (Retry), so no
    consumer is lost."""
    reg = Registry()
    calls: list[str] = []

    async def fine(_ctx: WorkerContext, _event: Event) -> None:
        calls.append("fine")

    async def away(_ctx: WorkerContext, _event: Event) -> None:
        calls.append("away")
        raise ConnectionRefusedError(111, "Connection refused")

    reg.consumer("test.many", name="test.fine")(fine)
    reg.consumer("test.many", name="test.away")(away)

    # a real ArqRedis whose server is away (nothing listens on port 1)
    down = ArqRedis(host="127.0.0.1", port=1, socket_connect_timeout=2)
    res = Resources.open(clean)
    ctx: dict[str, Any] = {"job_try": 3, "job_id": "x", "resources": res, "redis": down}
    event = Event(id="posts:9", type="test.many", schema="posts", aggregate_id=1).to_dict()
    try:
        with pytest.raises(Retry) as info:
            await reg.run_event(ctx, event)
        assert sorted(calls) == ["away", "fine"]
        assert (info.value.defer_score or 0) / 1000 == 20.0  # the delay after try 3
    finally:
        await down.aclose()
        await res.close()


async def test_a_consumer_past_its_timeout_fails_alone(caplog: pytest.LogCaptureFixture) -> None:
    """Each consumer runs under its own timeout: the slow one is cancelled and fails for
    good (not retried, as arq fails a job past its timeout); the other one finishes."""
    reg = Registry()
    done: list[str] = []

    async def slow(_ctx: WorkerContext, _event: Event) -> None:
        await asyncio.sleep(30)
        done.append("slow")

    async def quick(_ctx: WorkerContext, _event: Event) -> None:
        done.append("quick")

    reg.consumer("test.many", name="test.slow", timeout=0.2)(slow)
    reg.consumer("test.many", name="test.quick")(quick)
    event = Event(id="posts:5", type="test.many", schema="posts", aggregate_id=1).to_dict()
    started = asyncio.get_running_loop().time()
    await reg.run_event({"job_try": 1, "job_id": "posts:5:outbox.event"}, event)
    assert done == ["quick"]
    assert asyncio.get_running_loop().time() - started < 20
    assert "test.slow of posts:5 timed out" in caplog.text
