"""Read-only queries over posts for the feed domain.

Owned by the posts domain: the SQL against `posts.*` lives here and the feed calls these
functions (DESIGN.md, data ownership). `recent_post_ids` returns a composable `Select` so the
feed's backfill is one `INSERT ... SELECT`; its column names are the contract. Only
published posts (resolvers/posts/publication.py) are ever handed to the feed.
"""

from __future__ import annotations

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
        .where(Post.author_id == author_id, Post.published_at.is_not(None))
        .order_by(Post.id.desc())
        .limit(limit)
    )


async def popular_posts(
    session: AsyncSession, *, since_id: int, limit: int
) -> list[tuple[int, int]]:
    """The most liked posts with ID >= `since_id` (i.e. recent), as (post_id, author_id)."""
    rows = await session.execute(
        select(Post.id, Post.author_id)
        .where(Post.id >= since_id, Post.published_at.is_not(None))
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
        )
        .order_by(Post.id.desc())
        .limit(limit)
    )
