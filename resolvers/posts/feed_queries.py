"""Read-only queries over posts for other domains (the feed, notifications).

Owned by the posts domain: the SQL against `posts.*` lives here and the feed calls these
functions (DESIGN.md, data ownership). `recent_post_ids` returns a composable `Select` so the
feed's backfill is one `INSERT ... SELECT`; its column names are the contract. Only
published posts (resolvers/posts/publication.py) are ever handed to the feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import SelectBase

from models.posts import Post


def recent_post_ids(author_id: int, limit: int) -> Select[Any]:
    """The author's newest `limit` posts, newest first (column `post_id`); one range scan of
    ix_posts_posts_author_id_id."""
    return (
        select(Post.id.label("post_id"))
        .where(
            Post.author_id == author_id,
            Post.published_at.is_not(None),
            Post.deleted_at.is_(None),
        )
        .order_by(Post.id.desc())
        .limit(limit)
    )


async def popular_posts(
    session: AsyncSession, *, since_id: int, limit: int
) -> list[tuple[int, int]]:
    """The most liked posts with ID >= `since_id` (i.e. recent), as (post_id, author_id)."""
    rows = await session.execute(
        select(Post.id, Post.author_id)
        .where(Post.id >= since_id, Post.published_at.is_not(None), Post.deleted_at.is_(None))
        .order_by(Post.like_count.desc(), Post.id.desc())
        .limit(limit)
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def posts_by_authors(author_ids: SelectBase, before_id: int, limit: int) -> Select[int, int]:
    """Newest posts of any of `author_ids` (a one-column select) below `before_id`: the pure
    fan-out-on-read query, used by the feed benchmark as the baseline."""
    return (
        select(Post.id.label("post_id"), Post.author_id.label("author_id"))
        .where(
            Post.author_id.in_(author_ids.scalar_subquery()),
            Post.id < before_id,
            Post.published_at.is_not(None),
            Post.deleted_at.is_(None),
        )
        .order_by(Post.id.desc())
        .limit(limit)
    )


def live_post_sql(post_column: str) -> str:
    """SQL text: the post in `post_column` exists and is not deleted (one primary-key probe),
    for the feed's page read, so a deleted post leaves every feed at once, before the
    feed's own clean-up job runs."""
    return (
        f"EXISTS (SELECT 1 FROM posts.posts lp WHERE lp.id = {post_column} "
        "AND lp.deleted_at IS NULL)"
    )


def live_comment_sql(comment_column: str) -> str:
    """SQL text: the comment in `comment_column` exists, on a post not deleted."""
    return (
        f"EXISTS (SELECT 1 FROM posts.comments lc JOIN posts.posts lcp ON lcp.id = lc.post_id "
        f"WHERE lc.id = {comment_column} AND lcp.deleted_at IS NULL)"
    )


async def live_post_ids(session: AsyncSession, ids: Sequence[int]) -> set[int]:
    """Which of `ids` are posts that exist and are not deleted."""
    if not ids:
        return set()
    rows = await session.execute(
        select(Post.id).where(Post.id.in_(list(ids)), Post.deleted_at.is_(None))
    )
    return {int(r[0]) for r in rows}
