"""Rollups: hourly and daily aggregates per post and per user.

Incremental: `roll_up()` takes the oldest queued events (analytics.rollup_queue), adds them
to their hour and day buckets and deletes them from the queue, all in ONE statement, so
each event is counted exactly once whatever crashes; a late event (within the ingestion
window) lands in its own old bucket. One roller at a time (advisory lock).

From scratch: `rebuild(start, end)` recomputes every bucket of [start, end) from the raw
events. Run twice, it gives the same numbers, and the same numbers the incremental path
gave. It takes the same lock, runs in REPEATABLE READ and drops the queued events of the
period in the same snapshot, so an event is counted by the recompute or by the queue,
never by both.

Metrics: per post `views` (POST_VIEW), `likes` (LIKE minus UNLIKE, so a bucket can be
negative), `comments`, `shares`. Per user, about their posts: `post_views`,
`likes_received`, `comments_received`; about themselves: `followers_gained` (FOLLOW minus
UNFOLLOW) and `profile_views`. A post's author comes from the event (domain events carry
it) or from analytics' own projection of post.published events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from resolvers.runtime import Resources

_LOCK_KEY = 0x726F_6C6C_7570  # "rollup"

# CTEs over source rows `b(type, bucket, post_id, user_id, owner_id)`: the hourly and daily
# upserts per post and per user.
_CTES = {
    "ph": """
ph AS (
    SELECT post_id, bucket, max(owner_id) AS owner_id,
           count(*) FILTER (WHERE type = 'POST_VIEW') AS views,
           count(*) FILTER (WHERE type = 'LIKE') - count(*) FILTER (WHERE type = 'UNLIKE')
               AS likes,
           count(*) FILTER (WHERE type = 'COMMENT') AS comments,
           count(*) FILTER (WHERE type = 'SHARE') AS shares
    FROM b
    WHERE post_id IS NOT NULL AND type IN ('POST_VIEW', 'LIKE', 'UNLIKE', 'COMMENT', 'SHARE')
    GROUP BY post_id, bucket
)""",
    "ins_ph": """
ins_ph AS (
    INSERT INTO analytics.post_hourly AS t
        (post_id, bucket, owner_id, views, likes, comments, shares)
    SELECT post_id, bucket, owner_id, views, likes, comments, shares FROM ph
    ON CONFLICT (post_id, bucket) DO UPDATE SET
        owner_id = coalesce(t.owner_id, excluded.owner_id),
        views = t.views + excluded.views, likes = t.likes + excluded.likes,
        comments = t.comments + excluded.comments, shares = t.shares + excluded.shares
)""",
    "ins_pd": """
ins_pd AS (
    INSERT INTO analytics.post_daily AS t
        (post_id, day, owner_id, views, likes, comments, shares)
    SELECT post_id, (bucket AT TIME ZONE 'UTC')::date, max(owner_id), sum(views),
           sum(likes), sum(comments), sum(shares)
    FROM ph GROUP BY post_id, (bucket AT TIME ZONE 'UTC')::date
    ON CONFLICT (post_id, day) DO UPDATE SET
        owner_id = coalesce(t.owner_id, excluded.owner_id),
        views = t.views + excluded.views, likes = t.likes + excluded.likes,
        comments = t.comments + excluded.comments, shares = t.shares + excluded.shares
)""",
    "uh": """
uh AS (
    SELECT uid AS user_id, bucket,
           count(*) FILTER (WHERE type = 'POST_VIEW') AS post_views,
           count(*) FILTER (WHERE type = 'LIKE') - count(*) FILTER (WHERE type = 'UNLIKE')
               AS likes_received,
           count(*) FILTER (WHERE type = 'COMMENT') AS comments_received,
           count(*) FILTER (WHERE type = 'FOLLOW') - count(*) FILTER (WHERE type = 'UNFOLLOW')
               AS followers_gained,
           count(*) FILTER (WHERE type = 'PROFILE_VIEW') AS profile_views
    FROM (
        SELECT owner_id AS uid, bucket, type FROM b
        WHERE owner_id IS NOT NULL AND type IN ('POST_VIEW', 'LIKE', 'UNLIKE', 'COMMENT')
        UNION ALL
        SELECT user_id AS uid, bucket, type FROM b
        WHERE user_id IS NOT NULL AND type IN ('FOLLOW', 'UNFOLLOW', 'PROFILE_VIEW')
    ) x
    GROUP BY uid, bucket
)""",
    "ins_uh": """
