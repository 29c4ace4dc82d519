"""trackEvents: validate a client batch event by event, record the good ones in one go.

A batch over `analytics_max_batch` is refused whole (BadInput) and records nothing. Inside
an accepted batch every event is judged on its own; a rejected event gets a reason code
and a message, the others are recorded with one multi-row statement. Posts and users an
event refers to must exist: the posts and users domains are asked, one statement each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from resolvers.analytics.events import (
    CLIENT_TYPES,
    DOMAIN_TYPES,
    Row,
    client_event_uuid,
    record,
)
from resolvers.errors import BadInput
from resolvers.ids import try_parse_id
from resolvers.posts.posts import visible_post_ids
from resolvers.runtime import Resources
from resolvers.text import printable, text_problem
from resolvers.users.accounts import existing_user_ids

MAX_CLIENT_ID_LENGTH = 128


class Reason:
    """Why an event was rejected (the GraphQL enum RejectionReason mirrors these)."""

    INVALID_ID = "INVALID_ID"
    UNKNOWN_TYPE = "UNKNOWN_TYPE"
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_REFERENCE = "INVALID_REFERENCE"
    IN_FUTURE = "IN_FUTURE"
    TOO_OLD = "TOO_OLD"
    DUPLICATE_ID = "DUPLICATE_ID"

    ALL = (
        INVALID_ID,
        UNKNOWN_TYPE,
        MISSING_FIELD,
        INVALID_REFERENCE,
        IN_FUTURE,
        TOO_OLD,
        DUPLICATE_ID,
    )


@dataclass(frozen=True)
class EventInput:
    id: str
    type: str
    occurred_at: datetime
    post_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Rejection:
    index: int
    id: str
    reason: str
    message: str


@dataclass
class TrackResult:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def _judge(
    i: int, ev: EventInput, actor_id: int | None, now: datetime, oldest: datetime, newest: datetime
) -> Row | Rejection:
    def no(reason: str, message: str) -> Rejection:
        return Rejection(index=i, id=printable(ev.id), reason=reason, message=message)

    client_id = ev.id.strip()
    if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
        return no(
            Reason.INVALID_ID,
            f"id must be 1 to {MAX_CLIENT_ID_LENGTH} characters (a UUID is ideal)",
        )
    problem = text_problem(client_id, MAX_CLIENT_ID_LENGTH)
    if problem is not None:
        return no(Reason.INVALID_ID, f"id {problem}")
    if ev.type not in CLIENT_TYPES:
        if ev.type in DOMAIN_TYPES:
            return no(
                Reason.UNKNOWN_TYPE,
                f"{ev.type} is recorded by the server itself; "
                f"clients may send {', '.join(CLIENT_TYPES)}",
            )
        return no(
            Reason.UNKNOWN_TYPE,
            f"unknown event type {printable(ev.type, 40)!r}; "
            f"expected one of {', '.join(CLIENT_TYPES)}",
        )
    occurred = ev.occurred_at
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    occurred = occurred.astimezone(UTC)
    if occurred > newest:
        return no(
            Reason.IN_FUTURE,
            f"occurredAt {occurred.isoformat()} is in the future (server time {now.isoformat()})",
        )
    if occurred < oldest:
        return no(
            Reason.TOO_OLD,
            f"occurredAt {occurred.isoformat()} is older than the "
            f"accepted window (events from {oldest.isoformat()} on)",
        )
    post_id = try_parse_id(ev.post_id) if ev.post_id is not None else None
    if ev.post_id is not None and post_id is None:
        return no(
            Reason.INVALID_REFERENCE, f"postId {printable(ev.post_id, 40)!r} is not a post id"
        )
    user_id = try_parse_id(ev.user_id) if ev.user_id is not None else None
    if ev.user_id is not None and user_id is None:
        return no(
            Reason.INVALID_REFERENCE, f"userId {printable(ev.user_id, 40)!r} is not a user id"
        )
    needs = CLIENT_TYPES[ev.type]
    if needs == "postId" and post_id is None:
        return no(Reason.MISSING_FIELD, f"{ev.type} needs postId")
    if needs == "userId" and user_id is None:
        return no(Reason.MISSING_FIELD, f"{ev.type} needs userId")
    return Row(
        event_id=client_event_uuid(actor_id, client_id),
        occurred_at=occurred,
        type=ev.type,
        source="client",
        client_event_id=client_id,
        actor_id=actor_id,
        post_id=post_id,
        user_id=user_id,
    )


async def _known_references(
    res: Resources,
    actor_id: int | None,
    rows: list[Row],
    positions: list[tuple[int, EventInput]],
    result: TrackResult,
) -> tuple[list[Row], list[tuple[int, EventInput]]]:
    """Keep the events whose post and user exist (and whose post the sender may see: an
    unpublished post is its author's only), asking the owning domains, one statement
    each; the others are rejected as INVALID_REFERENCE."""
    post_ids = {r.post_id for r in rows if r.post_id is not None}
    user_ids = {r.user_id for r in rows if r.user_id is not None}
    if not post_ids and not user_ids:
        return rows, positions
    posts_ok, users_ok = await asyncio.gather(
        visible_post_ids(res, list(post_ids), actor_id),
        existing_user_ids(res, list(user_ids)),
    )
    kept: list[Row] = []
    kept_positions: list[tuple[int, EventInput]] = []
    for row, (i, ev) in zip(rows, positions, strict=True):
        if row.post_id is not None and row.post_id not in posts_ok:
            message = f"post {row.post_id} does not exist"
        elif row.user_id is not None and row.user_id not in users_ok:
            message = f"user {row.user_id} does not exist"
        else:
            kept.append(row)
            kept_positions.append((i, ev))
            continue
        result.rejected.append(Rejection(i, ev.id, Reason.INVALID_REFERENCE, message))
    return kept, kept_positions


async def track_events(
    res: Resources,
    actor_id: int | None,
    events: Sequence[EventInput],
    *,
    now: datetime | None = None,
) -> TrackResult:
    """Validate and record a client batch; `actor_id` is the viewer (None: anonymous)."""
    if len(events) > res.settings.analytics_max_batch:
        raise BadInput(
            f"a batch holds at most {res.settings.analytics_max_batch} events; "
            f"got {len(events)}: split it",
            field="events",
        )
    now = now or datetime.now(UTC)
    oldest = now - timedelta(hours=res.settings.analytics_ingest_window_hours)
    newest = now + timedelta(seconds=res.settings.analytics_future_skew_seconds)
    result = TrackResult()
    rows: list[Row] = []
    positions: list[tuple[int, EventInput]] = []
    seen: set[str] = set()
    for i, ev in enumerate(events):
        judged = _judge(i, ev, actor_id, now, oldest, newest)
        if isinstance(judged, Rejection):
            result.rejected.append(judged)
            continue
        if judged.client_event_id in seen:
            result.rejected.append(
                Rejection(
                    i, ev.id, Reason.DUPLICATE_ID, f"id {ev.id!r} appears twice in this batch"
                )
            )
            continue
        seen.add(judged.client_event_id)
        rows.append(judged)
        positions.append((i, ev))
    rows, positions = await _known_references(res, actor_id, rows, positions, result)
    fresh = await record(res, rows)
    for (i, ev), row in zip(positions, rows, strict=True):
        if row.event_id in fresh:
            result.accepted += 1
        else:
            result.rejected.append(
                Rejection(i, ev.id, Reason.DUPLICATE_ID, f"event {ev.id!r} was already recorded")
            )
    result.rejected.sort(key=lambda r: r.index)
    return result
