"""Bulk loading of posts, for `puppies seed --scale` (the posts domain's SQL).

COPY through asyncpg. Callers supply time-ordered IDs minted in the past, so the seeded posts
sort by creation time like real ones and never meet `public.next_id()`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
from sqlalchemy import Select, select

from models.posts import Post

POST_COLUMNS = ("id", "author_id", "text", "created_at")


async def copy_posts(conn: asyncpg.Connection, records: Iterable[Sequence[Any]]) -> None:
    """Rows of POST_COLUMNS (like/comment counters start at 0)."""
    await conn.copy_records_to_table(
        "posts", schema_name="posts", columns=POST_COLUMNS, records=records
    )


async def analyze_posts(conn: asyncpg.Connection) -> None:
    await conn.execute("ANALYZE posts.posts")


def all_posts() -> Select[int, int]:
    """Every published post (columns `post_id`, `author_id`), to join against in bulk
    builds."""
    return select(Post.id.label("post_id"), Post.author_id.label("author_id")).where(
        Post.published_at.is_not(None)
    )


async def count_posts_by_author(conn: asyncpg.Connection) -> None:
    """Every author's post counters from the rows (after a COPY, which writes none)."""
    async with conn.transaction():
        await conn.execute("DELETE FROM posts.post_counts")
        await conn.execute(
            "INSERT INTO posts.post_counts (author_id, published, unpublished) "
            "SELECT author_id, count(*) FILTER (WHERE published_at IS NOT NULL), "
            "count(*) FILTER (WHERE published_at IS NULL) FROM posts.posts "
            "WHERE deleted_at IS NULL GROUP BY author_id"
        )
