"""Follow and unfollow: backfill the followee's recent posts, or remove them.

Both handlers reconcile to the users domain's current truth rather than trusting the event
alone: events for one pair can be delivered late or out of order (at-least-once jobs), so a
`user.followed` whose follow has since been undone removes instead of backfilling, and the
other way round. Either way the result is the same whichever order they run in.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import BigInteger, Select, Table, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models.feed import InboxEntry
from resolvers.feed.locks import author_exclusive
from resolvers.feed.trim import sampled_insert, trim_inboxes
from resolvers.posts.feed_queries import recent_post_ids
from resolvers.runtime import Resources
from resolvers.users.graph_queries import is_following

INBOX = cast(Table, InboxEntry.__table__)
# Both deletions of an unfollow in one statement: the inbox rows (counted) and the VIP merge.
_REMOVE_FOLLOWEE = text(
    "WITH vf AS (DELETE FROM feed.vip_follow WHERE viewer_id = :v AND vip_id = :a), "
    "inbox AS (DELETE FROM feed.inbox WHERE viewer_id = :v AND author_id = :a RETURNING 1) "
    "SELECT count(*) FROM inbox"
)
NOT_DELETED = text(
    "NOT EXISTS (SELECT 1 FROM feed.fanout t WHERE t.post_id = recent.post_id "
    "AND t.state = 'deleted')"
)


# A follow's backfill (the followee's newest posts into the follower's inbox, with their
# trim sample: trim.py), built once with bound parameters: building it for every follow
# was most of a follow's CPU in the worker.
_BACKFILL: list[Select[Any]] = []


def _backfill_statement() -> Select[Any]:
    if not _BACKFILL:
        follower = bindparam("bf_follower", type_=BigInteger)
        followee = bindparam("bf_followee", type_=BigInteger)
        recent = recent_post_ids(
            cast(int, followee), cast(int, bindparam("bf_limit", type_=BigInteger))
        ).subquery("recent")
        insert = (
            pg_insert(INBOX)
            .from_select(
                ["viewer_id", "post_id", "author_id"],
                select(follower, recent.c.post_id, followee).where(NOT_DELETED),
            )
            .on_conflict_do_nothing()
        )
        # `sample_every` is bound at execution: 1 samples every row (x % 1 = 0)
        _BACKFILL.append(sampled_insert(insert, 2))
    return _BACKFILL[0]


async def _following(res: Resources, follower_id: int, followee_id: int) -> bool:
    """Whether the follow exists now: one statement in autocommit (no BEGIN/ROLLBACK)."""
    async with res.db.read() as session:
        return await is_following(session, follower_id, followee_id)


async def sync_follow(res: Resources, follower_id: int, followee_id: int) -> str:
    """Make the follower's feed match whether they follow the followee now.

    Returns "backfilled", "vip" (the followee's posts are merged at read time) or "removed".
    """
    following = await _following(res, follower_id, followee_id)
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
        # Trimmed when one of the copied posts is in the sample (trim.py): a backfill of
        # up to FEED_FOLLOW_BACKFILL posts is that many deliveries.
        _, viewers = (
            await session.execute(
                _backfill_statement(),
                {
                    "bf_follower": follower_id,
                    "bf_followee": followee_id,
                    "bf_limit": res.settings.feed_follow_backfill,
                    "sample_every": res.settings.feed_trim_every,
                },
            )
        ).one()
        to_trim = list(viewers or [])
        await trim_inboxes(session, to_trim, res.settings.feed_inbox_cap)
    return "backfilled"


async def remove_followee(res: Resources, follower_id: int, followee_id: int) -> int:
    """Drop the followee's posts from the follower's inbox and VIP merge; rows removed."""
    async with res.db.transaction() as session:
        await author_exclusive(session, followee_id)
        removed = (
            await session.execute(_REMOVE_FOLLOWEE, {"v": follower_id, "a": followee_id})
        ).scalar_one()
    return int(removed)


async def sync_unfollow(res: Resources, follower_id: int, followee_id: int) -> str:
    """`user.unfollowed`: remove, unless the follower has followed again since."""
    if await _following(res, follower_id, followee_id):
        return await sync_follow(res, follower_id, followee_id)
    await remove_followee(res, follower_id, followee_id)
    return "removed"
