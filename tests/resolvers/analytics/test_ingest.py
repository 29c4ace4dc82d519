"""trackEvents ingestion against the real PostgreSQL: validation reasons, dedup, windows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from puppies.settings import Settings
from resolvers.analytics.events import client_event_uuid
from resolvers.analytics.ingest import EventInput, Reason, track_events
from resolvers.analytics.partitions import drop_partitions_before, list_partitions
from resolvers.errors import BadInput
from resolvers.posts.posts import create_post
from resolvers.runtime import Resources
from resolvers.users.bulk import insert_users

# A real post and a real account: analytics checks that the events' references exist.
REFS: dict[str, str] = {}


@pytest.fixture(autouse=True)
async def refs(res: Resources) -> None:
    made = await insert_users(res, [("viewed", "viewed@example.com", "Viewed", "")], "x")
    REFS["user"] = str(made["viewed"])
    REFS["post"] = str((await create_post(res, made["viewed"], "viewed", [])).post.id)


async def _count(res: Resources, sql: str, **params: object) -> int:
    async with res.db.session() as s:
        return int((await s.execute(text(sql), params)).scalar_one())


def _ev(
    i: int | str,
    type_: str = "POST_VIEW",
    *,
    at: datetime | None = None,
    post: str | None = "the post",
    user: str | None = None,
) -> EventInput:
    return EventInput(
        id=f"e-{i}",
        type=type_,
        occurred_at=at or datetime.now(UTC),
        post_id=REFS["post"] if post == "the post" else post,
        user_id=REFS["user"] if user == "the user" else user,
    )


async def test_a_batch_is_recorded_in_its_partition_and_queued(
    res: Resources, settings: Settings
) -> None:
    now = datetime.now(UTC)
    batch = [
        _ev(1),
        _ev(2, "SHARE"),
        _ev(3, "PROFILE_VIEW", post=None, user="the user"),
        _ev(4, "APP_OPEN", post=None),
    ]
    result = await track_events(res, 42, batch, now=now)
    assert (result.accepted, result.rejected) == (4, [])
    partition = f"analytics.events_p{now:%Y%m%d}"
    assert await _count(res, f"SELECT count(*) FROM {partition}") == 4
    assert await _count(res, "SELECT count(*) FROM analytics.events WHERE actor_id = 42") == 4
    # APP_OPEN feeds no rollup: kept raw only.
    assert await _count(res, "SELECT count(*) FROM analytics.rollup_queue") == 3
    assert await _count(res, "SELECT count(*) FROM analytics.event_ids") == 4


async def test_duplicate_ids_in_a_batch_and_across_retries(
    res: Resources, settings: Settings
) -> None:
    first = await track_events(res, 1, [_ev(1), _ev(2), _ev(1)])
    assert first.accepted == 2
    assert [(r.index, r.reason) for r in first.rejected] == [(2, Reason.DUPLICATE_ID)]
    # The client retries the whole batch: nothing is counted twice.
    retry = await track_events(res, 1, [_ev(1), _ev(2), _ev(3)])
    assert retry.accepted == 1
    assert [(r.index, r.id, r.reason) for r in retry.rejected] == [
        (0, "e-1", Reason.DUPLICATE_ID),
        (1, "e-2", Reason.DUPLICATE_ID),
    ]
    # Same id with another occurredAt is still the same event.
    again = await track_events(res, 1, [_ev(1, at=datetime.now(UTC) - timedelta(minutes=5))])
    assert again.accepted == 0 and again.rejected[0].reason == Reason.DUPLICATE_ID
    # Ids are scoped to their sender: another user's "e-1" is another event.
    other = await track_events(res, 2, [_ev(1)])
    assert other.accepted == 1
    assert await _count(res, "SELECT count(*) FROM analytics.events") == 4
    assert await _count(res, "SELECT count(*) FROM analytics.rollup_queue") == 4
    assert client_event_uuid(1, "e-1") != client_event_uuid(2, "e-1")


async def test_out_of_window_timestamps(res: Resources, settings: Settings) -> None:
    now = datetime.now(UTC)
    window = timedelta(hours=settings.analytics_ingest_window_hours)
    skew = timedelta(seconds=settings.analytics_future_skew_seconds)
    batch = [
        _ev("future", at=now + skew + timedelta(seconds=5)),
        _ev("skewed", at=now + skew - timedelta(seconds=5)),
        _ev("old", at=now - window - timedelta(minutes=1)),
        _ev("oldest-ok", at=now - window + timedelta(minutes=1)),
        _ev("naive", at=(now - timedelta(minutes=1)).replace(tzinfo=None)),
    ]
    result = await track_events(res, None, batch, now=now)
    assert result.accepted == 3
    reasons = {r.id: r.reason for r in result.rejected}
    assert reasons == {"e-future": Reason.IN_FUTURE, "e-old": Reason.TOO_OLD}
    assert "older than the accepted window" in next(
        r.message for r in result.rejected if r.id == "e-old"
    )
    assert await _count(res, "SELECT count(*) FROM analytics.events") == 3


async def test_the_window_is_configurable(res: Resources, settings: Settings) -> None:
    narrow = settings.model_copy(
        update={"analytics_ingest_window_hours": 1, "analytics_future_skew_seconds": 0}
    )
    now = datetime.now(UTC)
    result = await track_events(
        replace(res, settings=narrow),
        None,
        [
            _ev(1, at=now - timedelta(hours=2)),
            _ev(2, at=now - timedelta(minutes=30)),
            _ev(3, at=now + timedelta(seconds=2)),
        ],
        now=now,
    )
    assert result.accepted == 1
    assert [r.reason for r in result.rejected] == [Reason.TOO_OLD, Reason.IN_FUTURE]


async def test_unknown_types_and_bad_fields_get_reasons(res: Resources, settings: Settings) -> None:
    batch = [
        _ev(1, "POST_LOVED"),
        _ev(2, "LIKE"),  # recorded from domain events only
        _ev(3, "POST_VIEW", post=None),
        _ev(4, "PROFILE_VIEW", post=None, user=None),
        _ev(5, "POST_VIEW", post="abc"),
        _ev(6, "POST_VIEW", post="-3"),
        EventInput(id="", type="APP_OPEN", occurred_at=datetime.now(UTC)),
        EventInput(id="x" * 129, type="APP_OPEN", occurred_at=datetime.now(UTC)),
        _ev(9, "APP_OPEN", post=None),
    ]
    result = await track_events(res, 5, batch)
    assert result.accepted == 1
    assert [(r.index, r.reason) for r in result.rejected] == [
        (0, Reason.UNKNOWN_TYPE),
        (1, Reason.UNKNOWN_TYPE),
        (2, Reason.MISSING_FIELD),
        (3, Reason.MISSING_FIELD),
        (4, Reason.INVALID_REFERENCE),
        (5, Reason.INVALID_REFERENCE),
        (6, Reason.INVALID_ID),
        (7, Reason.INVALID_ID),
    ]
    assert "POST_LOVED" in result.rejected[0].message
    assert "recorded by the server" in result.rejected[1].message
    assert await _count(res, "SELECT count(*) FROM analytics.events") == 1


async def test_an_oversized_batch_is_refused_whole(res: Resources, settings: Settings) -> None:
    batch = [_ev(i) for i in range(settings.analytics_max_batch + 1)]
    with pytest.raises(BadInput) as exc:
        await track_events(res, 1, batch)
    assert exc.value.code == "BAD_USER_INPUT"
    assert "at most 500" in exc.value.message
    assert await _count(res, "SELECT count(*) FROM analytics.events") == 0
    assert await _count(res, "SELECT count(*) FROM analytics.event_ids") == 0
    full = await track_events(res, 1, batch[:-1])
    assert full.accepted == 500
    assert await _count(res, "SELECT count(*) FROM analytics.events") == 500


async def test_a_missing_partition_is_created_on_demand(res: Resources, settings: Settings) -> None:
    now = datetime.now(UTC)
    two_days_ago = now - timedelta(days=2)
    day = two_days_ago.date()
    # Drop the partitions of two days ago and before (as if the cron had never run).
    await drop_partitions_before(res, day + timedelta(days=1))
    assert day not in await list_partitions(res)
    result = await track_events(res, 1, [_ev(1, at=two_days_ago)], now=now)
    assert result.accepted == 1
    assert day in await list_partitions(res)
    assert await _count(res, f"SELECT count(*) FROM analytics.events_p{day:%Y%m%d}") == 1


async def test_concurrent_overlapping_batches_count_each_event_once(
    res: Resources, settings: Settings
) -> None:
    import asyncio

    ids = list(range(200))
    batches = [
        [_ev(i) for i in ids],
        [_ev(i) for i in reversed(ids)],
        [_ev(i) for i in ids[50:150]],
        [_ev(i) for i in ids[::-1][::2]],
    ]
    results = await asyncio.gather(*(track_events(res, 1, b) for b in batches))
    assert sum(r.accepted for r in results) == 200
    assert sum(len(r.rejected) for r in results) == 200 + 200 + 100 + 100 - 200
    assert {r.reason for res in results for r in res.rejected} == {Reason.DUPLICATE_ID}
    assert await _count(res, "SELECT count(*) FROM analytics.events") == 200
