"""Likes against real PostgreSQL and Redis: idempotence, buffered counters, flush, reconcile."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select, text

from models.posts import Like
from puppies.embedded import free_port
from puppies.outages import missing_service
from puppies.pagination import PageRequest
from resolvers.errors import NotFound
from resolvers.posts import likes, posts
from resolvers.posts.likes import DIRTY, FLUSHING


async def _post(res, author=1):
    return (await posts.create_post(res, author, "hello", [])).post


async def _db_count(res, post_id):
    async with res.db.session() as s:
        col = (
            await s.execute(
                text("SELECT like_count FROM posts.posts WHERE id = :i"), {"i": post_id}
            )
        ).scalar_one()
        rows = (
            await s.execute(select(func.count()).select_from(Like).where(Like.post_id == post_id))
        ).scalar_one()
    return col, rows


async def _outbox(res, event_type):
    async with res.db.session() as s:
        return (
            await s.execute(
                text("SELECT count(*) FROM posts.outbox WHERE event_type = :t"), {"t": event_type}
            )
        ).scalar_one()


async def test_double_like_and_double_unlike_are_no_ops(res):
    post = await _post(res)
    first = await likes.like_post(res, 7, post.id)
    again = await likes.like_post(res, 7, post.id)
    assert (first.changed, first.like_count) == (True, 1)
    assert (again.changed, again.like_count) == (False, 1)
    assert await _outbox(res, "post.liked") == 1
    gone = await likes.unlike_post(res, 7, post.id)
    gone_again = await likes.unlike_post(res, 7, post.id)
    never = await likes.unlike_post(res, 8, post.id)
    assert (gone.changed, gone.like_count) == (True, 0)
    assert (gone_again.changed, never.changed) == (False, False)
    assert await _outbox(res, "post.unliked") == 1
    await likes.flush_like_counts(res)
    assert await _db_count(res, post.id) == (0, 0)


async def test_liking_a_missing_post_is_not_found_and_writes_nothing(res):
    with pytest.raises(NotFound):
        await likes.like_post(res, 7, 123456789)
    async with res.db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM posts.likes"))).scalar_one() == 0
    assert await _outbox(res, "post.liked") == 0


async def test_concurrent_likes_buffer_then_flush_exactly(res):
    post = await _post(res)
    await asyncio.gather(*(likes.like_post(res, u, post.id) for u in range(1, 201)))
    col, rows = await _db_count(res, post.id)
    assert (col, rows) == (0, 200)  # buffered: the column is not written per like
    assert await likes.pending_flush(res) == 1
    await likes.flush_like_counts(res)
    assert await _db_count(res, post.id) == (200, 200)
    assert await likes.pending_flush(res) == 0
    assert await likes.live_counts(res, [post]) == [200]


async def test_an_interrupted_flush_is_resumed_and_exact(res):
    small = res.settings.model_copy(update={"likes_flush_batch_size": 3})
    res.settings = small
    ps = [await _post(res) for _ in range(10)]
    for i, p in enumerate(ps):
        for u in range(i + 1):
            await likes.like_post(res, 100 + u, p.id)
    assert await likes.flush_like_counts(res, max_batches=1) == 3  # "dies" after one batch
    assert await res.redis.scard(FLUSHING) == 7
    await likes.like_post(res, 999, ps[0].id)  # new likes go to a fresh dirty set
    assert await res.redis.sismember(DIRTY, str(ps[0].id))
    await likes.flush_like_counts(res)
    for i, p in enumerate(ps):
        expected = i + 1 + (1 if i == 0 else 0)
        assert await _db_count(res, p.id) == (expected, expected)


class _Interleave:
    """The real Redis client, running `hook` once just before `script` is evaluated: puts
    another actor's work at the exact point a race needs it (real PostgreSQL and Redis)."""

    def __init__(self, inner: Any, script: str, hook: Callable[[], Awaitable[object]]) -> None:
        self._inner, self._script = inner, script
        self._hook: Callable[[], Awaitable[object]] | None = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def eval(self, script: str, *args: Any) -> Any:
        if script == self._script and self._hook is not None:
            hook, self._hook = self._hook, None
            await hook()
        return await self._inner.eval(script, *args)


async def _live(res, post_id):
    post = (await posts.posts_page(res, PageRequest(first=1, after=None), author_id=1)).items
    [found] = [p for p in post if p.id == post_id]
    return (await likes.live_counts(res, [found]))[0]


