"""Domain events (from the outbox) -> raw analytics events, each recorded exactly once.

The dedup key of a domain event derives from its outbox id, so a redelivered job (arq is
at least once) finds its id in the ledger and records nothing. post.published / post.deleted
also maintain analytics' own projection of who wrote which post (`analytics.posts`), in
the same transaction as the raw event.

Payloads (docs/events.md): post.published/deleted {post_id, author_id}, post.liked/unliked
{post_id, user_id (the liker), author_id (the post's author)}, comment.created
{comment_id, post_id, author_id (the commenter)}, user.followed/unfollowed
{follower_id, followee_id}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox import Event
from resolvers.analytics.events import Row, domain_event_uuid, record_alone, record_in
from resolvers.analytics.partitions import ensure_partitions
from resolvers.runtime import Resources

# outbox event type -> analytics event type
DOMAIN_EVENT_TYPES: dict[str, str] = {
    "post.published": "POST_CREATED",  # a post became visible (with its media READY)
    "post.created": "POST_CREATED",  # the same, written before publication existed
    "post.deleted": "POST_DELETED",
    "post.liked": "LIKE",
    "post.unliked": "UNLIKE",
    "comment.created": "COMMENT",
    "post.commented": "COMMENT",
    "user.followed": "FOLLOW",
    "user.unfollowed": "UNFOLLOW",
}


def _int(payload: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = payload.get(key)
        if value is not None:
            return int(value)
    return None


def to_row(event: Event) -> Row | None:
    """The raw analytics row for an outbox event (None for types analytics ignores)."""
    kind = DOMAIN_EVENT_TYPES.get(event.type)
    if kind is None:
        return None
    p = event.payload
    occurred = event.occurred_at
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    occurred = occurred.astimezone(UTC)
    actor = post = user = owner = None
    if kind in ("POST_CREATED", "POST_DELETED"):
        post = _int(p, "post_id") or event.aggregate_id
        actor = owner = _int(p, "author_id")
    elif kind in ("LIKE", "UNLIKE"):
        post = _int(p, "post_id") or event.aggregate_id
        actor = _int(p, "user_id")
        owner = _int(p, "author_id", "post_author_id")
    elif kind == "COMMENT":
        post = _int(p, "post_id") or event.aggregate_id
        actor = _int(p, "author_id", "user_id")
        owner = _int(p, "post_author_id")
    else:  # FOLLOW / UNFOLLOW: the user the event is about is the one followed
        actor = _int(p, "follower_id", "user_id")
        user = _int(p, "followee_id", "target_id", "followed_id")
    return Row(
        event_id=domain_event_uuid(event.id),
        occurred_at=occurred,
        type=kind,
        source="domain",
        client_event_id=event.id,
        actor_id=actor,
        post_id=post,
        user_id=user,
        owner_id=owner,
    )


# The types that also change analytics' own projection of posts (`_project`), in the same
# transaction as their record.
_PROJECTED = frozenset({"POST_CREATED", "POST_DELETED"})


async def _project(session: AsyncSession, row: Row) -> None:
    if row.post_id is None or row.owner_id is None:
        return
    if row.type == "POST_CREATED":
        await session.execute(
            text(
                "INSERT INTO analytics.posts (post_id, author_id, created_at) "
                "VALUES (:p, :a, :t) ON CONFLICT (post_id) DO NOTHING"
            ),
            {"p": row.post_id, "a": row.owner_id, "t": row.occurred_at},
        )
        # Views counted before this event arrived get their author now.
        for table in ("post_hourly", "post_daily"):
            await session.execute(
                text(
                    f"UPDATE analytics.{table} SET owner_id = :a "
                    "WHERE post_id = :p AND owner_id IS NULL"
                ),
                {"p": row.post_id, "a": row.owner_id},
            )
    elif row.type == "POST_DELETED":
        await session.execute(
            text(
                "INSERT INTO analytics.posts (post_id, author_id, created_at, deleted_at) "
                "VALUES (:p, :a, :t, :t) "
                "ON CONFLICT (post_id) DO UPDATE SET deleted_at = excluded.deleted_at"
            ),
            {"p": row.post_id, "a": row.owner_id, "t": row.occurred_at},
        )


async def record_domain_event(res: Resources, event: Event) -> bool:
    """Record one outbox event; True when it was new, False for a redelivery or an event
    analytics does not track or that is older than retention."""
    row = to_row(event)
    if row is None:
        return False
    if row.occurred_at < datetime.now(UTC) - timedelta(days=res.settings.analytics_retention_days):
        return False
    for attempt in (1, 2):
        try:
            if row.type not in _PROJECTED:  # one statement: in autocommit, one round trip
                return bool(await record_alone(res.db, [row]))
            async with res.db.transaction() as session:
                fresh = await record_in(session, [row])
                if fresh:
                    await _project(session, row)
                return bool(fresh)
        except DBAPIError as exc:
            if attempt == 2 or "no partition of relation" not in str(exc.orig):
                raise
            day = row.occurred_at.date()
            await ensure_partitions(res, day, day)
    return False


async def remember_posts(res: Resources, posts: Sequence[tuple[int, int, datetime]]) -> None:
    """Add (post id, author id, created at) to the authorship projection, as post.published
    events would (for posts written in bulk without events, e.g. by `puppies seed`)."""
    if not posts:
        return
    async with res.db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO analytics.posts (post_id, author_id, created_at) "
                "SELECT * FROM unnest(CAST(:p AS bigint[]), CAST(:a AS bigint[]), "
                "CAST(:t AS timestamptz[])) ON CONFLICT (post_id) DO NOTHING"
            ),
            {"p": [p[0] for p in posts], "a": [p[1] for p in posts], "t": [p[2] for p in posts]},
        )
