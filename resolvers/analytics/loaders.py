"""Per-request DataLoaders and the viewer-facing entry points of the analytics subgraph.

`Post.stats` on a list of posts costs two statements whatever the list's length: one for
the authors (permission), one for the stats of every post sharing a range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from aiodataloader import DataLoader

from puppies.auth import Viewer
from resolvers.analytics import dashboards, trending
from resolvers.analytics.dashboards import PostStats, Range, TopPost, UserAnalytics
from resolvers.analytics.ingest import EventInput, TrackResult, track_events
from resolvers.posts.posts import post_authors
from resolvers.runtime import Resources

AuthorFallback = Callable[[Resources, Sequence[int]], Awaitable[dict[int, int]]]


async def authors_from_posts_domain(
    resources: Resources, post_ids: Sequence[int]
) -> dict[int, int]:
    """Who wrote these posts, asked of the posts domain's resolvers: for posts analytics has
    not heard of through post.published (e.g. created before analytics ran, or seeded)."""
    return await post_authors(resources, post_ids)


class AnalyticsLoaders:
    def __init__(
        self,
        resources: Resources,
        viewer: Viewer,
        author_fallback: AuthorFallback | None = authors_from_posts_domain,
    ) -> None:
        self.resources = resources
        self.viewer = viewer
        self._fallback = author_fallback
        self.post_author: DataLoader[int, int | None] = DataLoader(self._load_authors)
        self.post_stats: DataLoader[tuple[int, Range], PostStats] = DataLoader(self._load_stats)

    async def _load_authors(self, post_ids: list[int]) -> list[int | None]:
        authors = await dashboards.post_authors(self.resources, post_ids)
        missing = [p for p in post_ids if p not in authors]
        if missing and self._fallback is not None:
            authors.update(await self._fallback(self.resources, missing))
        return [authors.get(p) for p in post_ids]

    async def _load_stats(self, keys: list[tuple[int, Range]]) -> list[PostStats]:
        by_range: dict[Range, list[int]] = defaultdict(list)
        for post_id, rng in keys:
            by_range[rng].append(post_id)
        found: dict[tuple[int, Range], PostStats] = {}
        for rng, ids in by_range.items():
            stats = await dashboards.post_stats(self.resources, ids, rng)
            for post_id, s in stats.items():
                found[(post_id, rng)] = s
        return [found[k] for k in keys]

    # Entry points (the subgraph's fields call these).

    async def track(self, events: Sequence[EventInput]) -> TrackResult:
        return await track_events(self.resources, self.viewer.user_id, events)

    async def stats_for_post(
        self, post_id: int, start: datetime | None, end: datetime | None
    ) -> PostStats:
        author = await self.post_author.load(post_id)
        dashboards.require_owner(self.viewer, author, "post stats")
        rng = dashboards.make_range(start, end)
        return await self.post_stats.load((post_id, rng))

    async def analytics_for_user(
        self, user_id: int, start: datetime | None, end: datetime | None
    ) -> UserAnalytics:
        dashboards.require_owner(self.viewer, user_id, "analytics")
        rng = dashboards.make_range(start, end)
        return await dashboards.user_analytics(self.resources, user_id, rng)

    async def top_posts(self, analytics: UserAnalytics, limit: int) -> list[TopPost]:
        return await dashboards.top_posts(
            self.resources,
            analytics.user_id,
            analytics.range,
            limit,
            self.resources.settings.max_page_size,
        )

    async def trending(self, window: str, limit: int) -> list[int]:
        return await trending.trending_posts(self.resources, window, limit)
