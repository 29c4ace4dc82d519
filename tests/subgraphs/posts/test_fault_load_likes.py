"""bench.faults' load toggles likes from what PostgreSQL holds, so each acknowledged like or
unlike is a change, and a live event for the post's subscribers.

The load used to start from "nothing liked". The graph outlives a scenario (and the data
directory a run) and every scenario plays the same sequence, so most of its likes were
`likePost` on likes that existed: acknowledged, idempotent no-ops that publish nothing. The
20 live-like subscribers of redis-killed and postgres-restarted then saw 0 events before the
fault while every like succeeded, which read as subscriptions that did not work.

Real parts: the posts subgraph over HTTP and WebSocket, PostgreSQL, Redis pub/sub, and the
bench's own load and subscriber code.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp

from bench.faults.load import Load
from bench.mixed.generator import SubscriberResult, _subscriber
from bench.mixed.stack import Population, liked_pairs
from puppies.settings import Settings
from tests.subgraphs.posts.conftest import PostsClient
from tests.subgraphs.posts.test_likes_api import LIKE, new_post
from tests.subgraphs.posts.test_subscriptions import _subscribed
from tests.support.polling import eventually


async def test_each_acked_toggle_is_a_live_event_when_likes_exist_from_before(
    posts_api: PostsClient, clean: Settings
) -> None:
    pid = await new_post(posts_api, t="liked in an earlier scenario")
    await posts_api.data(LIKE, {"id": pid}, user=7)  # what an earlier scenario or run left
    assert clean.database_url
    dsn = clean.database_url.replace("postgresql+asyncpg://", "postgresql://")
    pop = Population(
        tokens=[posts_api.token(7)],
        viewer_ids=["7"],
        post_ids=[pid],
        hot_post_ids=[pid],
        user_ids=["7"],
    )
    liked = await liked_pairs(dsn, pop.viewer_ids, pop.hot_post_ids)
    assert liked == {("7", pid)}

    seen = SubscriberResult()
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        watcher = asyncio.create_task(
            _subscriber(session, posts_api.url, posts_api.token(8), pid, seen, stop)
        )
        try:
            await _subscribed(posts_api)
            async with Load(posts_api.url, pop, 0, liked=liked) as load:
                load.phase = "before"
                for _ in range(3):  # unlike, like, unlike
                    await load.toggle_like(0, pid)

            async def three() -> bool:
                return seen.events >= 3

            await eventually(three, timeout=60)
            await asyncio.sleep(0.5)  # (a fourth, wrong, event would come now)
        finally:
            stop.set()
            await asyncio.wait_for(watcher, 30)
    assert load.phases["before"].outcomes == Counter({"ok": 3})
    assert load.changes == {"before": Counter({pid: 3})}
    assert seen.events == 3 and seen.errors == {}
    assert load.acked.likes == {("7", pid): False}
    assert await liked_pairs(dsn, pop.viewer_ids, pop.hot_post_ids) == set()
