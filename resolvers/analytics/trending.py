"""trendingPosts: the posts with the most engagement in the last hour, day or week.

Read from the rollups (hourly buckets for HOUR and DAY, daily rows for WEEK), only posts
analytics knows from post.created and that were not deleted. Score = views + 3 x likes
(net) + 5 x comments + 5 x shares. The ranking (top `max_page_size`) is cached in Redis
for `analytics_trending_cache_seconds`, so a burst of readers costs one query.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from redis.asyncio import Redis
from sqlalchemy import text

from models.db import Database
from puppies.settings import Settings
from resolvers.errors import BadInput

WINDOWS = ("HOUR", "DAY", "WEEK")
CACHE_PREFIX = "analytics:trending:"

_SCORE = "sum(x.views) + 3 * sum(x.likes) + 5 * sum(x.comments) + 5 * sum(x.shares)"

_HOURLY = text(
    f"""
    SELECT x.post_id, {_SCORE} AS score
    FROM analytics.post_hourly x
    JOIN analytics.posts p ON p.post_id = x.post_id AND p.deleted_at IS NULL
    WHERE x.bucket >= :since
    GROUP BY x.post_id
    HAVING {_SCORE} > 0
    ORDER BY score DESC, x.post_id DESC
    LIMIT :limit
    """
)
_DAILY = text(
    f"""
    SELECT x.post_id, {_SCORE} AS score
    FROM analytics.post_daily x
    JOIN analytics.posts p ON p.post_id = x.post_id AND p.deleted_at IS NULL
    WHERE x.day >= :since
    GROUP BY x.post_id
    HAVING {_SCORE} > 0
    ORDER BY score DESC, x.post_id DESC
    LIMIT :limit
    """
)


async def compute_trending(db: Database, window: str, limit: int,
                           now: datetime | None = None) -> list[tuple[int, int]]:
    """(post id, score), best first, straight from the rollups."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    async with db.session() as session:
        if window == "HOUR":
            rows = await session.execute(_HOURLY, {"since": hour - timedelta(hours=1),
                                                   "limit": limit})
        elif window == "DAY":
            rows = await session.execute(_HOURLY, {"since": hour - timedelta(hours=24),
                                                   "limit": limit})
        else:
            rows = await session.execute(_DAILY, {"since": now.date() - timedelta(days=6),
                                                  "limit": limit})
        return [(int(r[0]), int(r[1])) for r in rows]


async def trending_posts(db: Database, redis: Redis, settings: Settings, window: str,
                         limit: int) -> list[int]:
    """Post ids, best first."""
    if window not in WINDOWS:
        raise BadInput(f"window must be one of {', '.join(WINDOWS)}", field="window")
    if not 1 <= limit <= settings.max_page_size:
        raise BadInput(f"limit must be between 1 and {settings.max_page_size}", field="limit")
    ttl = settings.analytics_trending_cache_seconds
    key = CACHE_PREFIX + window
    if ttl > 0:
        cached = await redis.get(key)
        if cached is not None:
            return [int(p) for p in orjson.loads(cached)][:limit]
    ranked = await compute_trending(db, window, settings.max_page_size)
    ids = [post_id for post_id, _ in ranked]
    if ttl > 0:
        await redis.set(key, orjson.dumps([str(p) for p in ids]), ex=ttl)
    return ids[:limit]
