"""trendingPosts: the posts with the most engagement in the last hour, day or week.

Computed from the rollups (hourly buckets for HOUR and DAY, daily rows for WEEK), only
posts analytics knows from post.published (so, visible ones) and that were not deleted.
Score = views + 3 x likes (net) + 5 x comments + 5 x shares.

Ranking every post of a week is an aggregate over the whole period, too slow for a read
path, so the worker refreshes the top `max_page_size` of each window into Redis every
`analytics_trending_cache_seconds` (`refresh_trending`); a read is one GET. When the
ranking is missing (no worker yet) the reader computes and stores it itself; with the
setting at 0 every read computes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import TextClause, text

from resolvers.errors import BadInput
from resolvers.runtime import Resources

WINDOWS = ("HOUR", "DAY", "WEEK")
CACHE_PREFIX = "analytics:trending:"

_SCORE = "sum(x.views) + 3 * sum(x.likes) + 5 * sum(x.comments) + 5 * sum(x.shares)"


def _ranking(table: str, column: str) -> TextClause:
    """Aggregate the window first, then keep posts analytics knows and that still exist."""
    return text(
        f"""
        SELECT a.post_id, a.score FROM (
            SELECT x.post_id, {_SCORE} AS score
            FROM analytics.{table} x
            WHERE x.{column} >= :since
            GROUP BY x.post_id
            HAVING {_SCORE} > 0
        ) a
        WHERE EXISTS (SELECT 1 FROM analytics.posts p
                      WHERE p.post_id = a.post_id AND p.deleted_at IS NULL)
        ORDER BY a.score DESC, a.post_id DESC
        LIMIT :limit
        """
    )


_HOURLY = _ranking("post_hourly", "bucket")
_DAILY = _ranking("post_daily", "day")


async def compute_trending(
    res: Resources, window: str, limit: int, now: datetime | None = None
) -> list[tuple[int, int]]:
    """(post id, score), best first, straight from the rollups."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    async with res.db.session() as session:
        if window == "HOUR":
            rows = await session.execute(
                _HOURLY, {"since": hour - timedelta(hours=1), "limit": limit}
            )
        elif window == "DAY":
            rows = await session.execute(
                _HOURLY, {"since": hour - timedelta(hours=24), "limit": limit}
            )
        else:
            rows = await session.execute(
                _DAILY, {"since": now.date() - timedelta(days=6), "limit": limit}
            )
        return [(int(r[0]), int(r[1])) for r in rows]


async def _store(res: Resources, window: str) -> list[int]:
    ids = [
        post_id for post_id, _ in await compute_trending(res, window, res.settings.max_page_size)
    ]
    ttl = res.settings.analytics_trending_cache_seconds
    if ttl > 0:
        # Kept for 3 refresh periods: a late refresh never leaves readers without a ranking.
        await res.redis.set(CACHE_PREFIX + window, orjson.dumps([str(p) for p in ids]), ex=3 * ttl)
    return ids


async def refresh_trending(res: Resources) -> None:
    """The worker's periodic job: recompute and store every window's ranking."""
    for window in WINDOWS:
        await _store(res, window)


async def trending_posts(res: Resources, window: str, limit: int) -> list[int]:
    """Post ids, best first."""
    if window not in WINDOWS:
        raise BadInput(f"window must be one of {', '.join(WINDOWS)}", field="window")
    if not 1 <= limit <= res.settings.max_page_size:
        raise BadInput(f"limit must be between 1 and {res.settings.max_page_size}", field="limit")
    if res.settings.analytics_trending_cache_seconds > 0:
        cached = await res.redis.get(CACHE_PREFIX + window)
        if cached is not None:
            return [int(p) for p in orjson.loads(cached)][:limit]
    return (await _store(res, window))[:limit]
