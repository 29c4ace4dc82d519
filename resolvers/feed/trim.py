"""Keeping each inbox at its cap (`feed_inbox_cap`, default 800 newest entries).

Trimming one inbox is one backward index scan to the (cap+1)-th newest entry and a range
delete below it: the scan reads up to cap+1 index entries whatever it deletes, so it is
not run on every delivery. Every path that puts a post in an inbox (a fan-out batch, the
author's own inbox, a follow's backfill) trims the inbox only when one of the
(viewer, post) pairs it inserted is in a deterministic sample of 1 in `feed_trim_every`
(`sample_condition`), so an inbox overshoots the cap by about that many entries on average
whichever way its entries came, and a post does not pay a trim per inbox. A fan-out trims
after the post's deliveries committed, so trimming never delays a post becoming visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, Select, Table, bindparam, func, literal, select, text
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.feed import InboxEntry

INBOX = cast(Table, InboxEntry.__table__)

TRIM_MANY = text(
    "DELETE FROM feed.inbox i USING ("
    "  SELECT v.viewer_id, ("
    "    SELECT x.post_id FROM feed.inbox x WHERE x.viewer_id = v.viewer_id "
    "    ORDER BY x.post_id DESC OFFSET :cap LIMIT 1"
    "  ) AS edge FROM unnest(CAST(:viewers AS bigint[])) AS v(viewer_id)"
    ") t WHERE i.viewer_id = t.viewer_id AND i.post_id <= t.edge"
)


def sample_condition(viewer: str, post: str | int, every: int) -> object:
    """Deterministic 1-in-`every` sample of (viewer, post) pairs, for trimming: `viewer`
    is an SQL expression, `post` one too or a post id.

    A post id and the rate are bound parameters, not literals in the SQL: a statement with
    the post id in its text missed SQLAlchemy's compiled cache and was compiled again for
    every batch of every fan-out (most of a small fan-out's CPU, bench/RESULTS.md)."""
    if every <= 1:
        return literal(True)
    params = [bindparam("sample_every", int(every), type_=Integer)]
    if isinstance(post, int):
        params.append(bindparam("sample_post", post, type_=BigInteger))
        post = ":sample_post"
    return text(f"(hashint8(({viewer}) # ({post})) & 2147483647) % :sample_every = 0").bindparams(
        *params
    )


def sampled_insert(insert: Insert, every: int) -> Select[Any]:
    """The statement `insert_sampled` runs: (rows inserted, the viewers whose inboxes a new
    row picked for trimming). `sample_every` is a bound parameter (its value `every` by
    default), so a statement built once serves any rate."""
    ins = insert.returning(INBOX.c.viewer_id, INBOX.c.post_id).cte("ins")
    sampled = sample_condition("ins.viewer_id", "ins.post_id", max(2, every))
    return select(
        select(func.count()).select_from(ins).scalar_subquery(),
        select(func.array_agg(ins.c.viewer_id.distinct()))
        .where(sampled)  # type: ignore[arg-type]
        .scalar_subquery(),
    )


async def insert_sampled(
    session: AsyncSession, insert: Insert, every: int
) -> tuple[int, list[int]]:
    """Run `insert` (into feed.inbox, ON CONFLICT DO NOTHING) in the same statement as its
    sample: (rows inserted, the viewers whose inboxes a new row picked for trimming)."""
    stmt = sampled_insert(insert, every)
    inserted, viewers = (await session.execute(stmt, {"sample_every": every})).one()
    return int(inserted), list(viewers or [])


async def trim_inboxes(session: AsyncSession, viewer_ids: Sequence[int], cap: int) -> int:
    """Delete all but the newest `cap` entries of each inbox; returns rows deleted."""
    if not viewer_ids:
        return 0
    result = await session.execute(TRIM_MANY, {"viewers": list(viewer_ids), "cap": cap})
    return int(getattr(result, "rowcount", 0) or 0)
