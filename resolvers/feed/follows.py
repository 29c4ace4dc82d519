"""Follow and unfollow: backfill the followee's recent posts, or remove them.

Both handlers reconcile to the users domain's current truth rather than trusting the event
alone: events for one pair can be delivered late or out of order (at-least-once jobs), so a
`user.followed` whose follow has since been undone removes instead of backfilling, and the
other way round. Either way the result is the same whichever order they run in.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import BigInteger, Table, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models.feed import InboxEntry
from resolvers.feed.locks import author_exclusive
from resolvers.feed.trim import insert_sampled, trim_inboxes
from resolvers.posts.feed_queries import recent_post_ids
from resolvers.runtime import Resources
from resolvers.users.graph_queries import is_following

INBOX = cast(Table, InboxEntry.__table__)
NOT_DELETED = text(
    "NOT EXISTS (SELECT 1 FROM feed.fanout t WHERE t.post_id = recent.post_id "
    "AND t.state = 'deleted')"
)


async def sync_follow(res: Resources, follower_id: int, followee_id: int) -> str:
    """Make the follower's feed match whether they follow the followee now.

    Returns "backfilled", "vip" (the followee's posts are merged at read time) or "removed".
    """
    async with res.db.session() as session:
        following = await is_following(session, follower_id, followee_id)
    if not following:
        await remove_followee(res, follower_id, followee_id)
        return "removed"
    async with res.db.transaction() as session:
        vip_state = (
            await session.execute(
                text("SELECT state FROM feed.vip WHERE author_id = :a FOR SHARE"),
                {"a": followee_id},
            )
        ).scalar_one_or_none()
        if vip_state is not None:
            await session.execute(
                text(
                    "INSERT INTO feed.vip_follow (viewer_id, vip_id) VALUES (:v, :a) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"v": follower_id, "a": followee_id},
            )
        if vip_state == "vip":
            return "vip"
        recent = recent_post_ids(followee_id, res.settings.feed_follow_backfill).subquery("recent")
        # Trimmed when one of the copied posts is in the sample (trim.py): a backfill of
        # up to FEED_FOLLOW_BACKFILL posts is that many deliveries.
        _, to_trim = await insert_sampled(
            session,
            pg_insert(INBOX)
            .from_select(
                ["viewer_id", "post_id", "author_id"],
                select(
                    literal(follower_id, BigInteger),
                    recent.c.post_id,
                    literal(followee_id, BigInteger),
                ).where(NOT_DELETED),
            )
            .on_conflict_do_nothing(),
            res.settings.feed_trim_every,
        )
        await trim_inboxes(session, to_trim, res.settings.feed_inbox_cap)
    return "backfilled"


async def remove_followee(res: Resources, follower_id: int, followee_id: int) -> int:
    """Drop the followee's posts from the follower's inbox and VIP merge; rows removed."""
    async with res.db.transaction() as session:
        await author_exclusive(session, followee_id)
        result = await session.execute(
            text("DELETE FROM feed.inbox WHERE viewer_id = :v AND author_id = :a"),
            {"v": follower_id, "a": followee_id},
        )
        await session.execute(
            text("DELETE FROM feed.vip_follow WHERE viewer_id = :v AND vip_id = :a"),
            {"v": follower_id, "a": followee_id},
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def sync_unfollow(res: Resources, follower_id: int, followee_id: int) -> str:
    """`user.unfollowed`: remove, unless the follower has followed again since."""
    async with res.db.session() as session:
        following = await is_following(session, follower_id, followee_id)
    if following:
        return await sync_follow(res, follower_id, followee_id)
    await remove_followee(res, follower_id, followee_id)
    return "removed"
