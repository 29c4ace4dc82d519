"""COPY-speed loading of accounts and follows, for `puppies seed --scale` (users' SQL).

`bulk.py` inserts through unnest() for the demo seed; a 5,000,000-edge graph needs COPY
(asyncpg `copy_records_to_table`). Callers supply IDs (time-ordered, minted in the past so
they never meet `public.next_id()`'s), then call `bulk.recount` for the counters.
Also the graph queries bulk builders compose (the feed's inbox build).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.users import Follow, User

USER_COLUMNS = (
    "id",
    "username",
    "email",
    "password_hash",
    "display_name",
    "created_at",
    "updated_at",
)
FOLLOW_COLUMNS = ("follower_id", "followee_id", "id", "created_at")


async def copy_users(conn: asyncpg.Connection, records: Iterable[Sequence[Any]]) -> None:
    """Rows of USER_COLUMNS."""
    await conn.copy_records_to_table(
        "users", schema_name="users", columns=USER_COLUMNS, records=records
    )


async def copy_follows(conn: asyncpg.Connection, records: Iterable[Sequence[Any]]) -> None:
    """Rows of FOLLOW_COLUMNS. Counters are not touched: call `bulk.recount` after."""
    await conn.copy_records_to_table(
        "follows", schema_name="users", columns=FOLLOW_COLUMNS, records=records
    )


async def analyze(conn: asyncpg.Connection) -> None:
    await conn.execute("ANALYZE users.users")
    await conn.execute("ANALYZE users.follows")


def follow_edges(follower_ids: Sequence[int]) -> Select[int, int]:
    """Follow edges of the given followers (columns `follower_id`, `followee_id`)."""
    return select(
        Follow.follower_id.label("follower_id"), Follow.followee_id.label("followee_id")
    ).where(Follow.follower_id.in_(list(follower_ids)))


def edges_to(followee_ids: Sequence[int]) -> Select[int, int]:
    """Follow edges into the given accounts (columns `follower_id`, `followee_id`)."""
    return select(
        Follow.follower_id.label("follower_id"), Follow.followee_id.label("followee_id")
    ).where(Follow.followee_id.in_(list(followee_ids)))


async def accounts_with_followers(session: AsyncSession, at_least: int) -> list[tuple[int, int]]:
    """(user id, follower count) of every account with at least that many followers."""
    rows = await session.execute(
        select(User.id, User.follower_count)
        .where(User.follower_count >= at_least)
        .order_by(User.follower_count.desc())
    )
    return [(int(r[0]), int(r[1])) for r in rows]


async def all_user_ids(session: AsyncSession) -> list[int]:
    return [int(r[0]) for r in await session.execute(select(User.id).order_by(User.id))]


async def users_by_following(session: AsyncSession, around: int, n: int) -> list[int]:
    """Up to n accounts following about `around` others (benchmarks pick viewers by this)."""
    rows = await session.execute(
        select(User.id)
        .where(User.following_count.between(int(around * 0.9), int(around * 1.1) + 1))
        .order_by(User.id)
        .limit(n)
    )
    return [int(r[0]) for r in rows]


async def users_by_followers(session: AsyncSession, around: int, n: int) -> list[tuple[int, int]]:
    """Up to n (id, follower count) with about `around` followers, closest first."""
    rows = await session.execute(
        select(User.id, User.follower_count)
        .order_by((User.follower_count - around) * (User.follower_count - around))
        .limit(n)
    )
    return [(int(r[0]), int(r[1])) for r in rows]
