"""Event types, ids and the one batched statement that records events exactly once.

Every accepted event, from a client (trackEvents) or from a domain event (outbox), goes
through `record()`: one multi-row statement (unnest of column arrays) that
  1. inserts the event ids into the dedup ledger `analytics.event_ids` (ON CONFLICT DO
     NOTHING), which decides which events are new,
  2. inserts the new ones into the partitioned `analytics.events`,
  3. queues the ones that feed a rollup in `analytics.rollup_queue`.
All three commit together, so an event is either recorded and queued once, or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from models.db import Database
from resolvers.analytics.partitions import ensure_partitions
from resolvers.runtime import Resources

# Types clients may send, and what each requires.
CLIENT_TYPES: dict[str, str | None] = {
    "POST_VIEW": "postId",
    "SHARE": "postId",
    "PROFILE_VIEW": "userId",
    "APP_OPEN": None,
}
# Types recorded by the server from domain events (outbox), never accepted from clients.
DOMAIN_TYPES = frozenset(
    {"POST_CREATED", "POST_DELETED", "LIKE", "UNLIKE", "COMMENT", "FOLLOW", "UNFOLLOW"}
)
# Types that feed a rollup (the others are kept raw only).
ROLLED_UP = frozenset(
    {"POST_VIEW", "SHARE", "PROFILE_VIEW", "LIKE", "UNLIKE", "COMMENT", "FOLLOW", "UNFOLLOW"}
)

_NAMESPACE = uuid.UUID("6f1d2c1e-8f0a-4b8e-9a59-0c6d4e6b7a10")


def client_event_uuid(actor_id: int | None, client_id: str) -> uuid.UUID:
    """The dedup key of a client event: scoped to its sender, so ids never collide across
    users and nobody can pre-empt another user's ids."""
    return uuid.uuid5(_NAMESPACE, f"c:{actor_id or 0}:{client_id}")


def domain_event_uuid(event_id: str) -> uuid.UUID:
    """The dedup key of a domain event: from the outbox event id ("<schema>:<row id>")."""
    return uuid.uuid5(_NAMESPACE, f"d:{event_id}")


@dataclass(frozen=True)
class Row:
    """One event ready to record."""

    event_id: uuid.UUID
    occurred_at: datetime
    type: str
    source: str
    client_event_id: str
    actor_id: int | None = None
    post_id: int | None = None
    user_id: int | None = None
    owner_id: int | None = None


_RECORD = text(
    """
    WITH input AS (
        SELECT * FROM unnest(
            CAST(:event_id AS uuid[]), CAST(:occurred_at AS timestamptz[]),
            CAST(:type AS text[]), CAST(:source AS text[]), CAST(:client_event_id AS text[]),
            CAST(:actor_id AS bigint[]), CAST(:post_id AS bigint[]), CAST(:user_id AS bigint[]),
            CAST(:owner_id AS bigint[])
        ) AS t(event_id, occurred_at, type, source, client_event_id, actor_id, post_id,
               user_id, owner_id)
    ),
    fresh AS (
        INSERT INTO analytics.event_ids (event_id)
        SELECT event_id FROM input
        ON CONFLICT (event_id) DO NOTHING
        RETURNING event_id
    ),
    raw AS (
        INSERT INTO analytics.events (event_id, occurred_at, type, source, client_event_id,
                                      actor_id, post_id, user_id, owner_id)
        SELECT i.event_id, i.occurred_at, i.type, i.source, i.client_event_id, i.actor_id,
               i.post_id, i.user_id, i.owner_id
        FROM input i JOIN fresh f ON f.event_id = i.event_id
        RETURNING type, occurred_at, post_id, user_id, owner_id
    ),
    queued AS (
        INSERT INTO analytics.rollup_queue (type, occurred_at, post_id, user_id, owner_id)
        SELECT type, occurred_at, post_id, user_id, owner_id FROM raw
        WHERE type = ANY(CAST(:rolled_up AS text[]))
    )
    SELECT event_id FROM fresh
    """
)


def _is_missing_partition(exc: DBAPIError) -> bool:
    return "no partition of relation" in str(exc.orig)


def _record_params(rows: Sequence[Row]) -> dict[str, Any]:
    """`_RECORD`'s parameters: the rows as column arrays."""
    # One lock order for every batch: two batches sharing ids (a client retrying while its
    # first attempt is still in flight) then wait on each other instead of deadlocking.
    rows = sorted(rows, key=lambda r: r.event_id)
    return {
        "event_id": [r.event_id for r in rows],
        "occurred_at": [r.occurred_at for r in rows],
        "type": [r.type for r in rows],
        "source": [r.source for r in rows],
        "client_event_id": [r.client_event_id for r in rows],
        "actor_id": [r.actor_id for r in rows],
        "post_id": [r.post_id for r in rows],
        "user_id": [r.user_id for r in rows],
        "owner_id": [r.owner_id for r in rows],
        "rolled_up": sorted(ROLLED_UP),
    }


async def record_in(session: AsyncSession | AsyncConnection, rows: Sequence[Row]) -> set[uuid.UUID]:
    """Record `rows` in the caller's transaction; returns the ids that were new."""
    if not rows:
        return set()
    result = await session.execute(_RECORD, _record_params(rows))
    return {r[0] for r in result}


async def record_alone(db: Database, rows: Sequence[Row]) -> set[uuid.UUID]:
    """Record `rows` in ONE statement of their own: atomic alone, so in autocommit, on
    asyncpg itself (`Database.rows`); returns the ids that were new."""
    if not rows:
        return set()
    return {r[0] for r in await db.rows(_RECORD, _record_params(rows))}


def days_of(rows: Sequence[Row]) -> set[date]:
    return {r.occurred_at.date() for r in rows}


async def record(res: Resources, rows: Sequence[Row]) -> set[uuid.UUID]:
    """Record `rows` in a transaction of its own. A row whose day has no partition yet
    (the cron has not run) makes the partition and retries once."""
    if not rows:
        return set()
    try:
        async with res.db.transaction() as session:
            return await record_in(session, rows)
    except DBAPIError as exc:
        if not _is_missing_partition(exc):
            raise
    days = days_of(rows)
    await ensure_partitions(res, min(days), max(days))
    async with res.db.transaction() as session:
        return await record_in(session, rows)
