"""Follows: idempotent edges with exact counters, and batched follower/following pages.

`follow` is one statement: INSERT ... ON CONFLICT DO NOTHING feeding an UPDATE of both
users' counters, so the counters move only when an edge is really created, in the same
transaction as the edge (and the `user.followed` outbox event). Concurrent follows of one
pair serialize on the primary key: one inserts, the rest do nothing. Both counter rows are
locked in id order (an index scan over a sorted IN list), and a deadlock is retried anyway.

A block between the two accounts (either way) refuses the follow. The follow statement
checks it after taking the pair's lock (`pair_lock`), which `blocks.block` takes too before
it removes the follows: whichever commits first, the other sees it, so a follow can never
survive a concurrent block.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, Integer

from models.outbox import emit
from models.users import SCHEMA
from puppies.pagination import Page, PageRequest, page_from_rows
from resolvers.errors import BadInput, Forbidden, NotFound
from resolvers.runtime import Resources

_FOLLOW = text("""
    WITH blocked AS (
        SELECT EXISTS (SELECT 1 FROM users.blocks WHERE blocker_id = :a AND blocked_id = :b)
                   AS mine,
               EXISTS (SELECT 1 FROM users.blocks WHERE blocker_id = :b AND blocked_id = :a)
                   AS theirs
    ), ins AS (
        INSERT INTO users.follows (follower_id, followee_id)
        SELECT :a, :b FROM blocked WHERE NOT (blocked.mine OR blocked.theirs)
        ON CONFLICT DO NOTHING RETURNING id
    ), upd AS (
        UPDATE users.users u
           SET following_count = u.following_count + (u.id = :a)::int,
               follower_count = u.follower_count + (u.id = :b)::int
          FROM ins
         WHERE u.id IN (:a, :b)
        RETURNING ins.id
    )
    SELECT blocked.mine, blocked.theirs, EXISTS (SELECT 1 FROM upd) AS changed FROM blocked
""")
_PAIR_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")

_UNFOLLOW = text("""
    WITH del AS (
        DELETE FROM users.follows WHERE follower_id = :a AND followee_id = :b RETURNING id
    )
    UPDATE users.users u
       SET following_count = u.following_count - (u.id = :a)::int,
           follower_count = u.follower_count - (u.id = :b)::int
      FROM del
     WHERE u.id IN (:a, :b)
    RETURNING del.id
""")

_PAGES = """
    SELECT q.ord, f.id, f.{other}
      FROM unnest(:uids, :afters, :limits) WITH ORDINALITY AS q(uid, after, lim, ord)
      CROSS JOIN LATERAL (
            SELECT id, {other} FROM users.follows
             WHERE {mine} = q.uid AND (q.after IS NULL OR id < q.after)
             ORDER BY id DESC LIMIT q.lim
      ) f
     ORDER BY q.ord, f.id DESC
"""


def _pages_sql(mine: str, other: str) -> TextClause:
    return text(_PAGES.format(mine=mine, other=other)).bindparams(
        bindparam("uids", type_=ARRAY(BigInteger)),
        bindparam("afters", type_=ARRAY(BigInteger)),
        bindparam("limits", type_=ARRAY(Integer)),
    )


_FOLLOWERS = _pages_sql("followee_id", "follower_id")
_FOLLOWING = _pages_sql("follower_id", "followee_id")

_VIEWER_FOLLOWS = text(
    "SELECT followee_id FROM users.follows WHERE follower_id = :viewer AND followee_id = ANY(:ids)"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))

_RETRIES = 3


def _is_deadlock(exc: DBAPIError) -> bool:
    return "deadlock" in str(exc.orig).lower()


async def pair_lock(session: AsyncSession, a: int, b: int) -> None:
    """Serialize follows and blocks of one pair of accounts (either direction) until the
    caller's transaction ends."""
    lo, hi = sorted((a, b))
    await session.execute(_PAIR_LOCK, {"k": f"users.pair:{lo}:{hi}"})