@pytest.mark.parametrize("cached", [False, True], ids=["cold", "cached"])
async def test_a_flush_between_a_like_and_its_counter_update_counts_it_once(res, cached):
    """The like's row is committed, the flush recounts it, then the like adjusts the live
    counter: installing the recount there would count the like twice."""
    post = await _post(res)
    if cached:
        await likes.like_post(res, 1, post.id)
    hooked = replace(
        res, redis=_Interleave(res.redis, likes._AFTER_COMMIT, lambda: likes.flush_like_counts(res))
    )
    change = await likes.like_post(hooked, 2, post.id)
    expected = 2 if cached else 1
    assert change.like_count == expected
    assert await _live(res, post.id) == expected
    await likes.flush_like_counts(res)  # the skipped install happens now
    assert await _live(res, post.id) == expected
    assert await _db_count(res, post.id) == (expected, expected)


async def test_a_like_between_a_recount_and_its_install_is_not_lost(res):
    """The flush counts the rows, a like commits and adjusts the counter, then the flush
    installs its (older) count: that would lose the like."""
    post = await _post(res)
    await likes.like_post(res, 1, post.id)
    await likes.flush_like_counts(res)
    await likes.like_post(res, 2, post.id)  # dirty again
    hooked = replace(
        res, redis=_Interleave(res.redis, likes._INSTALL, lambda: likes.like_post(res, 3, post.id))
    )
    await likes.flush_like_counts(hooked)
    assert await _live(res, post.id) == 3
    await likes.flush_like_counts(res)
    assert await _live(res, post.id) == 3
    assert await _db_count(res, post.id) == (3, 3)


async def test_a_failed_like_statement_does_not_block_installs(res):
    post = await _post(res)
    with pytest.raises(NotFound):
        await likes.like_post(res, 1, post.id + 1000)
    await likes.like_post(res, 1, post.id)
    await likes.like_post(res, 1, post.id)  # no change
    await likes.flush_like_counts(res)
    assert await res.redis.hget(likes.STATE + str(post.id), "p") in (b"0", "0")
    assert await likes.pending_flush(res) == 0
    assert await _live(res, post.id) == 1


async def test_reconcile_recomputes_wrong_counters(res):
    post = await _post(res)
    for u in range(5):
        await likes.like_post(res, u + 1, post.id)
    await res.redis.delete(DIRTY)  # as if the marks were lost
    async with res.db.transaction() as s:
        await s.execute(
            text("UPDATE posts.posts SET like_count = 42 WHERE id = :i"), {"i": post.id}
        )
    assert await likes.reconcile_like_counts(res) == 1
    assert await _db_count(res, post.id) == (5, 5)
    assert await likes.reconcile_like_counts(res) == 0


async def test_liked_by_is_one_statement_for_many_posts(res):
    from models.sqlcount import count_statements

    ps = [await _post(res) for _ in range(5)]
    await likes.like_post(res, 3, ps[1].id)
    await likes.like_post(res, 3, ps[4].id)
    with count_statements(res.db.engine) as counter:
        found = await likes.liked_by(res, 3, [p.id for p in ps])
    assert found == {ps[1].id, ps[4].id}
    assert len(counter.queries()) == 1
    page = await posts.posts_page(res, PageRequest(first=3, after=None), author_id=1)
    assert [p.id for p in page.items] == [p.id for p in reversed(ps)][:3]


async def test_with_redis_unreachable_likes_fail_cleanly_and_counts_come_from_the_rows(res):
    """Redis down (nothing listens where it was): a like fails before it writes anything,
    with an error the subgraph reports as SERVICE_UNAVAILABLE; reads serve the stored
    counts instead of failing."""
    post = await _post(res)
    await likes.like_post(res, 7, post.id)
    await likes.flush_like_counts(res)
    gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    down = replace(res, redis=gone)
    try:
        with pytest.raises(RedisError) as info:
            await likes.like_post(down, 8, post.id)
        assert missing_service(info.value) == "Redis"
        assert await _db_count(res, post.id) == (1, 1)  # nothing half-applied
        stored = (await posts.posts_by_ids(res, [post.id]))[post.id]
        assert await likes.live_counts(down, [stored]) == [1]
    finally:
        await gone.aclose()


def test_an_outage_is_told_from_a_bug():
    assert missing_service(OSError("disk")) is None
    assert missing_service(ValueError("bug")) is None
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except ConnectionRefusedError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert missing_service(wrapped) == "a backing service"
