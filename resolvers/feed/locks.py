"""Per-author advisory locks that order the feed's writers against each other.

Fan-out batches, VIP promotion/demotion batches take the author's lock SHARED (they may run
side by side); unfollow and post deletion take it EXCLUSIVE. So a removal never interleaves
with a batch that read the follower list or the post before the removal committed: either
the batch commits first (and the removal deletes what it wrote) or the removal commits first
(and the batch no longer sees the follow or the post).

Order: a transaction that also locks a `feed.fanout` row takes the author's lock first
(post deletion: exclusive, then the row; a fan-out batch: shared, then the row), so two of
them cannot wait on each other (a deadlock PostgreSQL would end by aborting one).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_SHARED = text("SELECT pg_advisory_xact_lock_shared(hashtext('feed.author'), hashint8(:a))")
# the author of a fan-out row, read without locking the row (it never changes)
_SHARED_OF_FANOUT = text(
    "SELECT pg_advisory_xact_lock_shared(hashtext('feed.author'), hashint8(author_id)) "
    "FROM feed.fanout WHERE post_id = :p"
)
# `_SHARED_OF_FANOUT` and `SET LOCAL synchronous_commit = off` in one statement (a fan-out
# batch's first; resolvers/feed/fanout.py)
SHARED_OF_FANOUT_ASYNC_COMMIT = text(
    "SELECT set_config('synchronous_commit', 'off', true), "
    "pg_advisory_xact_lock_shared(hashtext('feed.author'), hashint8(author_id)) "
    "FROM feed.fanout WHERE post_id = :p"
)
_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(hashtext('feed.author'), hashint8(:a))")


async def author_shared(session: AsyncSession, author_id: int) -> None:
    await session.execute(_SHARED, {"a": author_id})


async def author_shared_of_fanout(session: AsyncSession, post_id: int) -> None:
    """`author_shared` for the author of the post's fan-out row, before locking the row."""
    await session.execute(_SHARED_OF_FANOUT, {"p": post_id})


async def author_exclusive(session: AsyncSession, author_id: int) -> None:
    await session.execute(_EXCLUSIVE, {"a": author_id})
