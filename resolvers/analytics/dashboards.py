"""Dashboards: Post.stats, User.analytics, topPosts, read from the rollups only.

A range [from, to) is widened to whole hours. Whole UTC days inside it come from the daily
rollups, the partial days at either edge from the hourly ones: one index range scan per
table, whatever the length of the range. `daily` lists every UTC date the range touches,
zero-filled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text

from puppies.auth import Viewer
from resolvers.errors import BadInput, Forbidden, Unauthenticated
from resolvers.runtime import Resources

DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 400
SCOPE = "read:analytics"


@dataclass(frozen=True)
class Range:
    start: datetime  # hour-aligned, inclusive
    end: datetime  # hour-aligned, exclusive
    d0: date  # whole days [d0, d1) come from the daily rollups
    d1: date

    @property
    def h0(self) -> datetime:
        return _midnight(self.d0) if self.d0 < self.d1 else self.end

    @property
    def h1(self) -> datetime:
        return _midnight(self.d1) if self.d0 < self.d1 else self.end

    def dates(self) -> list[date]:
        out, day = [], self.start.date()
        last = (self.end - timedelta(microseconds=1)).date()
        while day <= last:
            out.append(day)
            day += timedelta(days=1)
        return out

    def params(self) -> dict[str, object]:
        return {
            "f": self.start,
            "t": self.end,
            "d0": self.d0,
            "d1": self.d1,
            "h0": self.h0,
            "h1": self.h1,
        }


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time.min, UTC)


def _utc(t: datetime) -> datetime:
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def make_range(
    start: datetime | None, end: datetime | None, *, now: datetime | None = None
) -> Range:
    """The range a dashboard asked for (default: the last 30 days), hour-aligned."""
    end = _utc(end) if end is not None else (now or datetime.now(UTC))
    start = _utc(start) if start is not None else end - timedelta(days=DEFAULT_RANGE_DAYS)
    if start >= end:
        raise BadInput("`from` must be before `to`", field="from")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise BadInput(f"a range spans at most {MAX_RANGE_DAYS} days", field="from")
    f = start.replace(minute=0, second=0, microsecond=0)
    t = end.replace(minute=0, second=0, microsecond=0)
    if t < end:
        t += timedelta(hours=1)
    d0 = f.date() if f == _midnight(f.date()) else f.date() + timedelta(days=1)
    d1 = t.date()
    if d0 >= d1:
        d0 = d1
    return Range(f, t, d0, d1)


@dataclass
class DayStats:
    date: date
    views: int = 0
    likes: int = 0
    comments: int = 0
    shares: int = 0


@dataclass
class PostStats:
    views: int = 0
    likes: int = 0
    comments: int = 0
    shares: int = 0
    daily: list[DayStats] = field(default_factory=list)


@dataclass
class UserDay:
    date: date
    post_views: int = 0
    likes_received: int = 0
    comments_received: int = 0
    followers_gained: int = 0
    profile_views: int = 0


@dataclass
class UserAnalytics:
    user_id: int
    range: Range
    post_views: int = 0
    likes_received: int = 0
    comments_received: int = 0
    followers_gained: int = 0
    profile_views: int = 0
    daily: list[UserDay] = field(default_factory=list)


@dataclass(frozen=True)
class TopPost:
    post_id: int
    views: int
    likes: int
    comments: int
    shares: int


def require_owner(viewer: Viewer, user_id: int | None, what: str) -> int:
    """The viewer may read `what` only when it is theirs (and an API key has the scope)."""
    if viewer.user_id is None:
        raise Unauthenticated(f"log in to read {what}")
    if not viewer.has_scope(SCOPE):
        raise Forbidden(f"this API key lacks the {SCOPE!r} scope")
    if user_id is None or viewer.user_id != user_id:
        raise Forbidden(f"you can only read your own {what}")
    return viewer.user_id


_POST_ROWS = text(
    """
    SELECT post_id, day, views, likes, comments, shares FROM analytics.post_daily
    WHERE post_id = ANY(CAST(:ids AS bigint[])) AND day >= :d0 AND day < :d1
    UNION ALL
    SELECT post_id, (bucket AT TIME ZONE 'UTC')::date, views, likes, comments, shares
    FROM analytics.post_hourly
    WHERE post_id = ANY(CAST(:ids AS bigint[]))
      AND ((bucket >= :f AND bucket < :h0) OR (bucket >= :h1 AND bucket < :t))
    """
)


async def post_stats(res: Resources, post_ids: Sequence[int], rng: Range) -> dict[int, PostStats]:
    """Stats of many posts over one range: one statement."""
    days = rng.dates()
    out: dict[int, dict[date, DayStats]] = {p: {} for p in post_ids}
    async with res.db.session() as session:
        rows = await session.execute(_POST_ROWS, {"ids": list(post_ids), **rng.params()})
        for post_id, day, views, likes, comments, shares in rows:
            d = out[post_id].setdefault(day, DayStats(day))
            d.views += views
            d.likes += likes
            d.comments += comments
            d.shares += shares
    result = {}
    for post_id, by_day in out.items():
        daily = [by_day.get(day) or DayStats(day) for day in days]
        result[post_id] = PostStats(
            views=sum(d.views for d in daily),
            likes=sum(d.likes for d in daily),
            comments=sum(d.comments for d in daily),
            shares=sum(d.shares for d in daily),
            daily=daily,
        )
    return result


_USER_ROWS = text(
    """
    SELECT day, post_views, likes_received, comments_received, followers_gained,
           profile_views
    FROM analytics.user_daily WHERE user_id = :uid AND day >= :d0 AND day < :d1
    UNION ALL
    SELECT (bucket AT TIME ZONE 'UTC')::date, post_views, likes_received, comments_received,
           followers_gained, profile_views
    FROM analytics.user_hourly
    WHERE user_id = :uid
      AND ((bucket >= :f AND bucket < :h0) OR (bucket >= :h1 AND bucket < :t))
    """
)


async def user_analytics(res: Resources, user_id: int, rng: Range) -> UserAnalytics:
    by_day: dict[date, UserDay] = {}
    async with res.db.session() as session:
        rows = await session.execute(_USER_ROWS, {"uid": user_id, **rng.params()})
        for day, pv, lr, cr, fg, prv in rows:
            d = by_day.setdefault(day, UserDay(day))
            d.post_views += pv
            d.likes_received += lr
            d.comments_received += cr
            d.followers_gained += fg
            d.profile_views += prv
    daily = [by_day.get(day) or UserDay(day) for day in rng.dates()]
    return UserAnalytics(
        user_id=user_id,
        range=rng,
        post_views=sum(d.post_views for d in daily),
        likes_received=sum(d.likes_received for d in daily),
        comments_received=sum(d.comments_received for d in daily),
        followers_gained=sum(d.followers_gained for d in daily),
        profile_views=sum(d.profile_views for d in daily),
        daily=daily,
    )


_TOP_POSTS = text(
    """
    SELECT post_id, sum(views) AS views, sum(likes) AS likes, sum(comments) AS comments,
           sum(shares) AS shares
    FROM (
        SELECT post_id, views, likes, comments, shares FROM analytics.post_daily
        WHERE owner_id = :uid AND day >= :d0 AND day < :d1
        UNION ALL
        SELECT post_id, views, likes, comments, shares FROM analytics.post_hourly
        WHERE owner_id = :uid
          AND ((bucket >= :f AND bucket < :h0) OR (bucket >= :h1 AND bucket < :t))
    ) x
    GROUP BY post_id
    ORDER BY sum(views) DESC, sum(likes) DESC, sum(comments) DESC, post_id DESC
    LIMIT :limit
    """
)


async def top_posts(
    res: Resources, user_id: int, rng: Range, limit: int, max_limit: int
) -> list[TopPost]:
    """The user's most viewed posts in the range."""
    if not 1 <= limit <= max_limit:
        raise BadInput(f"limit must be between 1 and {max_limit}", field="limit")
    async with res.db.session() as session:
        rows = await session.execute(_TOP_POSTS, {"uid": user_id, "limit": limit, **rng.params()})
        return [TopPost(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]


async def post_authors(res: Resources, post_ids: Sequence[int]) -> dict[int, int]:
    """Authors of these posts, from analytics' own projection of post.published events."""
    async with res.db.session() as session:
        rows = await session.execute(
            text(
                "SELECT post_id, author_id FROM analytics.posts "
                "WHERE post_id = ANY(CAST(:ids AS bigint[]))"
            ),
            {"ids": list(post_ids)},
        )
        return {int(p): int(a) for p, a in rows}
