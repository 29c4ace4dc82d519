"""The popular-posts cache that a degraded feed page is served from.

A worker refreshes it every minute (workers/feed.py) from the posts domain's like counts over
the last day; it lives in Redis, not PostgreSQL, so it still answers when the database is what
failed. It never expires on its own: a stale popular list beats an error.
"""

from __future__ import annotations

import orjson

from resolvers.posts.feed_queries import popular_posts
from resolvers.runtime import Resources

POPULAR_KEY = "feed:popular"
POPULAR_WINDOW_MS = 24 * 3600 * 1000
EPOCH_MS = 1704067200000  # public.next_id(): milliseconds since 2024-01-01 << 23


def id_floor_for_age(now_ms: int, age_ms: int) -> int:
    """The smallest snowflake ID created at or after `now_ms - age_ms`."""
    return min(2**63 - 1, max(0, (now_ms - age_ms - EPOCH_MS)) << 23)


async def refresh_popular(res: Resources, now_ms: int) -> int:
    """Recompute the cached list; returns how many posts it holds."""
    async with res.db.session() as session:
        rows = await popular_posts(
            session,
            since_id=id_floor_for_age(now_ms, POPULAR_WINDOW_MS),
            limit=res.settings.feed_popular_size,
        )
    if not rows:
        # A quiet day: fall back to the newest posts rather than an empty page.
        async with res.db.session() as session:
            rows = await popular_posts(session, since_id=0, limit=res.settings.feed_popular_size)
    await res.redis.set(POPULAR_KEY, orjson.dumps([[p, a] for p, a in rows]))
    return len(rows)


async def cached_popular(res: Resources) -> list[tuple[int, int]] | None:
    """The cached (post_id, author_id) pairs, or None when nothing was cached yet."""
    raw = await res.redis.get(POPULAR_KEY)
    if raw is None:
        return None
    return [(int(p), int(a)) for p, a in orjson.loads(raw)]
