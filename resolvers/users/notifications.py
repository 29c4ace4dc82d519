"""Notifications: someone followed you, liked your post, commented on it, replied to your
comment (docs/social.md, "Notifications").

Workers make them from the outbox events of the users and posts domains (at least once, in
any order), so every producer here is idempotent and reconciles with the truth:

- one row per (recipient, `dedupe_key`): a redelivered event, or a like after an unlike,
  notifies once (`INSERT ... ON CONFLICT DO NOTHING`);
- a follow or like is notified only if it still stands when the job runs, and an unfollow
  or unlike removes its notification only if it still does not;
- a comment is notified only while it exists; deleting a comment or a post removes the
  notifications about it (and the list leaves them out at once, before that job runs);
- nothing is made for your own actions, nor from an account a block stands between, nor
  from one you mute (and the list leaves those out at read time too, for blocks and mutes
  made later).

After a notification is committed it is published on Redis (`CHANNEL`), which feeds the
`notificationAdded` subscription of the users subgraph. Live delivery is best effort: the
list is the truth.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

from models.users import Notification
from puppies.pagination import Page, PageRequest, page_from_rows
from resolvers.errors import BadInput
from resolvers.posts.comments import comments_by_ids
from resolvers.posts.feed_queries import live_comment_sql, live_post_sql
from resolvers.posts.likes import liked_by
from resolvers.runtime import Resources
from resolvers.users.graph_queries import feed_hidden_authors, is_following

log = logging.getLogger(__name__)

CHANNEL = "puppies:users:notifications"
MAX_MARK_IDS = 100

# The id is time-ordered like every id (public.next_id(): milliseconds since 2024 in the
# high bits, the global sequence in the low 23), but by the time of the event, not of the
# job: jobs run in any order, and the list is newest event first.
_NOTIFY = text(
    """
    INSERT INTO users.notifications
        (id, created_at, recipient_id, kind, actor_id, post_id, comment_id, dedupe_key)
    SELECT ((floor(extract(epoch FROM COALESCE(CAST(:at AS timestamptz), clock_timestamp()))
                   * 1000)::bigint - 1704067200000) << 23)
           | (nextval('public.id_seq') % 8388608),
           COALESCE(CAST(:at AS timestamptz), now()),
           :recipient, :kind, :actor, :post, :comment, :key
     WHERE NOT EXISTS (
             SELECT 1 FROM users.blocks
              WHERE (blocker_id = :recipient AND blocked_id = :actor)
                 OR (blocker_id = :actor AND blocked_id = :recipient))
       AND NOT EXISTS (
             SELECT 1 FROM users.mutes WHERE muter_id = :recipient AND muted_id = :actor)
    ON CONFLICT (recipient_id, dedupe_key) DO NOTHING
    RETURNING id, recipient_id, kind, actor_id, post_id, comment_id, created_at, read_at
    """
)


@dataclass(frozen=True)
class NotificationRecord:
    id: int
    recipient_id: int
    kind: str
    actor_id: int
    post_id: int | None
    comment_id: int | None
    created_at: datetime
    read_at: datetime | None = None

    @classmethod
    def of(cls, row: Any) -> NotificationRecord:
        m = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            id=m["id"],
            recipient_id=m["recipient_id"],
            kind=m["kind"],
            actor_id=m["actor_id"],
            post_id=m["post_id"],
            comment_id=m["comment_id"],
            created_at=m["created_at"],
            read_at=m["read_at"],
        )

    def message(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "recipient_id": self.recipient_id,
                "kind": self.kind,
                "actor_id": self.actor_id,
                "post_id": self.post_id,
                "comment_id": self.comment_id,
                "created_at": self.created_at.isoformat(),
            }
        )

    @classmethod
    def from_message(cls, data: bytes) -> NotificationRecord:
        m = orjson.loads(data)
        return cls(
            id=int(m["id"]),
            recipient_id=int(m["recipient_id"]),
            kind=str(m["kind"]),
            actor_id=int(m["actor_id"]),
            post_id=int(m["post_id"]) if m.get("post_id") is not None else None,
            comment_id=int(m["comment_id"]) if m.get("comment_id") is not None else None,
            created_at=datetime.fromisoformat(m["created_at"]),
        )


def decode_message(data: bytes) -> tuple[int, NotificationRecord]:
    """For the subscription's broker: (recipient, notification)."""
    record = NotificationRecord.from_message(data)
    return record.recipient_id, record


async def notify(
    res: Resources,
    *,
    recipient: int,
    actor: int,
    kind: str,
    key: str,
    post_id: int | None = None,
    comment_id: int | None = None,
    at: datetime | None = None,
) -> NotificationRecord | None:
    """Record one notification (once per recipient and key) and publish it; None when it
    is not made (your own action, a block or mute, already there, an account gone). `at`
    is when the event happened (its `createdAt`, and its place in the list); default now."""
    if recipient == actor:
        return None
    params = {
        "recipient": recipient,
        "kind": kind,
        "actor": actor,
        "post": post_id,
        "comment": comment_id,
        "key": key,
        "at": at,
    }
    try:  # one statement: atomic alone, in autocommit (no BEGIN/COMMIT round trips), on
        # asyncpg itself (`Database.rows`: no SQLAlchemy execution around it)
        rows = await res.db.rows(_NOTIFY, params)
    except IntegrityError:  # the recipient or the actor was deleted meanwhile
        return None
    if not rows:
        return None
    record = NotificationRecord.of(rows[0])
    await res.redis.publish(CHANNEL, record.message())
    return record


async def _forget(res: Resources, *conditions: Any) -> int:
    async with res.db.transaction() as session:
        result = await session.execute(delete(Notification).where(*conditions))
    return int(getattr(result, "rowcount", 0) or 0)