ins_uh AS (
    INSERT INTO analytics.user_hourly AS t
        (user_id, bucket, post_views, likes_received, comments_received, followers_gained,
         profile_views)
    SELECT * FROM uh
    ON CONFLICT (user_id, bucket) DO UPDATE SET
        post_views = t.post_views + excluded.post_views,
        likes_received = t.likes_received + excluded.likes_received,
        comments_received = t.comments_received + excluded.comments_received,
        followers_gained = t.followers_gained + excluded.followers_gained,
        profile_views = t.profile_views + excluded.profile_views
)""",
    "ins_ud": """
ins_ud AS (
    INSERT INTO analytics.user_daily AS t
        (user_id, day, post_views, likes_received, comments_received, followers_gained,
         profile_views)
    SELECT user_id, (bucket AT TIME ZONE 'UTC')::date, sum(post_views), sum(likes_received),
           sum(comments_received), sum(followers_gained), sum(profile_views)
    FROM uh GROUP BY user_id, (bucket AT TIME ZONE 'UTC')::date
    ON CONFLICT (user_id, day) DO UPDATE SET
        post_views = t.post_views + excluded.post_views,
        likes_received = t.likes_received + excluded.likes_received,
        comments_received = t.comments_received + excluded.comments_received,
        followers_gained = t.followers_gained + excluded.followers_gained,
        profile_views = t.profile_views + excluded.profile_views
)""",
}


def _with(*names: str) -> str:
    return ",\n".join(_CTES[n] for n in names)


_ALL = ("ph", "ins_ph", "ins_pd", "uh", "ins_uh", "ins_ud")

# A queued event without its post's author (a client's POST_VIEW) takes it from
# analytics.posts by primary key: a sub-select evaluated only for those rows. (A LEFT JOIN
# here let the planner's generic plan, made for a batch of unknown size, hash the whole of
# analytics.posts, one row per post ever published, on every roll-up: bench/RESULTS.md,
# "Session 22: worker".)
#
# One statement in autocommit (one round trip, no BEGIN/COMMIT): the roller lock is taken
# once, before the scan (an uncorrelated sub-select: a one-time filter), and held to the
# end of the statement's own transaction; without it the statement deletes nothing. A
# roller that took the lock after another committed may have a snapshot from before that
# commit: its DELETE skips the rows the other deleted, so no event is counted twice.
_ROLL_UP = text(
    """
    WITH batch AS (
        DELETE FROM analytics.rollup_queue
        WHERE (SELECT pg_try_advisory_xact_lock(:k))
          AND seq IN (SELECT seq FROM analytics.rollup_queue ORDER BY seq LIMIT :limit)
        RETURNING type, occurred_at, post_id, user_id, owner_id
    ),
    b AS (
        SELECT q.type, date_trunc('hour', q.occurred_at, 'UTC') AS bucket, q.post_id, q.user_id,
               coalesce(
                   q.owner_id,
                   (SELECT p.author_id FROM analytics.posts p WHERE p.post_id = q.post_id)
               ) AS owner_id
        FROM batch q
    ),
    """
    + _with(*_ALL)
    + "\nSELECT count(*) FROM batch"
)

_REBUILD_HOURLY = text(
    """
    WITH b AS (
        SELECT e.type, date_trunc('hour', e.occurred_at, 'UTC') AS bucket, e.post_id, e.user_id,
               coalesce(e.owner_id, p.author_id) AS owner_id
        FROM analytics.events e LEFT JOIN analytics.posts p ON p.post_id = e.post_id
        WHERE e.occurred_at >= :start AND e.occurred_at < :end
    ),
    """
    + _with("ph", "ins_ph", "uh", "ins_uh")
    + "\nSELECT 1"
)


async def roll_up(res: Resources, *, limit: int = 50_000) -> int:
    """Fold up to `limit` queued events into the rollups; returns how many (0 when another
    roller holds the lock or nothing is queued)."""
    async with res.db.autocommit.connect() as connection:
        result = await connection.execute(_ROLL_UP, {"k": _LOCK_KEY, "limit": limit})
        return int(result.scalar_one())


async def roll_up_all(res: Resources, *, limit: int = 50_000) -> int:
    """Drain the queue (in batches of `limit`); returns the number of events folded."""
    total = 0
    while True:
        n = await roll_up(res, limit=limit)
        total += n
        if n < limit:
            return total


async def queued(res: Resources) -> int:
    async with res.db.session() as session:
        return int(
            (
                await session.execute(text("SELECT count(*) FROM analytics.rollup_queue"))
            ).scalar_one()
        )


def _hour_floor(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return t.replace(minute=0, second=0, microsecond=0)


async def rebuild(res: Resources, start: datetime, end: datetime) -> None:
    """Recompute the hourly buckets of [start, end) (widened to whole hours) from raw
    events, and the daily rows of every day they touch from the hourly rows."""
    start = _hour_floor(start)
    end_floor = _hour_floor(end)
    end = end_floor if end_floor == end.astimezone(UTC) else end_floor + timedelta(hours=1)
    first_day = start.date()
    last_day = (end - timedelta(microseconds=1)).date()
    span = {
        "start": start,
        "end": end,
        "d0": first_day,
        "d1": last_day,
        "t0": datetime.combine(first_day, datetime.min.time(), UTC),
        "t1": datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC),
    }
    async with res.db.engine.connect() as plain:
        session = await plain.execution_options(isolation_level="REPEATABLE READ")
        async with session.begin():
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            await session.execute(
                text(
                    "DELETE FROM analytics.rollup_queue "
                    "WHERE occurred_at >= :start AND occurred_at < :end"
                ),
                span,
            )
            for table in ("post_hourly", "user_hourly"):
                await session.execute(
                    text(f"DELETE FROM analytics.{table} WHERE bucket >= :start AND bucket < :end"),
                    span,
                )
            await session.execute(_REBUILD_HOURLY, span)
            await session.execute(
                text("DELETE FROM analytics.post_daily WHERE day BETWEEN :d0 AND :d1"), span
            )
            await session.execute(
                text(
                    """
                    INSERT INTO analytics.post_daily
                        (post_id, day, owner_id, views, likes, comments, shares)
                    SELECT post_id, (bucket AT TIME ZONE 'UTC')::date, max(owner_id),
                           sum(views), sum(likes), sum(comments), sum(shares)
                    FROM analytics.post_hourly
                    WHERE bucket >= :t0 AND bucket < :t1
                    GROUP BY post_id, (bucket AT TIME ZONE 'UTC')::date
                    """
                ),
                span,
            )
            await session.execute(
                text("DELETE FROM analytics.user_daily WHERE day BETWEEN :d0 AND :d1"), span
            )
            await session.execute(
                text(
                    """
                    INSERT INTO analytics.user_daily
                        (user_id, day, post_views, likes_received, comments_received,
                         followers_gained, profile_views)
                    SELECT user_id, (bucket AT TIME ZONE 'UTC')::date, sum(post_views),
                           sum(likes_received), sum(comments_received),
                           sum(followers_gained), sum(profile_views)
                    FROM analytics.user_hourly
                    WHERE bucket >= :t0 AND bucket < :t1
                    GROUP BY user_id, (bucket AT TIME ZONE 'UTC')::date
                    """
                ),
                span,
            )
