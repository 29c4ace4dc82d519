"""Read-only queries over the follow graph for other domains (the feed).

Owned by the users domain: the SQL against `users.*` lives here, and other domains call these
functions (DESIGN.md, data ownership). Some return a SQLAlchemy `Select` rather than rows so
the caller can compose it into its own statement (the feed's fan-out is one
`INSERT ... SELECT` per batch of followers); the column names are the contract.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CompoundSelect, Select, exists, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from models.users import Block, Follow, Mute, User


def follower_ids_after(author_id: int, after: int, limit: int) -> Select[int, int]:
    """The next `limit` followers of `author_id` past the cursor `after` (0 = from the start).

    Columns: `follower_id`, `cursor` (pass the batch's largest `cursor` back as `after`).
    Ordered by the follow's time-ordered ID, one range scan of
    ix_users_follows_followee_id_id; follows made meanwhile come last, so none is skipped.
    """
    return (
        select(Follow.follower_id.label("follower_id"), Follow.id.label("cursor"))
        .where(Follow.followee_id == author_id, Follow.id > after)
        .order_by(Follow.id)
        .limit(limit)
    )


async def follower_count(session: AsyncSession, user_id: int) -> int:
    """The exact follower count (kept by the follow statements themselves); 0 if no user."""
    count = (
        await session.execute(select(User.follower_count).where(User.id == user_id))
    ).scalar_one_or_none()
    return int(count or 0)


async def is_following(session: AsyncSession, follower_id: int, followee_id: int) -> bool:
    return bool(
        (
            await session.execute(
                select(
                    exists().where(
                        Follow.follower_id == follower_id, Follow.followee_id == followee_id
                    )
                )
            )
        ).scalar()
    )


def followee_ids(follower_id: int) -> Select[Any]:
    """Everyone `follower_id` follows (column `followee_id`), for fan-out-on-read comparisons."""
    return select(Follow.followee_id.label("followee_id")).where(Follow.follower_id == follower_id)


def hidden_user_ids(viewer_id: int) -> CompoundSelect[Any]:
    """Accounts whose content `viewer_id` must not see, and who must not see theirs: those
    the viewer blocks and those who block the viewer (column `user_id`). For filters like
    `author_id NOT IN (...)`: two index range scans (the primary key, ix_users_blocks_blocked_id).
    """
    return union_all(
        select(Block.blocked_id.label("user_id")).where(Block.blocker_id == viewer_id),
        select(Block.blocker_id.label("user_id")).where(Block.blocked_id == viewer_id),
    )


def hidden_user_ids_sql(viewer_param: str) -> str:
    """`hidden_user_ids` as SQL text with the viewer bound as `viewer_param`."""
    p = f":{viewer_param}"
    return (
        f"SELECT blocked_id FROM users.blocks WHERE blocker_id = {p} "
        f"UNION ALL SELECT blocker_id FROM users.blocks WHERE blocked_id = {p}"
    )


def feed_hidden_authors(viewer_id: int) -> CompoundSelect[Any]:
    """Authors whose posts leave `viewer_id`'s home feed: blocked either way, or muted by
    the viewer (column `user_id`)."""
    return union_all(
        select(Block.blocked_id.label("user_id")).where(Block.blocker_id == viewer_id),
        select(Block.blocker_id.label("user_id")).where(Block.blocked_id == viewer_id),
        select(Mute.muted_id.label("user_id")).where(Mute.muter_id == viewer_id),
    )


def feed_hidden_authors_sql(viewer_param: str) -> str:
    """`feed_hidden_authors` as SQL text with the viewer as the bind parameter named
    `viewer_param`, for statements written as text (the feed's page read)."""
    p = f":{viewer_param}"
    return (
        f"SELECT blocked_id FROM users.blocks WHERE blocker_id = {p} "
        f"UNION ALL SELECT blocker_id FROM users.blocks WHERE blocked_id = {p} "
        f"UNION ALL SELECT muted_id FROM users.mutes WHERE muter_id = {p}"
    )
