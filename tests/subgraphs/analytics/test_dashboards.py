"""Post.stats, User.analytics and trendingPosts over HTTP: numbers, permissions, SQL cost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from models.outbox import Event
from models.sqlcount import count_statements
from resolvers.analytics.domain import record_domain_event
from resolvers.analytics.events import Row, record
from resolvers.analytics.rollup import roll_up_all
from resolvers.posts.posts import create_post
from tests.subgraphs.analytics.conftest import Analytics

AUTHOR, OTHER = 41, 42
MIDNIGHT = datetime.combine(datetime.now(UTC).date(), time.min, UTC)

POST_STATS = """
query($reps: [_Any!]!, $from: DateTime, $to: DateTime) {
  _entities(representations: $reps) {
    ... on Post { id stats(from: $from, to: $to) { views likes comments shares
                                                    daily { date views likes } } }
  }
}
"""
USER_ANALYTICS = """
query($id: ID!, $from: DateTime) {
  _entities(representations: [{__typename: "User", id: $id}]) {
    ... on User { id analytics(from: $from) { postViews likesReceived followersGained
                  profileViews daily { date postViews }
                  topPosts(limit: 2) { post { id } views likes } } }
  }
}
"""


async def _post(a: Analytics, post: int, author: int = AUTHOR) -> None:
    await record_domain_event(
        a.res,
        Event(
            id=f"posts:{post}",
            type="post.created",
            schema="posts",
            aggregate_id=post,
            payload={"post_id": post, "author_id": author},
            occurred_at=MIDNIGHT - timedelta(days=2),
        ),
    )


def _row(
    type_: str,
    at: datetime,
    *,
    post: int | None = None,
    user: int | None = None,
    owner: int | None = None,
) -> Row:
    return Row(
        event_id=uuid.uuid4(),
        occurred_at=at,
        type=type_,
        source="client",
        client_event_id="x",
        post_id=post,
        user_id=user,
        owner_id=owner,
    )


async def _activity(a: Analytics) -> None:
    for post in (1, 2, 3):
        await _post(a, post)
    await _post(a, 9, author=OTHER)
    y = MIDNIGHT - timedelta(hours=6)
    await record(
        a.res,
        [
            *[_row("POST_VIEW", y, post=1) for _ in range(5)],
            *[_row("POST_VIEW", MIDNIGHT + timedelta(minutes=1), post=1) for _ in range(2)],
            *[_row("POST_VIEW", y, post=2) for _ in range(3)],
            _row("LIKE", y, post=2, owner=AUTHOR),
            _row("POST_VIEW", y, post=9),
            _row("FOLLOW", y, user=AUTHOR),
            _row("PROFILE_VIEW", y, user=AUTHOR),
        ],
    )
    await roll_up_all(a.res)


async def test_the_author_reads_post_stats(analytics: Analytics) -> None:
    await _activity(analytics)
    reps = [{"__typename": "Post", "id": "1"}, {"__typename": "Post", "id": "2"}]
    body = await analytics.gql(
        POST_STATS,
        {
            "reps": reps,
            "from": (MIDNIGHT - timedelta(days=1)).isoformat(),
            "to": (MIDNIGHT + timedelta(hours=1)).isoformat(),
        },
        as_user=AUTHOR,
    )
    assert "errors" not in body, body
    one, two = body["data"]["_entities"]
    assert one["stats"]["views"] == 7
    assert [(d["date"], d["views"]) for d in one["stats"]["daily"]] == [
        ((MIDNIGHT - timedelta(days=1)).date().isoformat(), 5),
        (MIDNIGHT.date().isoformat(), 2),
    ]
    assert (two["stats"]["views"], two["stats"]["likes"]) == (3, 1)


async def test_others_are_forbidden_and_strangers_unauthenticated(analytics: Analytics) -> None:
    await _activity(analytics)
    reps = [{"__typename": "Post", "id": "1"}, {"__typename": "Post", "id": "9"}]
    body = await analytics.gql(POST_STATS, {"reps": reps}, as_user=OTHER)
    codes = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert codes == {("_entities", 0, "stats"): "FORBIDDEN"}
    assert body["data"]["_entities"][0] == {"id": "1", "stats": None}  # the post stands
    assert body["data"]["_entities"][1]["stats"]["views"] == 1
    body = await analytics.gql(POST_STATS, {"reps": reps[:1]})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    body = await analytics.gql(USER_ANALYTICS, {"id": str(AUTHOR)}, as_user=OTHER)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"]["_entities"] == [{"id": str(AUTHOR), "analytics": None}]
    # A post nobody knows: forbidden too (no hint whether it exists).
    body = await analytics.gql(
        POST_STATS, {"reps": [{"__typename": "Post", "id": "777"}]}, as_user=AUTHOR
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_bad_ranges_and_ids_are_bad_user_input(analytics: Analytics) -> None:
    await _activity(analytics)
    body = await analytics.gql(
        POST_STATS,
        {
            "reps": [{"__typename": "Post", "id": "1"}],
            "from": MIDNIGHT.isoformat(),
            "to": (MIDNIGHT - timedelta(days=1)).isoformat(),
        },
        as_user=AUTHOR,
    )
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "from"}
    body = await analytics.gql(
        POST_STATS, {"reps": [{"__typename": "Post", "id": "abc"}]}, as_user=AUTHOR
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_user_reads_their_own_analytics(analytics: Analytics) -> None:
    await _activity(analytics)
    body = await analytics.gql(
        USER_ANALYTICS,
        {"id": str(AUTHOR), "from": (MIDNIGHT - timedelta(days=1)).isoformat()},
        as_user=AUTHOR,
    )
    assert "errors" not in body, body
    data = body["data"]["_entities"][0]["analytics"]
    assert (
        data["postViews"],
        data["likesReceived"],
        data["followersGained"],
        data["profileViews"],
    ) == (10, 1, 1, 1)
    assert [t["post"]["id"] for t in data["topPosts"]] == ["1", "2"]
    assert data["topPosts"][0]["views"] == 7
    assert sum(d["postViews"] for d in data["daily"]) == 10


async def test_trending_posts(analytics: Analytics) -> None:
    # Relative to now, not to midnight: the DAY window is the last 24 hours whatever the
    # time of day (events at "midnight - 6 h" left it every day at 18:00 UTC).
    for post in (1, 2, 3):
        await _post(analytics, post)
    await _post(analytics, 9, author=OTHER)
    earlier = datetime.now(UTC) - timedelta(hours=6)
    await record(
        analytics.res,
        [
            *[_row("POST_VIEW", earlier, post=1) for _ in range(7)],
            *[_row("POST_VIEW", earlier, post=2) for _ in range(3)],
            _row("LIKE", earlier, post=2, owner=AUTHOR),
            _row("POST_VIEW", earlier, post=9),
        ],
    )
    await roll_up_all(analytics.res)
    body = await analytics.gql("{ trendingPosts(window: DAY, limit: 3) { id } }")
    assert body == {"data": {"trendingPosts": [{"id": "1"}, {"id": "2"}, {"id": "9"}]}}
    await record(
        analytics.res,
        [_row("POST_VIEW", datetime.now(UTC) - timedelta(minutes=1), post=3) for _ in range(5)],
    )
    await roll_up_all(analytics.res)
    body = await analytics.gql("{ trendingPosts(window: HOUR) { id } }")
    assert [p["id"] for p in body["data"]["trendingPosts"]] == ["3"]
    body = await analytics.gql("{ trendingPosts(window: DAY, limit: 1000) { id } }")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await analytics.gql("{ trendingPosts(window: YEAR) { id } }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_stats_of_many_posts_cost_a_fixed_number_of_statements(analytics: Analytics) -> None:
    for post in range(1, 51):
        await _post(analytics, post)
    await record(
        analytics.res,
        [_row("POST_VIEW", MIDNIGHT + timedelta(minutes=1), post=p) for p in range(1, 51)],
    )
    await roll_up_all(analytics.res)
    counts = []
    for n in (5, 50):
        reps = [{"__typename": "Post", "id": str(p)} for p in range(1, n + 1)]
        with count_statements() as counter:
            body = await analytics.gql(POST_STATS, {"reps": reps}, as_user=AUTHOR)
        assert "errors" not in body
        assert all(e["stats"]["views"] == 1 for e in body["data"]["_entities"])
        counts.append(len(counter.queries()))
    assert counts == [2, 2]  # the authors, then the stats of every post
    with count_statements() as counter:
        body = await analytics.gql(USER_ANALYTICS, {"id": str(AUTHOR)}, as_user=AUTHOR)
    assert body["data"]["_entities"][0]["analytics"]["postViews"] == 50
    assert len(counter.queries()) == 2  # the totals and daily series, then topPosts


async def test_posts_analytics_never_heard_of_ask_the_posts_domain(analytics: Analytics) -> None:
    created = await create_post(analytics.res, AUTHOR, "hello", [])
    post_id = str(created.post.id)
    body = await analytics.gql(
        POST_STATS, {"reps": [{"__typename": "Post", "id": post_id}]}, as_user=AUTHOR
    )
    assert "errors" not in body, body
    assert body["data"]["_entities"][0]["stats"]["views"] == 0
    body = await analytics.gql(
        POST_STATS, {"reps": [{"__typename": "Post", "id": post_id}]}, as_user=OTHER
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
