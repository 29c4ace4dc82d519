"""The analytics jobs in a real worker process (`puppies worker`) on the real services:
domain events recorded exactly once, client events reaching the rollups, partition upkeep,
and a worker killed mid-stream losing and doubling nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import text

from models.db import Database
from models.outbox import Event
from puppies.auth.keys import KeyRing
from puppies.settings import Settings
from resolvers.analytics.ingest import EventInput, track_events
from resolvers.analytics.partitions import ensure_partitions, list_partitions
from resolvers.posts.comments import add_comment
from resolvers.posts.likes import like_post, unlike_post
from resolvers.posts.posts import create_post
from resolvers.runtime import Resources
from resolvers.users.accounts import sign_up
from resolvers.users.follows import follow
from tests.support.servers import run_cli


@pytest.fixture
async def res(clean: Settings) -> AsyncIterator[Resources]:
    resources = Resources.open(clean)
    try:
        yield resources
    finally:
        await resources.close()


@pytest.fixture
async def arq(clean: Settings) -> AsyncIterator[ArqRedis]:
    assert clean.redis_url
    pool = await create_pool(RedisSettings.from_dsn(clean.redis_url))
    try:
        yield pool
    finally:
        await pool.aclose()


async def _rows(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with db.session() as s:
        return [tuple(r) for r in await s.execute(text(sql), params)]


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def _user(res: Resources, name: str) -> int:
    result = await sign_up(
        res,
        KeyRing(res.settings.keys_dir).load(),
        username=name,
        email=f"{name}@example.com",
        password="correct horse battery 9",
    )
    assert result.session is not None, result.errors
    return int(result.session.user.id)


async def test_domain_events_are_recorded_once_even_when_redelivered(
    res: Resources, arq: ArqRedis, service_env: dict[str, str]
) -> None:
    settings, db = res.settings, res.db
    author, fan = await _user(res, "author"), await _user(res, "fan")
    with run_cli(["worker"], service_env):
        post = (await create_post(res, author, "hi", [])).post.id
        await like_post(res, fan, post)
        await unlike_post(res, fan, post)
        await like_post(res, fan, post)
        await add_comment(res, fan, post, "nice")
        await follow(res, fan, author)

        async def settled() -> bool:
            rows = await _rows(
                db, "SELECT likes, comments FROM analytics.post_daily WHERE post_id = :p", p=post
            )
            users = await _rows(
                db, "SELECT followers_gained FROM analytics.user_daily WHERE user_id = :u", u=author
            )
            return rows == [(1, 1)] and users == [(1,)]

        await _eventually(settled)
        before = await _rows(
            db, "SELECT type, count(*) FROM analytics.events GROUP BY 1 ORDER BY 1"
        )
        assert before == [
            ("COMMENT", 1),
            ("FOLLOW", 1),
            ("LIKE", 2),
            ("POST_CREATED", 1),
            ("UNLIKE", 1),
        ]
        # arq is at least once: deliver every posts event a second time, as a retry would.
        outbox = await _rows(
            db,
            "SELECT id, event_type, aggregate_id, payload, created_at "
            "FROM posts.outbox ORDER BY id",
        )
        jobs = []
        for row_id, kind, agg, payload, created in outbox:
            event = Event(
                id=f"posts:{row_id}",
                type=kind,
                schema="posts",
                aggregate_id=agg,
                payload=payload,
                occurred_at=created,
            )
            job = await arq.enqueue_job(
                f"analytics.record.{kind}",
                event.to_dict(),
                _job_id=f"again:{row_id}",
                _queue_name=settings.worker_queue_name,
            )
            assert job is not None
            jobs.append(job)
        for job in jobs:
            await job.result(timeout=30)
        await asyncio.sleep(0.5)  # a rollup pass
        assert (
            await _rows(db, "SELECT type, count(*) FROM analytics.events GROUP BY 1 ORDER BY 1")
            == before
        )
        assert await settled()
        assert await _rows(
            db, "SELECT author_id FROM analytics.posts WHERE post_id = :p", p=post
        ) == [(author,)]


async def _posts(res: Resources, n: int) -> list[int]:
    """Real posts (analytics checks that the posts events name exist)."""
    return [(await create_post(res, 7, f"p{i}", [])).post.id for i in range(n)]


async def test_client_events_reach_the_rollups_with_the_worker_running(
    res: Resources, service_env: dict[str, str]
) -> None:
    [post] = await _posts(res, 1)
    with run_cli(["worker"], service_env):
        now = datetime.now(UTC)
        batch = [
            EventInput(id=f"v{i}", type="POST_VIEW", occurred_at=now, post_id=str(post))
            for i in range(100)
        ]
        result = await track_events(res, 1, batch)
        assert result.accepted == 100
        late = [
            EventInput(
                id="late",
                type="POST_VIEW",
                occurred_at=now - timedelta(hours=30),
                post_id=str(post),
            )
        ]
        assert (await track_events(res, 1, late)).accepted == 1

        async def rolled() -> bool:
            rows = await _rows(
                res.db,
                "SELECT day, views FROM analytics.post_daily WHERE post_id = :p ORDER BY day",
                p=post,
            )
            return rows == [((now - timedelta(hours=30)).date(), 1), (now.date(), 100)]

        await _eventually(rolled)
        assert await _rows(res.db, "SELECT count(*) FROM analytics.rollup_queue") == [(0,)]


async def test_the_cron_keeps_partitions_ahead_and_drops_expired_ones(
    res: Resources, service_env: dict[str, str]
) -> None:
    db, settings = res.db, res.settings
    today = datetime.now(UTC).date()
    ahead = today + timedelta(days=settings.analytics_partitions_ahead_days)
    expired = today - timedelta(days=settings.analytics_retention_days + 5)
    kept = today - timedelta(days=settings.analytics_retention_days - 1)
    await ensure_partitions(res, expired, expired)
    await ensure_partitions(res, kept, kept)
    async with db.transaction() as s:
        await s.execute(text(f"DROP TABLE IF EXISTS analytics.events_p{ahead:%Y%m%d}"))
    assert ahead not in await list_partitions(res)
    with run_cli(["worker"], service_env):

        async def maintained() -> bool:
            days = await list_partitions(res)
            return ahead in days and expired not in days

        await _eventually(maintained)
    days = await list_partitions(res)
    assert kept in days and today in days


async def test_a_killed_worker_loses_and_doubles_nothing(
    res: Resources, service_env: dict[str, str]
) -> None:
    env = {**service_env, "ANALYTICS_ROLLUP_INTERVAL_MS": "20"}
    posts = await _posts(res, 7)
    sent = 0
    with run_cli(["worker"], env) as proc:
        for b in range(20):
            batch = [
                EventInput(
                    id=f"k{b}-{i}",
                    type="POST_VIEW",
                    occurred_at=datetime.now(UTC),
                    post_id=str(posts[i % 7]),
                )
                for i in range(200)
            ]
            sent += (await track_events(res, 9, batch)).accepted
            if b == 10:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    assert sent == 4000
    with run_cli(["worker"], env):

        async def all_counted() -> bool:
            rows = await _rows(res.db, "SELECT coalesce(sum(views), 0) FROM analytics.post_daily")
            return rows == [(sent,)]

        await _eventually(all_counted)
        hourly = await _rows(res.db, "SELECT sum(views) FROM analytics.post_hourly")
        assert hourly == [(sent,)]


async def test_the_worker_refreshes_trending_rankings(
    res: Resources, service_env: dict[str, str]
) -> None:
    from resolvers.analytics.domain import record_domain_event
    from resolvers.analytics.trending import CACHE_PREFIX, trending_posts

    now = datetime.now(UTC)
    one, two = await _posts(res, 2)
    for post in (one, two):
        await record_domain_event(
            res,
            Event(
                id=f"posts:t{post}",
                type="post.published",
                schema="posts",
                aggregate_id=post,
                payload={"post_id": post, "author_id": 7},
                occurred_at=now,
            ),
        )
    env = {**service_env, "ANALYTICS_TRENDING_CACHE_SECONDS": "1"}
    with run_cli(["worker"], env):
        batch = [
            EventInput(
                id=f"t{i}", type="POST_VIEW", occurred_at=now, post_id=str(two if i < 3 else one)
            )
            for i in range(5)
        ]
        assert (await track_events(res, 1, batch)).accepted == 5

        async def ranked() -> bool:
            return await res.redis.get(CACHE_PREFIX + "HOUR") == f'["{two}","{one}"]'.encode()

        await _eventually(ranked)
        more = [
            EventInput(id=f"u{i}", type="POST_VIEW", occurred_at=now, post_id=str(one))
            for i in range(5)
        ]
        assert (await track_events(res, 1, more)).accepted == 5

        async def reranked() -> bool:
            return await res.redis.get(CACHE_PREFIX + "HOUR") == f'["{one}","{two}"]'.encode()

        await _eventually(reranked)
        s = res.settings.model_copy(update={"analytics_trending_cache_seconds": 1})
        assert await trending_posts(replace(res, settings=s), "HOUR", 1) == [one]
