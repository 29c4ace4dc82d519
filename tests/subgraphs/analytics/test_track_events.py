"""Mutation.trackEvents over HTTP: accepted and rejected counts with reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from resolvers.posts.posts import create_post
from tests.subgraphs.analytics.conftest import Analytics

TRACK = """
mutation($events: [EventInput!]!) {
  trackEvents(events: $events) { accepted rejected rejections { index id reason message } }
}
"""


# A real post: analytics checks that an event's post exists.
REFS: dict[str, str] = {}


@pytest.fixture(autouse=True)
async def refs(analytics: Analytics) -> None:
    REFS["post"] = str((await create_post(analytics.res, 3, "seen", [])).post.id)


def _ev(
    i: int | str,
    type_: str = "POST_VIEW",
    *,
    at: datetime | None = None,
    post: str | None = "the post",
) -> dict[str, Any]:
    return {
        "id": f"ev-{i}",
        "type": type_,
        "occurredAt": (at or datetime.now(UTC)).isoformat(),
        "postId": REFS["post"] if post == "the post" else post,
    }


async def _raw_count(a: Analytics) -> int:
    async with a.db.session() as s:
        return int((await s.execute(text("SELECT count(*) FROM analytics.events"))).scalar_one())


async def test_accepts_a_batch_and_dedups_a_retry(analytics: Analytics) -> None:
    batch = [_ev(i) for i in range(100)]
    body = await analytics.gql(TRACK, {"events": batch}, as_user=3)
    assert body == {"data": {"trackEvents": {"accepted": 100, "rejected": 0, "rejections": []}}}
    retry = await analytics.gql(TRACK, {"events": batch}, as_user=3)
    payload = retry["data"]["trackEvents"]
    assert (payload["accepted"], payload["rejected"]) == (0, 100)
    assert {r["reason"] for r in payload["rejections"]} == {"DUPLICATE_ID"}
    assert await _raw_count(analytics) == 100


async def test_anonymous_clients_may_track(analytics: Analytics) -> None:
    body = await analytics.gql(TRACK, {"events": [_ev(1, "APP_OPEN", post=None)]})
    assert body["data"]["trackEvents"]["accepted"] == 1


async def test_bad_events_are_rejected_one_by_one(analytics: Analytics) -> None:
    now = datetime.now(UTC)
    batch = [
        _ev(0),
        _ev(1, "TELEPORT"),
        _ev(2, at=now + timedelta(hours=1)),
        _ev(3, at=now - timedelta(days=30)),
        _ev(4, post=None),
        _ev(0),
    ]
    body = await analytics.gql(TRACK, {"events": batch}, as_user=3)
    payload = body["data"]["trackEvents"]
    assert (payload["accepted"], payload["rejected"]) == (1, 5)
    assert [(r["index"], r["id"], r["reason"]) for r in payload["rejections"]] == [
        (1, "ev-1", "UNKNOWN_TYPE"),
        (2, "ev-2", "IN_FUTURE"),
        (3, "ev-3", "TOO_OLD"),
        (4, "ev-4", "MISSING_FIELD"),
        (5, "ev-0", "DUPLICATE_ID"),
    ]
    assert all(r["message"] for r in payload["rejections"])
    assert await _raw_count(analytics) == 1


async def test_an_oversized_batch_is_bad_user_input(analytics: Analytics) -> None:
    body = await analytics.gql(TRACK, {"events": [_ev(i) for i in range(501)]}, as_user=3)
    assert body["data"] == {"trackEvents": None}
    err = body["errors"][0]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 500" in err["message"]
    assert await _raw_count(analytics) == 0


async def test_malformed_input_is_bad_user_input(analytics: Analytics) -> None:
    body = await analytics.gql(
        TRACK, {"events": [{"id": "x", "type": "APP_OPEN", "occurredAt": "yesterday"}]}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await analytics.gql(TRACK, {"events": [{"id": "x", "type": "APP_OPEN"}]})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await _raw_count(analytics) == 0


def test_the_fast_datetime_parser_accepts_what_strawberry_accepts() -> None:
    import dateutil.parser

    from subgraphs.common.scalars import _parse_datetime

    for value in (
        "2026-11-22T17:03:11.402Z",
        "2026-11-22T17:03:11+02:00",
        "2026-11-22",
        "2026-11-22T17:03",
        "20261122T170311Z",
        "2026-11-22T17:03:11.123456789Z",
        "2026-W47-1T10:00:00Z",
    ):
        assert _parse_datetime(value) == dateutil.parser.isoparse(value), value