async def _follow_statement(session: AsyncSession, follower_id: int, followee_id: int) -> bool:
    await pair_lock(session, follower_id, followee_id)
    row = (await session.execute(_FOLLOW, {"a": follower_id, "b": followee_id})).one()
    if row.mine:
        raise Forbidden("you block this account; unblock it to follow it", field="userId")
    if row.theirs:
        raise Forbidden("you cannot follow this account", field="userId")
    return bool(row.changed)


async def _unfollow_statement(session: AsyncSession, follower_id: int, followee_id: int) -> bool:
    return (
        await session.execute(_UNFOLLOW, {"a": follower_id, "b": followee_id})
    ).first() is not None


async def remove_follow(session: AsyncSession, follower_id: int, followee_id: int) -> bool:
    """Remove the edge (counters and the `user.unfollowed` event included) in the caller's
    transaction; True if it existed."""
    removed = await _unfollow_statement(session, follower_id, followee_id)
    if removed:
        await emit(
            session,
            SCHEMA,
            "user.unfollowed",
            {"follower_id": follower_id, "followee_id": followee_id},
            aggregate_id=followee_id,
        )
    return removed


Statement = Callable[[AsyncSession, int, int], Awaitable[bool]]


async def _change(
    res: Resources, statement: Statement, follower_id: int, followee_id: int, event: str
) -> bool:
    if follower_id == followee_id:
        verb = "follow" if event == "user.followed" else "unfollow"
        raise BadInput(f"you cannot {verb} yourself", field="userId")
    for attempt in range(_RETRIES):
        try:
            async with res.db.transaction() as session:
                changed = await statement(session, follower_id, followee_id)
                if changed:
                    await emit(
                        session,
                        SCHEMA,
                        event,
                        {"follower_id": follower_id, "followee_id": followee_id},
                        aggregate_id=followee_id,
                    )
                return changed
        except IntegrityError:
            raise NotFound(f"no user with id {followee_id}", field="userId") from None
        except DBAPIError as exc:
            if not _is_deadlock(exc) or attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def follow(res: Resources, follower_id: int, followee_id: int) -> bool:
    """Create the edge; True if it is new, False if it existed. Emits `user.followed`."""
    return await _change(res, _follow_statement, follower_id, followee_id, "user.followed")


async def unfollow(res: Resources, follower_id: int, followee_id: int) -> bool:
    """Remove the edge; True if it existed. Emits `user.unfollowed`."""
    return await _change(res, _unfollow_statement, follower_id, followee_id, "user.unfollowed")


async def _pages(
    res: Resources, statement: TextClause, requests: Sequence[tuple[int, PageRequest]]
) -> list[Page[int]]:
    params = {
        "uids": [uid for uid, _ in requests],
        "afters": [r.after for _, r in requests],
        "limits": [r.first + 1 for _, r in requests],
    }
    async with res.db.read() as session:
        rows = (await session.execute(statement, params)).all()
    grouped: list[list[tuple[int, int]]] = [[] for _ in requests]
    for ord_, key, other in rows:
        grouped[ord_ - 1].append((key, other))
    return [page_from_rows(g, r) for g, (_, r) in zip(grouped, requests, strict=True)]


async def followers_pages(
    res: Resources, requests: Sequence[tuple[int, PageRequest]]
) -> list[Page[int]]:
    """For each (user id, page request), a page of follower ids, newest follow first."""
    return await _pages(res, _FOLLOWERS, requests)


async def following_pages(
    res: Resources, requests: Sequence[tuple[int, PageRequest]]
) -> list[Page[int]]:
    """For each (user id, page request), a page of followed ids, newest follow first."""
    return await _pages(res, _FOLLOWING, requests)


async def viewer_follows(res: Resources, viewer_id: int, ids: Sequence[int]) -> list[bool]:
    async with res.db.read() as session:
        rows = (
            await session.execute(_VIEWER_FOLLOWS, {"viewer": viewer_id, "ids": list(set(ids))})
        ).all()
    followed = {r[0] for r in rows}
    return [i in followed for i in ids]


async def follower_ids(
    res: Resources, user_id: int, *, limit: int, after: int | None = None
) -> Page[int]:
    """A page of follower ids (for other domains' workers, e.g. feed fan-out)."""
    return (await followers_pages(res, [(user_id, PageRequest(limit, after))]))[0]
