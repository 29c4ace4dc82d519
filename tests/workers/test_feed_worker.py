"""The feed consumers in a real `puppies worker` process, fed by real outbox events."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

from puppies.embedded import free_port
from puppies.embedded.redis import EmbeddedRedis
from puppies.settings import Settings
from tests.resolvers.feed.world import World
from tests.support.polling import eventually
from tests.support.servers import run_cli
from tests.support.tmp import private_tmp_dir


@pytest.fixture
async def world(clean: Settings) -> AsyncIterator[World]:
    w = World(clean)
    try:
        yield w
    finally:
        await w.close()


def worker_env(service_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**service_env, "LOG_LEVEL": "WARNING", "FEED_FANOUT_LEASE_SECONDS": "2", **extra}


async def test_events_drive_the_feed(world: World, service_env: dict[str, str]) -> None:
    viewer, author = await world.users(2)
    with run_cli(["worker"], worker_env(service_env, FEED_FOLLOW_BACKFILL="2")):
        old = [await world.post(author) for _ in range(3)]
        await eventually(
            lambda: _count_is(world, "SELECT count(*) FROM feed.fanout WHERE state = 'done'", 3)
        )
        await world.follow(viewer, author)  # user.followed -> backfill the newest 2
        await eventually(lambda: _inbox_is(world, viewer, sorted(old, reverse=True)[:2]))
        new = await world.post(author)  # post.created -> fan-out
        await eventually(lambda: _inbox_is(world, viewer, [new, *sorted(old, reverse=True)[:2]]))
        await eventually(lambda: _inbox_has(world, author, new))  # own post
        await world.delete(author, new)  # post.deleted -> gone everywhere
        await eventually(
            lambda: _count_is(world, f"SELECT count(*) FROM feed.inbox WHERE post_id = {new}", 0)
        )
        await world.unfollow(viewer, author)  # user.unfollowed -> removed
        await eventually(lambda: _inbox_is(world, viewer, []))


async def test_worker_killed_mid_fan_out_loses_nothing(
    world: World, service_env: dict[str, str]
) -> None:
    author, *followers = await world.users(20_001)
    await world.bulk_follow(followers, author)
    env = worker_env(service_env, FEED_FANOUT_BATCH="100", WORKER_JOB_LEASE_SECONDS="5")
    redis = Redis.from_url(service_env["REDIS_URL"])
    with run_cli(["worker"], env) as proc:
        post_id = await world.post(author)

        async def mid_way() -> bool:
            rows = await world.rows(
                "SELECT state, follower_cursor FROM feed.fanout WHERE post_id = :p", p=post_id
            )
            return bool(rows) and rows[0].state == "running" and rows[0].follower_cursor > 0

        await eventually(mid_way, timeout=60, interval=0.01)
        # the running job is reserved for one lease (renewed while it runs), not arq's hour
        # (the post.published event's job, which runs the fan-out: a finished cron job's key
        # is kept a minute, one run per slot, and its id does not start with a schema)
        reserved = [k async for k in redis.scan_iter(match=in_progress_key_prefix + "posts:*")]
        assert reserved
        ttls = [await redis.pttl(k) for k in reserved]
        assert all(0 < ttl <= 5000 for ttl in ttls), ttls
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    # nobody renews a dead worker's reservations: its jobs are free again within the lease
    await eventually(lambda: _none_exist(redis, reserved), timeout=30)
    await redis.aclose()
    delivered = await world.scalar("SELECT count(*) FROM feed.inbox WHERE post_id = :p", p=post_id)
    assert 1 < delivered < 20_001, delivered  # really interrupted half-way
    assert (
        await world.scalar("SELECT state FROM feed.fanout WHERE post_id = :p", p=post_id)
        == "running"
    )
    with run_cli(["worker"], env):  # a new worker picks it up once the lease lapses
        await eventually(
            lambda: _count_is(
                world, f"SELECT count(*) FROM feed.inbox WHERE post_id = {post_id}", 20_001
            ),
            timeout=60,
        )
        await eventually(
            lambda: _count_is(
                world,
                f"SELECT count(*) FROM feed.fanout WHERE post_id = {post_id} AND state = 'done'",
                1,
            )
        )
    # Every follower exactly once (the primary key forbids more; all are there).
    from resolvers.users.graph_queries import follower_ids_after

    async with world.db.session() as session:
        everyone = {r[0] for r in await session.execute(follower_ids_after(author, 0, 100_000))}
    delivered_to = {
        r[0]
        for r in await world.rows("SELECT viewer_id FROM feed.inbox WHERE post_id = :p", p=post_id)
    }
    assert everyone == set(followers) and delivered_to == everyone | {author}


async def _none_exist(redis: Redis, keys: list[bytes]) -> bool:
    return await redis.exists(*keys) == 0


async def _inbox_is(world: World, viewer: int, expected: list[int]) -> bool:
    return await world.inbox(viewer) == expected


async def _inbox_has(world: World, viewer: int, post_id: int) -> bool:
    return post_id in await world.inbox(viewer)


async def _count_is(world: World, sql: str, n: int) -> bool:
    return await world.scalar(sql) == n


async def test_vip_threshold_crossing_driven_by_follow_events(
    world: World, service_env: dict[str, str]
) -> None:
    from puppies.pagination import PageRequest
    from resolvers.feed.read import read_feed

    settings = world.settings.model_copy(update={"feed_vip_threshold": 3})

    async def feed(viewer: int) -> list[int]:
        page = await read_feed(replace(world.res, settings=settings), viewer, PageRequest(50, None))
        return [i.post_id for i in page.items]

    author, f1, f2, f3 = await world.users(4)
    vip = "SELECT count(*) FROM feed.vip WHERE author_id = {a} AND state = 'vip'"
    with run_cli(["worker"], worker_env(service_env, FEED_VIP_THRESHOLD="3")):
        for f in (f1, f2, f3):
            await world.follow(f, author)
        await eventually(lambda: _count_is(world, vip.format(a=author), 1))
        star_post = await world.post(author)
        await eventually(
            lambda: _count_is(
                world,
                f"SELECT count(*) FROM feed.fanout WHERE post_id = {star_post} AND state = 'vip'",
                1,
            )
        )
        # Not fanned out (only the author's own inbox), yet in every follower's feed.
        assert (
            await world.scalar("SELECT count(*) FROM feed.inbox WHERE post_id = :p", p=star_post)
            == 1
        )
        for f in (f1, f2, f3):
            assert await feed(f) == [star_post]
        await world.unfollow(f3, author)  # back under the threshold: demoted
        await eventually(
            lambda: _count_is(world, f"SELECT count(*) FROM feed.vip WHERE author_id = {author}", 0)
        )
        plain_post = await world.post(author)
        await eventually(
            lambda: _count_is(
                world, f"SELECT count(*) FROM feed.inbox WHERE post_id = {plain_post}", 3
            )
        )
        for f in (f1, f2):  # both posts, each once, now both from the inbox
            assert await feed(f) == [plain_post, star_post]
            assert await world.inbox(f) == [plain_post, star_post]
        assert await feed(f3) == []


async def test_the_worker_outlives_a_redis_outage(
    world: World, service_env: dict[str, str]
) -> None:
    """Redis SIGKILLed under a running worker: the worker keeps polling (arq alone would
    exit), and once Redis is back (empty: no persistence) events flow again."""
    redis = EmbeddedRedis(private_tmp_dir("redis-outage"), free_port(), persist=False)
    redis.start()
    try:
        author, follower = await world.users(2)
        await world.follow(follower, author)
        with run_cli(["worker"], worker_env(service_env, REDIS_URL=redis.url)) as proc:
            first = await world.post(author)
            await eventually(lambda: _inbox_has(world, follower, first))
            assert redis.proc is not None
            os.killpg(redis.proc.pid, signal.SIGKILL)
            redis.proc.wait(10)
            second = await world.post(author)  # committed with its event while Redis is gone
            await asyncio.sleep(3)  # polls that fail
            assert proc.poll() is None, "the worker exited when Redis went away"
            redis.stop()
            redis.start()
            await eventually(lambda: _inbox_has(world, follower, second), timeout=60)
            assert proc.poll() is None
    finally:
        redis.stop()


async def test_the_worker_outlives_a_frozen_redis(
    world: World, service_env: dict[str, str]
) -> None:
    """Redis SIGSTOPped under a running worker (it accepts connections and never answers):
    the worker's polls time out (`REDIS_SOCKET_TIMEOUT_SECONDS`) and it says Redis is
    unavailable, instead of waiting forever on its first poll (arq's connection had no read
    timeout); after SIGCONT events flow again."""
    redis = EmbeddedRedis(private_tmp_dir("redis-frozen"), free_port(), persist=False)
    redis.start()
    assert redis.proc is not None
    pid = redis.proc.pid
    log = private_tmp_dir("frozen-worker") / "worker.log"
    try:
        author, follower = await world.users(2)
        await world.follow(follower, author)
        env = worker_env(service_env, REDIS_URL=redis.url)
        with run_cli(["worker"], env, output=log) as proc:
            first = await world.post(author)
            await eventually(lambda: _inbox_has(world, follower, first))
            os.kill(pid, signal.SIGSTOP)
            second = await world.post(author)  # committed with its event while Redis is frozen

            async def says_unavailable() -> bool:
                return "Redis is unavailable" in log.read_text(errors="replace")

            await eventually(says_unavailable, timeout=60)
            assert proc.poll() is None, log.read_text(errors="replace")
            os.kill(pid, signal.SIGCONT)
            await eventually(lambda: _inbox_has(world, follower, second), timeout=60)
            assert proc.poll() is None
    finally:
        os.kill(pid, signal.SIGCONT)
        redis.stop()
