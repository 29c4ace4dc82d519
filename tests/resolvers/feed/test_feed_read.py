"""The feed read path against real PostgreSQL and Redis: merge order, pagination, degraded."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import asyncpg
import pytest

from puppies.pagination import PageRequest, decode_cursor
from resolvers.feed.errors import FeedUnavailable
from resolvers.feed.fanout import fan_out_post
from resolvers.feed.popular import refresh_popular
from resolvers.feed.read import read_feed
from resolvers.feed.vip import reconcile_vip
from tests.resolvers.feed.world import World


async def page(w: World, viewer: int, first: int = 20, after: int | None = None):
    return await read_feed(w.res, viewer, PageRequest(first, after))


async def publish(w: World, author: int) -> int:
    post_id = await w.post(author)
    await fan_out_post(w.res, post_id, author)
    return post_id


async def test_ordinary_and_vip_authors_merge_newest_first(world: World) -> None:
    viewer, plain, star, f2, f3 = await world.users(5)
    await world.follow(viewer, plain)
    for f in (viewer, f2, f3):
        await world.follow(f, star)
    assert await reconcile_vip(world.res, star) == "vip"
    assert await reconcile_vip(world.res, plain) == "ordinary"

    order = []
    for author in (plain, star, plain, star, star, plain):
        order.append(await publish(world, author))
    # VIP posts are not fanned out: only the star's own inbox has them.
    star_posts = set(order[1::2][:1] + order[3:5])
    assert not star_posts & set(await world.inbox(viewer))
    got = await page(world, viewer)
    assert [i.post_id for i in got.items] == sorted(order, reverse=True)
    assert not got.has_next_page and not got.degraded
    # Someone who does not follow the star sees none of the star's posts.
    assert {i.post_id for i in (await page(world, f2)).items} == star_posts


async def test_pages_have_no_gaps_or_duplicates_while_posts_arrive(world: World) -> None:
    viewer, a, b = await world.users(3)
    await world.follow(viewer, a)
    for f in (viewer, *await world.users(2)):
        await world.follow(f, b)
    await reconcile_vip(world.res, b)  # b is a VIP
    old = [await publish(world, a if i % 3 else b) for i in range(7)]

    first = await page(world, viewer, 3)
    seen = [i.post_id for i in first.items]
    assert first.has_next_page
    new = [await publish(world, a), await publish(world, b)]  # arrive between pages
    cursor = seen[-1]
    while True:
        nxt = await page(world, viewer, 3, cursor)
        seen += [i.post_id for i in nxt.items]
        if not nxt.has_next_page:
            break
        cursor = nxt.items[-1].post_id
    assert seen == sorted(old, reverse=True)  # each old post exactly once, in order
    fresh = await page(world, viewer, 2)
    assert [i.post_id for i in fresh.items] == sorted(new, reverse=True)


async def test_first_zero_and_empty_feed(world: World) -> None:
    (viewer,) = await world.users(1)
    empty = await page(world, viewer)
    assert empty.items == [] and not empty.has_next_page
    assert (await page(world, viewer, 0)).items == []


async def _lock_inbox(dsn: str, locked: asyncio.Event, release: asyncio.Event) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE feed.inbox IN ACCESS EXCLUSIVE MODE")
            locked.set()
            await release.wait()
    finally:
        await conn.close()


async def test_degraded_page_when_the_inbox_read_times_out(world: World) -> None:
    viewer, author = await world.users(2)
    await world.follow(viewer, author)
    posts = [await publish(world, author) for _ in range(3)]
    settings = world.settings.model_copy(update={"feed_read_timeout_ms": 100})
    # "Now" two days ahead: no post is in the popularity window, so the newest are used.
    await refresh_popular(
        replace(world.res, settings=settings), now_ms=int(time.time() * 1000) + 2 * 86_400_000
    )
    assert world.settings.database_url
    dsn = world.settings.database_url.replace("+asyncpg", "")
    locked, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_lock_inbox(dsn, locked, release))
    await locked.wait()
    try:
        got = await read_feed(replace(world.res, settings=settings), viewer, PageRequest(2, None))
        assert got.degraded and got.degraded_reason == "TIMEOUT"
        # The popular list (newest posts when none are liked) instead of the inbox.
        assert [i.post_id for i in got.items] == sorted(posts, reverse=True)[:2]
        assert got.has_next_page
        # With no cached fallback either, the caller gets a coded error, not a hang.
        await world.res.redis.delete("feed:popular")
        with pytest.raises(FeedUnavailable) as err:
            await read_feed(replace(world.res, settings=settings), viewer, PageRequest(2, None))
        assert err.value.code == "SERVICE_UNAVAILABLE"
    finally:
        release.set()
        await holder
    healthy = await read_feed(replace(world.res, settings=settings), viewer, PageRequest(5, None))
    assert not healthy.degraded and len(healthy.items) == 3


def test_cursor_is_opaque_and_round_trips() -> None:
    from puppies.pagination import encode_cursor

    c = encode_cursor(123456789)
    assert "123456789" not in c and decode_cursor(c) == 123456789


async def test_server_side_budget_cancels_a_slow_page_inside_postgresql(world: World) -> None:
    from models.db import Database
    from resolvers.feed.read import install_read_budget

    viewer, author = await world.users(2)
    await world.follow(viewer, author)
    await publish(world, author)
    settings = world.settings.model_copy(update={"feed_read_timeout_ms": 100})
    await refresh_popular(replace(world.res, settings=settings), int(time.time() * 1000))
    feed_db = Database(settings)
    feed_res = replace(world.res, settings=settings, db=feed_db)
    install_read_budget(feed_res)
    assert world.settings.database_url
    dsn = world.settings.database_url.replace("+asyncpg", "")
    locked, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_lock_inbox(dsn, locked, release))
    await locked.wait()
    try:
        got = await read_feed(feed_res, viewer, PageRequest(5, None))
        assert got.degraded and got.degraded_reason == "TIMEOUT"
        # The client's budget (150 ms) may fire before the server's (100 ms) on a loaded
        # machine; either way PostgreSQL cancels the statement by itself while the lock is
        # still held, so nothing stays queued on it. Poll: the cancel is asynchronous.
        waiting = -1
        for _ in range(100):
            waiting = await world.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%feed.inbox%'"
            )
            if waiting == 0:
                break
            await asyncio.sleep(0.05)
        assert waiting == 0  # PostgreSQL cancelled it: nothing left queued on the lock
    finally:
        release.set()
        await holder
    healthy = await read_feed(feed_res, viewer, PageRequest(5, None))
    assert not healthy.degraded and len(healthy.items) == 1
    await feed_db.dispose()
