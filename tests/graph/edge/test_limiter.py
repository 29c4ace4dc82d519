"""The rate limiter below the router: GCRA in one Lua script on the test session's Redis
(its own pipelined connection), the same arithmetic in memory for the local fallback, and
what the connection does when its Redis is paused (SIGSTOP of a redis-server started here).

Every window here is long enough (an hour, or seconds where a refill is the point) that
nothing refills while a test runs unless the test waits for it."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from graph.rate_limits.connection import LimiterConnection
from graph.rate_limits.limiter import QUOTA, WINDOW, Limit, RedisLimiter, gcra
from graph.rate_limits.local import LocalLimiter
from puppies.embedded import free_port
from puppies.embedded.redis import EmbeddedRedis
from puppies.settings import Settings
from tests.support.tmp import private_tmp_dir

HOUR = 3_600_000


def window(key: str, limit: int, span_ms: int = HOUR, weight: int = 1) -> Limit:
    return Limit("w", key, WINDOW, limit, span_ms, weight, span_ms // 1000)


@pytest.fixture
async def limiter(settings: Settings) -> AsyncIterator[RedisLimiter]:
    connection = LimiterConnection(str(settings.redis_url), 5.0)
    yield RedisLimiter(connection)
    await connection.aclose()


def tag() -> str:
    return f"test:{{{uuid.uuid4().hex}}}"


async def test_exactly_the_limit_in_a_burst_across_two_connections(settings: Settings) -> None:
    """Two router processes' connections, 100 concurrent checks of one 60-per-hour bucket:
    exactly 60 admitted, each seeing its own place (59 left ... 0)."""
    one = LimiterConnection(str(settings.redis_url), 5.0)
    two = LimiterConnection(str(settings.redis_url), 5.0)
    limiters = (RedisLimiter(one), RedisLimiter(two))
    limit = window(f"{tag()}:t", 60)
    try:
        decisions = await asyncio.gather(*(limiters[i % 2].check([limit]) for i in range(100)))
    finally:
        await one.aclose()
        await two.aclose()
    admitted = [d for d in decisions if d.admitted]
    assert len(admitted) == 60
    assert sorted(d.usages[0].remaining for d in admitted) == list(range(60))
    for refused in (d for d in decisions if not d.admitted):
        assert refused.denied is not None and refused.usages[0].remaining == 0
        # the next request is admitted one interval (an hour / 60) after the burst
        assert 55_000 <= refused.denied.frees_in_ms <= 60_001


async def test_the_bucket_refills_one_request_per_interval(limiter: RedisLimiter) -> None:
    limit = window(f"{tag()}:t", 2, span_ms=4_000)  # 2 per 4 s: one more every 2 s
    first = await asyncio.gather(*(limiter.check([limit]) for _ in range(3)))
    assert [d.admitted for d in first] == [True, True, False]
    wait = first[2].usages[0].frees_in_ms
    assert 0 < wait <= 2_001
    await asyncio.sleep(wait / 1000 + 0.05)
    assert (await limiter.check([limit])).admitted


async def test_all_limits_or_none_and_the_state_expires(
    limiter: RedisLimiter, settings: Settings
) -> None:
    prefix = tag()
    roomy = window(f"{prefix}:a:t", 10)
    tight = window(f"{prefix}:b:t", 1)
    assert (await limiter.check([roomy, tight])).admitted
    refused = await limiter.check([roomy, tight])
    assert not refused.admitted and refused.denied is not None
    assert refused.denied.limit is tight
    # the refused request charged nothing: the roomy bucket still has 9 left
    again = await limiter.check([roomy])
    assert again.usages[0].remaining == 8
    redis = Redis.from_url(str(settings.redis_url))
    try:
        ttl = await redis.pttl(f"{prefix}:a:t")
        assert 0 < ttl <= 2 * HOUR // 10 + 1  # full again after two intervals: then gone
        assert key_slot(f"{prefix}:a:t".encode()) == key_slot(f"{prefix}:b:t".encode())
    finally:
        await redis.aclose()


async def test_a_quota_counts_to_its_end_and_a_weight_counts_as_many(
    limiter: RedisLimiter,
) -> None:
    quota = Limit("day", f"{tag()}:d", QUOTA, 3, 4_102_444_800_000, 2)  # ends in 2100
    first = await limiter.check([quota])
    assert first.admitted and first.usages[0].used == 2
    second = await limiter.check([quota])
    assert not second.admitted and second.usages[0].used == 2
    heavy = window(f"{tag()}:t", 3, weight=4)  # heavier than the whole bucket: never
    assert not (await limiter.check([heavy])).admitted


async def test_the_script_is_loaded_again_after_a_flush(
    limiter: RedisLimiter, settings: Settings
) -> None:
    limit = window(f"{tag()}:t", 5)
    assert (await limiter.check([limit])).admitted
    redis = Redis.from_url(str(settings.redis_url))
    try:
        await redis.script_flush()
    finally:
        await redis.aclose()
    assert (await limiter.check([limit])).usages[0].remaining == 3


# ---- the same arithmetic in memory (the local fallback)


def test_gcra_burst_refill_and_refusal() -> None:
    now = 1_000_000.0
    tat = 0.0
    results = []
    for _ in range(4):
        admitted, tat_after, used, _ = gcra(tat, now, 3, 60_000, 1)
        results.append((admitted, used))
        if admitted:
            tat = tat_after
    assert results == [(True, 1), (True, 2), (True, 3), (False, 3)]
    assert gcra(tat, now, 3, 60_000, 1)[3] == 20_000  # one interval (60 s / 3) to wait
    assert gcra(tat, now + 20_000, 3, 60_000, 1)[0]  # and then there is room for one


def test_the_local_limiter_divides_by_replicas_and_charges_only_admitted() -> None:
    clock = [1_000.0]
    local = LocalLimiter(replicas=3, clock=lambda: clock[0])
    limits = [window("a", 7), Limit("day", "d", QUOTA, 100, 2_000 * 1000, 1, 86_400)]
    decisions = [local.check(limits) for _ in range(3)]
    assert [d.admitted for d in decisions] == [True, True, False]  # 7 // 3 = 2
    assert decisions[0].usages[0].limit.limit == 2  # the headers show the local share
    assert decisions[1].usages[1].used == 2  # the refused third did not count for the day
    clock[0] += 1_800  # half an hour: one interval of 2 per hour
    assert local.check(limits).admitted
    clock[0] = 2_000.0  # the day ended: its counter starts again
    day = local.check([limits[1]])
    assert day.admitted and day.usages[0].used == 1


# ---- a paused Redis


@pytest.fixture
def paused_redis() -> Iterator[tuple[EmbeddedRedis, int]]:
    server = EmbeddedRedis(private_tmp_dir("limiter-redis"), free_port(), persist=False)
    server.start()
    assert server.proc is not None
    pid = server.proc.pid
    try:
        yield server, pid
    finally:
        os.kill(pid, signal.SIGCONT)
        server.stop()


async def test_a_paused_redis_times_out_and_the_connection_recovers(
    paused_redis: tuple[EmbeddedRedis, int],
) -> None:
    server, pid = paused_redis
    connection = LimiterConnection(server.url, 0.2)
    limiter = RedisLimiter(connection)
    limit = window(f"{tag()}:t", 10)
    try:
        assert (await limiter.check([limit])).admitted
        os.kill(pid, signal.SIGSTOP)
        checks = await asyncio.gather(
            *(limiter.check([limit]) for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(c, TimeoutError | ConnectionError) for c in checks), checks
        # a new connection while Redis is still paused: the kernel accepts it, the script
        # is never loaded; every caller gives up after its own timeout, the time it waited
        # behind another caller's connection attempt included
        again = await asyncio.gather(
            *(limiter.check([limit]) for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(c, TimeoutError) for c in again), again
        os.kill(pid, signal.SIGCONT)
        after = await limiter.check([limit])  # a new connection
        assert after.admitted
    finally:
        await connection.aclose()
