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
    """Every post (columns `post_id`, `author_id`), to join against in bulk builds."""
    return select(Post.id.label("post_id"), Post.author_id.label("author_id"))
