"""Domain events (outbox) recorded exactly once, with the post-author projection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from models.analytics import partition_name
from models.outbox import Event
from puppies.settings import Settings
from resolvers.analytics.domain import record_domain_event, to_row
from resolvers.analytics.rollup import roll_up_all
from resolvers.runtime import Resources


def _event(row: int, type_: str, **payload: int) -> Event:
    return Event(
        id=f"posts:{row}",
        type=type_,
        schema="posts",
        aggregate_id=payload.get("post_id"),
        payload=dict(payload),
        occurred_at=datetime.now(UTC) - timedelta(seconds=5),
    )


async def _rows(res: Resources, sql: str) -> list[tuple]:
    async with res.db.session() as s:
        return [tuple(r) for r in await s.execute(text(sql))]


async def test_each_domain_event_is_recorded_once(res: Resources, settings: Settings) -> None:
    events = [
        _event(1, "post.created", post_id=10, author_id=1),
        _event(2, "post.liked", post_id=10, user_id=2, author_id=1),
        _event(3, "post.liked", post_id=10, user_id=3, author_id=1),
        _event(4, "post.unliked", post_id=10, user_id=3, author_id=1),
        _event(5, "comment.created", comment_id=99, post_id=10, author_id=2),
        Event(
            id="users:6",
            type="user.followed",
            schema="users",
            aggregate_id=2,
            payload={"follower_id": 2, "followee_id": 1},
        ),
        Event(
            id="users:7",
            type="user.unfollowed",
            schema="users",
            aggregate_id=3,
            payload={"follower_id": 3, "followee_id": 1},
        ),
    ]
    for e in events:
        assert await record_domain_event(res, e) is True
    # arq redelivers every one of them: nothing more is recorded.
    for e in events:
        assert await record_domain_event(res, e) is False
    assert await _rows(
        res, "SELECT type, count(*) FROM analytics.events GROUP BY 1 ORDER BY 1"
    ) == [
        ("COMMENT", 1),
        ("FOLLOW", 1),
        ("LIKE", 2),
        ("POST_CREATED", 1),
        ("UNFOLLOW", 1),
        ("UNLIKE", 1),
    ]
    assert await _rows(res, "SELECT post_id, author_id FROM analytics.posts") == [(10, 1)]
    await roll_up_all(res)
    assert await _rows(res, "SELECT views, likes, comments FROM analytics.post_daily") == [
        (0, 1, 1)
    ]
    assert await _rows(
        res,
        "SELECT likes_received, comments_received, followers_gained "
        "FROM analytics.user_daily WHERE user_id = 1",
    ) == [(1, 1, 0)]


async def test_untracked_and_expired_events_are_ignored(res: Resources, settings: Settings) -> None:
    assert to_row(_event(1, "media.uploaded", media_id=1, post_id=2)) is None
    assert await record_domain_event(res, _event(1, "media.uploaded")) is False
    ancient = Event(
        id="posts:2",
        type="post.liked",
        schema="posts",
        aggregate_id=1,
        payload={"post_id": 1, "user_id": 2, "author_id": 3},
        occurred_at=datetime.now(UTC) - timedelta(days=400),
    )
    assert await record_domain_event(res, ancient) is False
    assert await _rows(res, "SELECT count(*) FROM analytics.events") == [(0,)]


async def test_post_deleted_marks_the_projection(res: Resources, settings: Settings) -> None:
    await record_domain_event(res, _event(1, "post.created", post_id=10, author_id=1))
    await record_domain_event(res, _event(2, "post.deleted", post_id=10, author_id=1))
    rows = await _rows(res, "SELECT post_id, deleted_at IS NOT NULL FROM analytics.posts")
    assert rows == [(10, True)]


async def test_an_event_of_a_day_without_a_partition_makes_it(
    res: Resources, settings: Settings
) -> None:
    """10 days ago is inside retention but before the partitions made ahead of time: the
    first try fails on the missing partition, which is made, and the second records it
    (a like goes in one autocommit statement, a publication in a transaction)."""
    ago = datetime.now(UTC) - timedelta(days=10)
    like = Event(
        id="posts:21",
        type="post.liked",
        schema="posts",
        aggregate_id=7,
        payload={"post_id": 7, "user_id": 2, "author_id": 3},
        occurred_at=ago,
    )
    published = Event(
        id="posts:22",
        type="post.published",
        schema="posts",
        aggregate_id=8,
        payload={"post_id": 8, "author_id": 3},
        occurred_at=ago - timedelta(days=1),
    )
    days = [like.occurred_at.date(), published.occurred_at.date()]
    exists = "SELECT to_regclass(:name) IS NOT NULL"
    for day in days:
        async with res.db.session() as s:
            name = f"analytics.{partition_name(day)}"
            assert (await s.execute(text(exists), {"name": name})).scalar_one() is False
    for event in (like, published):
        assert await record_domain_event(res, event) is True
        assert await record_domain_event(res, event) is False
    assert await _rows(res, "SELECT type FROM analytics.events ORDER BY type") == [
        ("LIKE",),
        ("POST_CREATED",),
    ]
    assert await _rows(res, "SELECT post_id, author_id FROM analytics.posts") == [(8, 3)]
