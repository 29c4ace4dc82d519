"""Rollups against the real PostgreSQL: hour and day boundaries, late events, idempotence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from models.outbox import Event
from puppies.settings import Settings
from resolvers.analytics.domain import record_domain_event
from resolvers.analytics.events import Row, record
from resolvers.analytics.rollup import _ROLL_UP, queued, rebuild, roll_up, roll_up_all
from resolvers.runtime import Resources

AUTHOR, FAN, POST = 500, 600, 9001
TODAY = datetime.now(UTC).date()
MIDNIGHT = datetime.combine(TODAY, time.min, UTC)  # today 00:00 UTC


def _row(
    type_: str,
    at: datetime,
    *,
    post: int | None = POST,
    user: int | None = None,
    owner: int | None = None,
) -> Row:
    return Row(
        event_id=uuid.uuid4(),
        occurred_at=at,
        type=type_,
        source="client",
        client_event_id="t",
        post_id=post,
        user_id=user,
        owner_id=owner,
    )


async def _rows(res: Resources, sql: str, **params: object) -> list[tuple]:
    async with res.db.session() as s:
        return [tuple(r) for r in await s.execute(text(sql), params)]


async def _snapshot(res: Resources) -> dict[str, list[tuple]]:
    return {
        "post_hourly": await _rows(
            res,
            "SELECT post_id, bucket, owner_id, views, likes, "
            "comments, shares FROM analytics.post_hourly ORDER BY 1, 2",
        ),
        "post_daily": await _rows(
            res,
            "SELECT post_id, day, owner_id, views, likes, comments, "
            "shares FROM analytics.post_daily ORDER BY 1, 2",
        ),
        "user_hourly": await _rows(res, "SELECT * FROM analytics.user_hourly ORDER BY 1, 2"),
        "user_daily": await _rows(res, "SELECT * FROM analytics.user_daily ORDER BY 1, 2"),
    }


async def _post_created(res: Resources, post: int, author: int, at: datetime) -> None:
    await record_domain_event(
        res,
        Event(
            id=f"posts:{post}",
            type="post.created",
            schema="posts",
            aggregate_id=post,
            payload={"post_id": post, "author_id": author},
            occurred_at=at,
        ),
    )


async def _boundary_events(res: Resources, settings: Settings) -> None:
    await _post_created(res, POST, AUTHOR, MIDNIGHT - timedelta(hours=3))
    yesterday_2259 = MIDNIGHT - timedelta(hours=1, microseconds=1)
    await record(
        res,
        [
            _row("POST_VIEW", MIDNIGHT - timedelta(hours=2)),  # 22:00:00.000 yesterday
            _row("POST_VIEW", yesterday_2259),  # 22:59:59.999999
            _row("POST_VIEW", MIDNIGHT - timedelta(microseconds=1)),  # 23:59:59.999999
            _row("LIKE", MIDNIGHT - timedelta(minutes=1), owner=AUTHOR),
            _row("POST_VIEW", MIDNIGHT),  # 00:00:00 today
            _row("COMMENT", MIDNIGHT + timedelta(seconds=1)),
            _row("UNLIKE", MIDNIGHT + timedelta(minutes=30), owner=AUTHOR),
            _row("SHARE", MIDNIGHT + timedelta(minutes=59)),
            _row("FOLLOW", MIDNIGHT - timedelta(minutes=5), post=None, user=AUTHOR),
            _row("FOLLOW", MIDNIGHT + timedelta(minutes=5), post=None, user=AUTHOR),
            _row("UNFOLLOW", MIDNIGHT + timedelta(minutes=6), post=None, user=AUTHOR),
            _row("PROFILE_VIEW", MIDNIGHT + timedelta(minutes=7), post=None, user=AUTHOR),
            _row("APP_OPEN", MIDNIGHT, post=None),
        ],
    )


def _expected() -> dict[str, list[tuple]]:
    y = TODAY - timedelta(days=1)
    h = lambda d: MIDNIGHT + timedelta(hours=d)  # noqa: E731
    return {
        "post_hourly": [
            (POST, h(-2), AUTHOR, 2, 0, 0, 0),
            (POST, h(-1), AUTHOR, 1, 1, 0, 0),
            (POST, h(0), AUTHOR, 1, -1, 1, 1),
        ],
        "post_daily": [(POST, y, AUTHOR, 3, 1, 0, 0), (POST, TODAY, AUTHOR, 1, -1, 1, 1)],
        # user_id, bucket, post_views, likes_received, comments_received, followers, profile
        "user_hourly": [
            (AUTHOR, h(-2), 2, 0, 0, 0, 0),
            (AUTHOR, h(-1), 1, 1, 0, 1, 0),
            (AUTHOR, h(0), 1, -1, 1, 0, 1),
        ],
        "user_daily": [(AUTHOR, y, 3, 1, 0, 1, 0), (AUTHOR, TODAY, 1, -1, 1, 0, 1)],
    }


async def test_rollups_split_at_hour_and_day_boundaries(res: Resources, settings: Settings) -> None:
    await _boundary_events(res, settings)
    assert await queued(res) == 12  # APP_OPEN and POST_CREATED are not rolled up
    assert await roll_up_all(res) == 12
    assert await queued(res) == 0
    assert await _snapshot(res) == _expected()


async def test_rolling_up_again_changes_nothing_and_rebuild_agrees(
    res: Resources, settings: Settings
) -> None:
    await _boundary_events(res, settings)
    await roll_up_all(res)
    incremental = await _snapshot(res)
    assert await roll_up_all(res) == 0
    assert await _snapshot(res) == incremental
    start, end = MIDNIGHT - timedelta(days=1), MIDNIGHT + timedelta(days=1)
    await rebuild(res, start, end)
    assert await _snapshot(res) == incremental
    await rebuild(res, start, end)
    assert await _snapshot(res) == incremental


async def test_rebuild_with_queued_events_counts_each_once(
    res: Resources, settings: Settings
) -> None:
    await _boundary_events(res, settings)
    # Nothing rolled up yet: the rebuild counts the raw events and drops them from the queue.
    await rebuild(res, MIDNIGHT - timedelta(days=1), MIDNIGHT + timedelta(days=1))
    assert await queued(res) == 0
    assert await roll_up_all(res) == 0
    assert await _snapshot(res) == _expected()


async def test_a_rebuild_of_one_hour_leaves_the_rest_of_the_day_alone(
    res: Resources, settings: Settings
) -> None:
    await _boundary_events(res, settings)
    await roll_up_all(res)
    before = await _snapshot(res)
    await rebuild(res, MIDNIGHT - timedelta(hours=1), MIDNIGHT - timedelta(minutes=30))
    assert await _snapshot(res) == before


async def test_late_events_land_in_their_own_buckets(res: Resources, settings: Settings) -> None:
    await _boundary_events(res, settings)
    await roll_up_all(res)
    # Two views that happened yesterday at 22:10 arrive only now.
    await record(
        res,
        [
            _row("POST_VIEW", MIDNIGHT - timedelta(minutes=110)),
            _row("POST_VIEW", MIDNIGHT - timedelta(minutes=100)),
        ],
    )
    assert await roll_up_all(res) == 2
    snap = await _snapshot(res)
    assert snap["post_hourly"][0] == (POST, MIDNIGHT - timedelta(hours=2), AUTHOR, 4, 0, 0, 0)
    assert snap["post_daily"][0][3] == 5
    assert snap["user_daily"][0][2] == 5
    # And a rebuild agrees with the incremental result.
    await rebuild(res, MIDNIGHT - timedelta(days=1), MIDNIGHT + timedelta(days=1))
    assert await _snapshot(res) == snap


async def test_rollup_batches_and_a_single_roller(res: Resources, settings: Settings) -> None:
    at = datetime.now(UTC) - timedelta(minutes=1)
    await record(res, [_row("POST_VIEW", at, post=p) for p in range(1, 251)])
    assert await roll_up(res, limit=100) == 100
    assert await queued(res) == 150
    # While another transaction holds the roller lock, roll_up does nothing.
    async with res.db.transaction() as s:
        await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x726F_6C6C_7570})
        assert await roll_up(res) == 0
    assert await roll_up_all(res, limit=100) == 150
    rows = await _rows(res, "SELECT sum(views), count(*) FROM analytics.post_daily")
    assert rows == [(250, 250)]


async def test_views_before_the_post_is_known_get_their_author(
    res: Resources, settings: Settings
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=2)
    await record(res, [_row("POST_VIEW", at, post=77)])
    await roll_up_all(res)
    assert (await _rows(res, "SELECT owner_id FROM analytics.post_daily"))[0][0] is None
    await _post_created(res, 77, AUTHOR, at - timedelta(minutes=1))
    assert await _rows(res, "SELECT owner_id FROM analytics.post_daily") == [(AUTHOR,)]
    assert await _rows(res, "SELECT owner_id FROM analytics.post_hourly") == [(AUTHOR,)]


def _plan_nodes(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("Plans", []) for n in _plan_nodes(child))]


async def test_the_roll_up_reads_authors_by_key_not_the_whole_projection(
    res: Resources, settings: Settings
) -> None:
    """A queued view without its author takes it from analytics.posts (one row per post ever
    published) by primary key. With a LEFT JOIN, the plan the driver's prepared statement
    settles on (a generic one, for a batch of unknown size) hashed the whole projection on
    every roll-up."""
    at = datetime.now(UTC) - timedelta(minutes=1)
    async with res.db.transaction() as s:
        await s.execute(
            text(
                "INSERT INTO analytics.posts (post_id, author_id, created_at) "
                "SELECT g, g % 97 + 1, now() FROM generate_series(1, 20000) g"
            )
        )
    await record(res, [_row("POST_VIEW", at, post=p) for p in range(1, 1001)])
    sql = str(_ROLL_UP.compile(dialect=asyncpg_dialect()))
    async with res.db.autocommit.connect() as c:
        await c.exec_driver_sql("ANALYZE analytics.posts")
        await c.exec_driver_sql("ANALYZE analytics.rollup_queue")
        await c.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        await c.exec_driver_sql(f"PREPARE roll_up_plan(bigint, int) AS {sql}")
        plan = (
            await c.exec_driver_sql("EXPLAIN (FORMAT JSON) EXECUTE roll_up_plan(0, 50000)")
        ).scalar_one()
        await c.exec_driver_sql("DEALLOCATE roll_up_plan")
    # every read of the projection looks one post up by its key (no Seq Scan, and no
    # Merge Join walking the whole primary key: both were seen)
    reads = [n for n in _plan_nodes(plan[0]["Plan"]) if n.get("Relation Name") == "posts"]
    assert reads, plan
    assert all("Index Cond" in n for n in reads), [n["Node Type"] for n in reads]
    # and the views still get their authors
    assert await roll_up_all(res) == 1000
    rows = await _rows(res, "SELECT sum(post_views), count(*) FROM analytics.user_daily")
    assert rows == [(1000, 97)]
