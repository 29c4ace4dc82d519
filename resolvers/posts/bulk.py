"""Bulk writes for `puppies seed` (the posts domain's SQL): text posts (published at once)
with their `post.published` events, likes, comments, and exact counters afterwards."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models.outbox import outbox_table
from models.posts import SCHEMA, Comment, Like, Post
from resolvers.posts.publication import PUBLISHED, count_post, recount_post_counts
from resolvers.runtime import Resources


async def insert_posts(res: Resources, rows: Sequence[tuple[int, str]]) -> list[int]:
    """(author_id, text) rows -> post ids, with one `post.published` outbox row each."""
    if not rows:
        return []
    outbox = outbox_table(SCHEMA)
    async with res.db.transaction() as session:
        created = (
            await session.execute(
                insert(Post).returning(Post.id, Post.author_id, Post.created_at, Post.published_at),
                [{"author_id": a, "text": t} for a, t in rows],
            )
        ).all()
        await session.execute(
            insert(outbox),
            [
                {
                    "event_type": PUBLISHED,
                    "aggregate_id": r.id,
                    "payload": {
                        "post_id": r.id,
                        "author_id": r.author_id,
                        "created_at": r.created_at.isoformat(),
                        "published_at": r.published_at.isoformat(),
                    },
                }
                for r in created
            ],
        )
        for author, n in Counter(r.author_id for r in created).items():
            await count_post(session, author, published=n)
    return [r.id for r in created]


async def insert_likes(res: Resources, pairs: Sequence[tuple[int, int]]) -> None:
    """(post_id, user_id) pairs; repeats are ignored."""
    if not pairs:
        return
    async with res.db.transaction() as session:
        await session.execute(
            pg_insert(Like).on_conflict_do_nothing(),
            [{"post_id": p, "user_id": u} for p, u in pairs],
        )


async def insert_comments(res: Resources, rows: Sequence[tuple[int, int, str]]) -> None:
    """(post_id, author_id, text) rows."""
    if not rows:
        return
    async with res.db.transaction() as session:
        await session.execute(
            insert(Comment), [{"post_id": p, "author_id": a, "text": t} for p, a, t in rows]
        )


async def recount_all(res: Resources) -> None:
    """Set every post's like_count and comment_count, and every author's post counts, from
    the rows."""
    async with res.db.transaction() as session:
        await recount_post_counts(session)
        await session.execute(
            text(
                "UPDATE posts.posts p SET like_count = coalesce(l.n, 0), "
                "comment_count = coalesce(c.n, 0) FROM posts.posts q "
                "LEFT JOIN (SELECT post_id, count(*) AS n FROM posts.likes GROUP BY post_id) l "
                "ON l.post_id = q.id "
                "LEFT JOIN (SELECT post_id, count(*) AS n FROM posts.comments GROUP BY post_id) c "
                "ON c.post_id = q.id WHERE p.id = q.id"
            )
        )


async def authors_with_posts(res: Resources, author_ids: Sequence[int]) -> set[int]:
    """Which of `author_ids` have at least one post (`puppies seed` skips them)."""
    if not author_ids:
        return set()
    async with res.db.session() as session:
        rows = await session.execute(
            select(Post.author_id).where(Post.author_id.in_(list(author_ids))).distinct()
        )
        return {int(r) for r in rows.scalars()}


async def count_posts(res: Resources) -> int:
    async with res.db.session() as session:
        return int((await session.execute(select(text("count(*)")).select_from(Post))).scalar_one())
