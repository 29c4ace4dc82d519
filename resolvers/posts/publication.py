"""Publication: when a post becomes visible, and who may see it before.

A post without media is published as it is created. A post with media is published when
its last medium becomes READY, in the transaction that makes it READY (which holds the
post's row lock, so two media finishing at once publish it exactly once). Until then it
is visible to its author only: not in feeds, lists or `post` for anyone else, not
likeable, commentable or subscribable by them. Its `post.published` event (feed fan-out,
analytics' authorship) is written at publication, in the same transaction. A post whose
media failed is never published; its author sees why and may delete it.

`post_counts` keeps, per author, how many posts are published and how many are not, in
the same transaction as each create, publish and delete (a profile's post count and a
list's `totalCount` are one primary-key read; `deletePost` takes the post out at once, the
purge job deletes the row later).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox import emit
from models.posts import SCHEMA, Media, Post, PostCount
from resolvers.posts.records import PostRecord
from resolvers.runtime import Resources
from resolvers.users.graph_queries import hidden_user_ids

PUBLISHED = "post.published"


def visible_to(post: PostRecord, viewer_id: int | None) -> bool:
    return post.published_at is not None or post.author_id == viewer_id


def visible_clause(viewer_id: int | None) -> ColumnElement[bool]:
    """SQL: the posts `viewer_id` may see (published ones, and their own)."""
    published = Post.published_at.is_not(None)
    return published if viewer_id is None else or_(published, Post.author_id == viewer_id)


async def count_post(
    session: AsyncSession, author_id: int, *, published: int = 0, unpublished: int = 0
) -> None:
    """Add to an author's counters (negative to remove), in the caller's transaction."""
    stmt = pg_insert(PostCount).values(
        author_id=author_id, published=published, unpublished=unpublished
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[PostCount.author_id],
            set_={
                "published": PostCount.published + stmt.excluded.published,
                "unpublished": PostCount.unpublished + stmt.excluded.unpublished,
            },
        )
    )


async def emit_published(session: AsyncSession, post: Post) -> None:
    assert post.published_at is not None
    await emit(
        session,
        SCHEMA,
        PUBLISHED,
        {
            "post_id": post.id,
            "author_id": post.author_id,
            "created_at": post.created_at.isoformat(),
            "published_at": post.published_at.isoformat(),
        },
        aggregate_id=post.id,
    )


async def publish_if_ready(session: AsyncSession, post: Post) -> bool:
    """Publish `post` (locked FOR UPDATE by the caller, in its transaction) when every one
    of its media is READY. True when this call published it."""
    if post.published_at is not None or post.deleted_at is not None:
        return False  # a deleted post left the counts at deletePost and is never published
    waiting = (
        await session.execute(
            select(func.count())
            .select_from(Media)
            .where(Media.post_id == post.id, Media.status != "READY")
        )
    ).scalar_one()
    if waiting:
        return False
    post.published_at = datetime.now(UTC)
    await session.flush()
    await count_post(session, post.author_id, published=1, unpublished=-1)
    await emit_published(session, post)
    return True


async def post_counts(
    res: Resources, author_ids: Sequence[int], viewer_id: int | None = None
) -> dict[int, tuple[int, int]]:
    """(published, unpublished) per author; authors without posts, and authors a block
    stands between with `viewer_id` (docs/social.md), are left out. One statement."""
    if not author_ids:
        return {}
    stmt = select(PostCount.author_id, PostCount.published, PostCount.unpublished).where(
        PostCount.author_id.in_(list(set(author_ids)))
    )
    if viewer_id is not None:
        stmt = stmt.where(PostCount.author_id.not_in(hidden_user_ids(viewer_id)))
    async with res.db.session() as session:
        rows = await session.execute(stmt)
    return {int(a): (int(p), int(u)) for a, p, u in rows}


async def recount_post_counts(session: AsyncSession) -> None:
    """Every author's counters from the rows (after bulk loads)."""
    await session.execute(text("DELETE FROM posts.post_counts"))
    await session.execute(
        text(
            "INSERT INTO posts.post_counts (author_id, published, unpublished) "
            "SELECT author_id, count(*) FILTER (WHERE published_at IS NOT NULL), "
            "count(*) FILTER (WHERE published_at IS NULL) FROM posts.posts "
            "WHERE deleted_at IS NULL GROUP BY author_id"
        )
    )
