"""`puppies seed`'s analytics part: authorship, views through the recording path, rollups."""

from __future__ import annotations

import random

from sqlalchemy import text

from puppies.settings import Settings
from resolvers.posts.posts import create_post
from resolvers.runtime import Resources
from workers.seed_analytics import seed_analytics


async def test_seed_analytics_fills_dashboards_once(clean: Settings) -> None:
    res = Resources.open(clean)
    try:
        posts = [(await create_post(res, author, f"p{author}", [])).post.id for author in (1, 2, 2)]
        first = await seed_analytics(clean, [1, 2, 3], rng=random.Random(1), progress=False)
        assert first > 0
        again = await seed_analytics(clean, [1, 2, 3], rng=random.Random(1), progress=False)
        assert again == 0
        async with res.db.session() as s:
            authors: dict[int, int] = dict(
                (await s.execute(text("SELECT post_id, author_id FROM analytics.posts"))).all()
            )
            assert authors == {posts[0]: 1, posts[1]: 2, posts[2]: 2}
            raw = (
                await s.execute(
                    text("SELECT count(*) FROM analytics.events WHERE type = 'POST_VIEW'")
                )
            ).scalar_one()
            rolled = (
                await s.execute(
                    text("SELECT coalesce(sum(post_views), 0) FROM analytics.user_daily")
                )
            ).scalar_one()
            queued = (
                await s.execute(text("SELECT count(*) FROM analytics.rollup_queue"))
            ).scalar_one()
        assert raw == rolled and queued == 0
    finally:
        await res.close()
