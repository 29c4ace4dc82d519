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


async def _execute(settings, sql: str) -> None:
    db = Database(settings)
    try:
        async with db.transaction() as s:
            await s.execute(text(sql))
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
               (SELECT count(*) FROM posts.outbox WHERE event_type = 'post.published')""",
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
    async def run() -> tuple[object, list]:
        out = await seed_posts(
            clean,
            list(range(1, 11)),
            posts=2,
            likes=3,
            comments=1,
            rng=random.Random(3),
            progress=False,
        )
        rows = await _fetch(clean, "SELECT author_id, text FROM posts.posts ORDER BY id")
        return out, rows

    first = await run()
    await _execute(clean, "TRUNCATE posts.posts, posts.likes, posts.comments, posts.outbox CASCADE")
    assert await run() == first


async def test_seed_posts_twice_adds_nothing_and_new_accounts_get_posts(clean):
    def once(users):
        return seed_posts(
            clean, users, posts=2, likes=3, comments=1, rng=random.Random(5), progress=False
        )

    first = await once(list(range(1, 21)))
    assert first.posts > 0 and first.skipped_authors == 0
    again = await once(list(range(1, 21)))
    assert (again.posts, again.likes, again.comments) == (0, 0, 0)
    authors_before = {a for (a,) in await _fetch(clean, "SELECT author_id FROM posts.posts")}
    assert again.skipped_authors == len(authors_before)
    [(count,)] = await _fetch(clean, "SELECT count(*) FROM posts.posts")
    assert count == first.posts
    more = await once(list(range(1, 31)))  # ten new accounts
    new_authors = {a for (a,) in await _fetch(clean, "SELECT author_id FROM posts.posts")}
    assert more.posts > 0 and new_authors - authors_before <= set(range(21, 31))