# --- what each event does -------------------------------------------------------------


async def on_followed(
    res: Resources, follower: int, followee: int, at: datetime | None = None
) -> bool:
    async with res.db.session() as session:
        following = await is_following(session, follower, followee)
    if not following:  # undone before this job ran
        return False
    made = await notify(
        res, recipient=followee, actor=follower, kind="FOLLOW", key=f"follow:{follower}", at=at
    )
    return made is not None


async def on_unfollowed(res: Resources, follower: int, followee: int) -> int:
    async with res.db.session() as session:
        if await is_following(session, follower, followee):  # followed again since
            return 0
    return await _forget(
        res, Notification.recipient_id == followee, Notification.dedupe_key == f"follow:{follower}"
    )


async def on_liked(
    res: Resources, post_id: int, liker: int, author: int, at: datetime | None = None
) -> bool:
    if post_id not in await liked_by(res, liker, [post_id]):
        return False
    made = await notify(
        res,
        recipient=author,
        actor=liker,
        kind="LIKE",
        key=f"like:{post_id}:{liker}",
        post_id=post_id,
        at=at,
    )
    return made is not None


async def on_unliked(res: Resources, post_id: int, liker: int, author: int) -> int:
    if post_id in await liked_by(res, liker, [post_id]):  # liked again since
        return 0
    return await _forget(
        res,
        Notification.recipient_id == author,
        Notification.dedupe_key == f"like:{post_id}:{liker}",
    )


async def on_comment(
    res: Resources,
    *,
    comment_id: int,
    post_id: int,
    author: int,
    post_author: int | None,
    replied_author: int | None,
    at: datetime | None = None,
) -> int:
    """A comment notifies the post's author; a reply notifies the author of the comment it
    answers (only that, when it is the post's author too). Returns notifications made."""
    if comment_id not in await comments_by_ids(res, [comment_id]):  # deleted since
        return 0
    made = 0
    if replied_author is not None:
        made += (
            await notify(
                res,
                recipient=replied_author,
                actor=author,
                kind="REPLY",
                key=f"reply:{comment_id}",
                post_id=post_id,
                comment_id=comment_id,
                at=at,
            )
            is not None
        )
    if post_author is not None and post_author != replied_author:
        made += (
            await notify(
                res,
                recipient=post_author,
                actor=author,
                kind="COMMENT",
                key=f"comment:{comment_id}",
                post_id=post_id,
                comment_id=comment_id,
                at=at,
            )
            is not None
        )
    return made


async def on_comments_deleted(res: Resources, comment_ids: list[int]) -> int:
    if not comment_ids:
        return 0
    return await _forget(res, Notification.comment_id.in_(comment_ids))


async def on_post_deleted(res: Resources, post_id: int) -> int:
    return await _forget(res, Notification.post_id == post_id)


# --- reading and marking --------------------------------------------------------------


# A notification about a post or comment deleted a moment ago is left out at once, before
# the job that removes it runs (the posts domain's checks, one primary-key probe each).
_SUBJECT_LIVE = text(
    f"(users.notifications.post_id IS NULL OR {live_post_sql('users.notifications.post_id')}) "
    "AND (users.notifications.comment_id IS NULL OR "
    f"{live_comment_sql('users.notifications.comment_id')})"
)


def _visible(viewer_id: int) -> list[Any]:
    return [
        Notification.recipient_id == viewer_id,
        Notification.actor_id.not_in(feed_hidden_authors(viewer_id)),
        _SUBJECT_LIVE,
    ]


async def notifications_page(
    res: Resources, viewer_id: int, request: PageRequest, *, unread_only: bool = False
) -> Page[NotificationRecord]:
    """The viewer's notifications, newest event first (one range scan of
    ix_users_notifications_recipient_id_id: the id is ordered by the event's time)."""
    stmt = select(Notification).where(*_visible(viewer_id))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if request.after is not None:
        stmt = stmt.where(Notification.id < request.after)
    stmt = stmt.order_by(Notification.id.desc()).limit(request.first + 1)
    async with res.db.session() as session:
        rows = (await session.execute(stmt)).scalars().all()
    records = [
        NotificationRecord(
            id=n.id,
            recipient_id=n.recipient_id,
            kind=n.kind,
            actor_id=n.actor_id,
            post_id=n.post_id,
            comment_id=n.comment_id,
            created_at=n.created_at,
            read_at=n.read_at,
        )
        for n in rows
    ]
    return page_from_rows([(r.id, r) for r in records], request)


async def unread_count(res: Resources, viewer_id: int) -> int:
    """Unread notifications (the partial index ix_users_notifications_unread)."""
    async with res.db.session() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(Notification)
                    .where(*_visible(viewer_id), Notification.read_at.is_(None))
                )
            ).scalar_one()
        )


async def mark_read(
    res: Resources, viewer_id: int, *, ids: list[int] | None, up_to: int | None
) -> int:
    """Mark the viewer's notifications read: these `ids`, or every one up to `up_to`
    (inclusive), or all of them. Returns how many changed; other accounts' ids are ignored."""
    if ids is not None and up_to is not None:
        raise BadInput("give `ids` or `upTo`, not both", field="ids")
    if ids is not None and len(ids) > MAX_MARK_IDS:
        raise BadInput(f"mark at most {MAX_MARK_IDS} ids at a time", field="ids")
    conditions = [Notification.recipient_id == viewer_id, Notification.read_at.is_(None)]
    if ids is not None:
        conditions.append(Notification.id.in_(ids))
    if up_to is not None:
        conditions.append(Notification.id <= up_to)
    async with res.db.transaction() as session:
        result = await session.execute(
            update(Notification).where(*conditions).values(read_at=func.now())
        )
    return int(getattr(result, "rowcount", 0) or 0)
