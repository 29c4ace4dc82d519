"""The analytics domain's privacy rules (docs/privacy.md): the user's own events are
exported; every event and rollup naming the user (as actor, subject or post owner) is
deleted with the account, and so is every event and rollup about one of the user's posts,
whoever made it: a client's event (a view) carries no owner, only the post."""

from __future__ import annotations

from sqlalchemy import text

from resolvers.privacy.registry import PRIVACY
from resolvers.runtime import Resources

BATCH = 5000

PRIVACY.owned("analytics.events", "actor_id", "user_id", "owner_id", export_by=("actor_id",))
PRIVACY.not_personal(
    "analytics.event_ids",
    reason="the de-duplication ledger: one-way ids of accepted events and when they came, "
    "dropped after the ingestion window",
)
PRIVACY.derived(
    "analytics.rollup_queue", "user_id", "owner_id", reason="events waiting to be rolled up"
)
PRIVACY.derived("analytics.posts", "author_id", reason="analytics' copy of who wrote which post")
PRIVACY.derived("analytics.post_hourly", "owner_id", reason="rollups of the user's posts")
PRIVACY.derived("analytics.post_daily", "owner_id", reason="rollups of the user's posts")
PRIVACY.derived("analytics.user_hourly", "user_id", reason="rollups about the user")
PRIVACY.derived("analytics.user_daily", "user_id", reason="rollups about the user")

# analytics.posts (who wrote which post) is deleted by the generic pass, which runs after
# this eraser; the events are partitioned by day, so rows are named by (tableoid, ctid)
_ABOUT_POSTS = [
    f"DELETE FROM analytics.{table} WHERE (tableoid, ctid) IN (SELECT t.tableoid, t.ctid "
    f"FROM analytics.{table} t JOIN analytics.posts p ON p.post_id = t.post_id "
    "WHERE p.author_id = :u LIMIT :n)"
    for table in ("events", "rollup_queue", "post_hourly", "post_daily")
]


@PRIVACY.eraser("analytics")
async def erase_about_posts(res: Resources, user_id: int) -> None:
    for sql in _ABOUT_POSTS:
        while True:
            async with res.db.transaction() as session:
                result = await session.execute(text(sql), {"u": user_id, "n": BATCH})
            if int(getattr(result, "rowcount", 0) or 0) < BATCH:
                break
