"""Dashboards from the rollups: ranges, edges from hourly, whole days from daily, top posts,
trending, and who may read what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import text

from models.outbox import Event
from puppies.auth import Viewer
from puppies.settings import Settings
from resolvers.analytics import dashboards
from resolvers.analytics.dashboards import make_range, require_owner
from resolvers.analytics.domain import record_domain_event
from resolvers.analytics.events import Row, record
from resolvers.analytics.rollup import roll_up_all
from resolvers.analytics.trending import compute_trending, trending_posts
from resolvers.errors import BadInput, Forbidden, Unauthenticated
from resolvers.runtime import Resources

MIDNIGHT = datetime.combine(datetime.now(UTC).date(), time.min, UTC)


def _view(post: int, at: datetime, type_: str = "POST_VIEW") -> Row:
    return Row(
        event_id=uuid.uuid4(),
        occurred_at=at,
        type=type_,
        source="client",
        client_event_id="v",
        post_id=post,
    )


async def _post(res: Resources, post: int, author: int) -> None:
    await record_domain_event(
        res,
        Event(
            id=f"posts:{post}",
            type="post.created",
            schema="posts",
            aggregate_id=post,
            payload={"post_id": post, "author_id": author},
            occurred_at=MIDNIGHT - timedelta(days=3),
        ),
    )


def test_ranges_are_hour_aligned_and_split_into_whole_days() -> None:
    r = make_range(MIDNIGHT - timedelta(days=2, minutes=30), MIDNIGHT + timedelta(minutes=1))
    assert r.start == MIDNIGHT - timedelta(days=2, hours=1)
    assert r.end == MIDNIGHT + timedelta(hours=1)
    assert (r.d0, r.d1) == ((MIDNIGHT - timedelta(days=2)).date(), MIDNIGHT.date())
    assert len(r.dates()) == 4
    short = make_range(MIDNIGHT + timedelta(hours=1), MIDNIGHT + timedelta(hours=3))
    assert short.d0 == short.d1 and short.h0 == short.end
    with pytest.raises(BadInput):
        make_range(MIDNIGHT, MIDNIGHT - timedelta(hours=1))
    with pytest.raises(BadInput):
        make_range(MIDNIGHT - timedelta(days=500), MIDNIGHT)


def test_only_the_owner_reads_their_dashboards() -> None:
    assert require_owner(Viewer(user_id=1, kind="user"), 1, "x") == 1
    with pytest.raises(Unauthenticated):
        require_owner(Viewer(), 1, "x")
    with pytest.raises(Forbidden):
        require_owner(Viewer(user_id=2, kind="user"), 1, "x")
    with pytest.raises(Forbidden):
        require_owner(Viewer(user_id=1, kind="user"), None, "x")
    key = Viewer(user_id=1, kind="api_key", scopes=frozenset({"read:profile"}))
    with pytest.raises(Forbidden, match="read:analytics"):
        require_owner(key, 1, "x")
    ok = Viewer(user_id=1, kind="api_key", scopes=frozenset({"read:analytics"}))
    assert require_owner(ok, 1, "x") == 1


async def test_stats_combine_daily_rows_and_hourly_edges(
    res: Resources, settings: Settings
) -> None:
    await _post(res, 1, 100)
    await _post(res, 2, 100)
    two_days_ago = MIDNIGHT - timedelta(days=2)
    await record(
        res,
        [
            _view(1, two_days_ago + timedelta(hours=5)),  # excluded: before the range
            _view(1, two_days_ago + timedelta(hours=20)),  # edge hour of a partial day
            _view(1, MIDNIGHT - timedelta(hours=12)),  # whole day (yesterday)
            _view(1, MIDNIGHT - timedelta(hours=11)),
            _view(1, MIDNIGHT + timedelta(minutes=10)),  # edge: today's first hour
            _view(1, MIDNIGHT + timedelta(hours=1)),  # excluded: after the range
            _view(2, MIDNIGHT - timedelta(hours=3)),
            _view(2, MIDNIGHT - timedelta(hours=3), "SHARE"),
        ],
    )
    await roll_up_all(res)
    rng = make_range(two_days_ago + timedelta(hours=20), MIDNIGHT + timedelta(minutes=30))
    stats = await dashboards.post_stats(res, [1, 2, 3], rng)
    assert stats[1].views == 4
    assert [(d.date, d.views) for d in stats[1].daily] == [
        (two_days_ago.date(), 1),
        ((MIDNIGHT - timedelta(days=1)).date(), 2),
        (MIDNIGHT.date(), 1),
    ]
    assert (stats[2].views, stats[2].shares) == (1, 1)
    assert stats[3].views == 0 and len(stats[3].daily) == 3
    user = await dashboards.user_analytics(res, 100, rng)
    assert user.post_views == 5
    top = await dashboards.top_posts(res, 100, rng, 10, 100)
    assert [(t.post_id, t.views) for t in top] == [(1, 4), (2, 1)]
    assert [t.post_id for t in await dashboards.top_posts(res, 100, rng, 1, 100)] == [1]
    with pytest.raises(BadInput):
        await dashboards.top_posts(res, 100, rng, 0, 100)
    assert await dashboards.post_authors(res, [1, 2, 3]) == {1: 100, 2: 100}


async def test_trending_ranks_known_live_posts_by_score(res: Resources, settings: Settings) -> None:
    now = datetime.now(UTC)
    for post in (1, 2, 3, 4):
        await _post(res, post, 100 + post)
    await record(
        res,
        [
            *[_view(1, now - timedelta(minutes=1)) for _ in range(3)],
            *[_view(2, now - timedelta(minutes=2)) for _ in range(5)],
            *[_view(3, now - timedelta(hours=5)) for _ in range(10)],
            *[_view(4, now - timedelta(days=3)) for _ in range(20)],
            *[_view(999, now) for _ in range(50)],  # a post analytics never heard of
        ],
    )
    await roll_up_all(res)
    assert [p for p, _ in await compute_trending(res, "HOUR", 10)] == [2, 1]
    assert [p for p, _ in await compute_trending(res, "DAY", 10)] == [3, 2, 1]
    assert [p for p, _ in await compute_trending(res, "WEEK", 10)] == [4, 3, 2, 1]
    await record_domain_event(
        res,
        Event(
            id="posts:del4",
            type="post.deleted",
            schema="posts",
            aggregate_id=4,
            payload={"post_id": 4, "author_id": 104},
            occurred_at=now,
        ),
    )
    assert await trending_posts(res, "WEEK", 2) == [3, 2]
    # Cached: new views do not move the ranking until the cache expires.
    await record(res, [_view(1, now) for _ in range(30)])
    await roll_up_all(res)
    assert await trending_posts(res, "WEEK", 3) == [3, 2, 1]
    await res.redis.delete("analytics:trending:WEEK")
    assert await trending_posts(res, "WEEK", 3) == [1, 3, 2]
    with pytest.raises(BadInput):
        await trending_posts(res, "WEEK", 0)
    with pytest.raises(BadInput):
        await trending_posts(res, "YEAR", 5)
    async with res.db.session() as s:
        assert (
            await s.execute(text("SELECT count(*) FROM analytics.rollup_queue"))
        ).scalar_one() == 0
