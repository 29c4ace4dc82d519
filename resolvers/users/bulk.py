"""Bulk writes for seeding and tests: many users and follows in few statements.

Counters are recomputed from the follow rows afterwards (`recount`), so they are exact
whatever was inserted. No outbox events: bulk loads are not user actions.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import BigInteger, Text

from resolvers.runtime import Resources

_INSERT_USERS = text("""
    INSERT INTO users.users (username, email, password_hash, display_name, bio)
    SELECT u, e, :hash, d, b FROM unnest(:usernames, :emails, :names, :bios) AS t(u, e, d, b)
    ON CONFLICT DO NOTHING
    RETURNING id, username
""").bindparams(
    *(bindparam(n, type_=ARRAY(Text)) for n in ("usernames", "emails", "names", "bios"))
)

_INSERT_FOLLOWS = text("""
    INSERT INTO users.follows (follower_id, followee_id)
    SELECT a, b FROM unnest(:a, :b) AS t(a, b) WHERE a <> b
    ON CONFLICT DO NOTHING
""").bindparams(bindparam("a", type_=ARRAY(BigInteger)), bindparam("b", type_=ARRAY(BigInteger)))

_RECOUNT_ALL = [
    text(
        "UPDATE users.users SET follower_count = 0, following_count = 0 "
        "WHERE follower_count <> 0 OR following_count <> 0"
    ),
    text("""UPDATE users.users u SET follower_count = c.n
            FROM (SELECT followee_id, count(*) AS n FROM users.follows GROUP BY 1) c
            WHERE u.id = c.followee_id"""),
    text("""UPDATE users.users u SET following_count = c.n
            FROM (SELECT follower_id, count(*) AS n FROM users.follows GROUP BY 1) c
            WHERE u.id = c.follower_id"""),
]


async def insert_users(
    res: Resources, rows: Sequence[tuple[str, str, str, str]], password_hash: str
) -> dict[str, int]:
    """Insert (username, email, display name, bio) rows sharing one password hash; returns
    {username: id} of the rows inserted (existing names are skipped)."""
    if not rows:
        return {}
    async with res.db.transaction() as session:
        result = await session.execute(
            _INSERT_USERS,
            {
                "hash": password_hash,
                "usernames": [r[0] for r in rows],
                "emails": [r[1] for r in rows],
                "names": [r[2] for r in rows],
                "bios": [r[3] for r in rows],
            },
        )
        return {r.username: r.id for r in result}


async def insert_follows(res: Resources, pairs: Sequence[tuple[int, int]]) -> None:
    """Insert (follower, followee) edges; duplicates and self-follows are skipped. Call
    `recount` afterwards."""
    if not pairs:
        return
    async with res.db.transaction() as session:
        await session.execute(
            _INSERT_FOLLOWS, {"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]}
        )


async def recount(res: Resources) -> None:
    """Recompute every user's follower/following counts from the follow rows."""
    async with res.db.transaction() as session:
        for statement in _RECOUNT_ALL:
            await session.execute(statement)
