"""The scale seeder (small spec): power-law shape, and inboxes equal to fan-out-on-read."""

from __future__ import annotations

import random

from sqlalchemy import literal, select, text, union

from puppies.pagination import PageRequest
from puppies.settings import Settings
from resolvers.feed.read import MAX_ID, read_feed
from resolvers.posts.feed_queries import posts_by_authors
from resolvers.runtime import Resources
from resolvers.users.bulk_copy import accounts_with_followers, all_user_ids
from resolvers.users.graph_queries import followee_ids
from workers.seed_scale import ScaleSpec, seed_scale


async def test_scale_seed_builds_what_fan_out_would_have(clean: Settings) -> None:
    settings = clean.model_copy(update={"feed_vip_threshold": 150, "feed_inbox_cap": 60})
    spec = ScaleSpec(users=1500, follows=30_000, posts=15_000)
    summary = await seed_scale(settings, 3, spec)
    assert summary["users"] == 1500 and summary["follows"] == 30_000
    assert summary["posts"] == 15_000 and summary["vips"] >= 2

    res = Resources.open(settings)
    try:
        async with res.db.session() as session:
            ids = await all_user_ids(session)
            counts = [c for _, c in await accounts_with_followers(session, 0)]
            # analytics knows every seeded post's author, as post.published events would
            # have told it (trending, dashboards and roll-ups read this projection)
            projected = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM posts.posts p JOIN analytics.posts a "
                        "ON a.post_id = p.id AND a.author_id = p.author_id "
                        "AND a.created_at = p.created_at"
                    )
                )
            ).scalar_one()
        assert projected == 15_000
        assert sum(counts) == 30_000
        assert counts[0] > 20 * (sum(counts) / len(counts))  # heavy head: a power law
        for viewer in random.Random(1).sample(ids, 25):
            page = await read_feed(res, viewer, PageRequest(20, None))
            authors = union(followee_ids(viewer), select(literal(viewer)))  # and their own
            async with res.db.session() as session:
                expected = [
                    r[0] for r in await session.execute(posts_by_authors(authors, MAX_ID, 20))
                ]
            assert [i.post_id for i in page.items] == expected, viewer
    finally:
        await res.close()
