"""The posts part of `puppies seed`: reproducible, exact counters, one event per post."""

from __future__ import annotations

import random

from sqlalchemy import text

from models.db import Database
from workers.seed_posts import seed_posts


async def _fetch(settings, sql: str):
    db = Database(settings)
    try:
        async with db.session() as s:
            return (await s.execute(text(sql))).all()
    finally:
        await db.dispose()


async def test_seed_posts_writes_posts_likes_comments_with_exact_counters(clean):
    users = list(range(1, 41))
    out = await seed_posts(
        clean, users, posts=3, likes=6, comments=2, rng=random.Random(7), progress=False
    )
    assert out.posts > 60 and out.likes > 200 and out.comments > 100
    [(posts, likes, comments, events)] = await _fetch(
        clean,
        """
        SELECT (SELECT count(*) FROM posts.posts), (SELECT count(*) FROM posts.likes),
               (SELECT count(*) FROM posts.comments),
               (SELECT count(*) FROM posts.outbox WHERE event_type = 'post.created')""",
    )
    assert (posts, likes, comments, events) == (out.posts, out.likes, out.comments, out.posts)
    wrong = await _fetch(
        clean,
        """
        SELECT p.id FROM posts.posts p WHERE
          like_count <> (SELECT count(*) FROM posts.likes l WHERE l.post_id = p.id) OR
          comment_count <> (SELECT count(*) FROM posts.comments c WHERE c.post_id = p.id)""",
    )
    assert wrong == []
    authors = await _fetch(clean, "SELECT DISTINCT author_id FROM posts.posts")
    assert {a for (a,) in authors} <= set(users)


async def test_seed_posts_is_reproducible_from_its_seed(clean):
    a = await seed_posts(
        clean,
        list(range(1, 11)),
        posts=2,
        likes=3,
        comments=1,
        rng=random.Random(3),
        progress=False,
    )
    b = await seed_posts(
        clean,
        list(range(1, 11)),
        posts=2,
        likes=3,
        comments=1,
        rng=random.Random(3),
        progress=False,
    )
    assert a == b
