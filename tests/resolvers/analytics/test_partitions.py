"""Partition upkeep against the real PostgreSQL: created ahead, only expired ones dropped."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import text

from puppies.settings import Settings
from resolvers.analytics.events import Row, record
from resolvers.analytics.partitions import ensure_partitions, list_partitions, maintain
from resolvers.runtime import Resources


async def _count(res: Resources, sql: str) -> int:
    async with res.db.session() as s:
        return int((await s.execute(text(sql))).scalar_one())


async def test_events_table_is_natively_partitioned_by_day(res: Resources) -> None:
    async with res.db.session() as s:
        strategy = (
            await s.execute(
                text(
                    "SELECT pt.partstrat::text FROM pg_partitioned_table pt JOIN pg_class c "
                    "ON c.oid = pt.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'analytics' AND c.relname = 'events'"
                )
            )
        ).scalar_one()
        bound = (
            await s.execute(
                text(
                    "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.relname = :n"
                ),
                {"n": f"events_p{datetime.now(UTC):%Y%m%d}"},
            )
        ).scalar_one()
    assert strategy == "r"
    today = datetime.now(UTC).date()
    assert bound.startswith(f"FOR VALUES FROM ('{today.isoformat()} 00:00:00")


async def test_retention_drops_only_expired_partitions(res: Resources, settings: Settings) -> None:
    s = settings.model_copy(
        update={
            "analytics_retention_days": 10,
            "analytics_partitions_ahead_days": 4,
            "analytics_ingest_window_hours": 48,
        }
    )
    now = datetime.now(UTC)
    today = now.date()
    # Partitions for 14..8 days ago, each with one event at noon.
    old_days = [today - timedelta(days=d) for d in range(14, 7, -1)]
    await ensure_partitions(res, old_days[0], old_days[-1])
    await record(
        res,
        [
            Row(
                event_id=uuid.uuid4(),
                occurred_at=datetime.combine(d, time(12), UTC),
                type="APP_OPEN",
                source="client",
                client_event_id=str(d),
            )
            for d in old_days
        ],
    )
    created, dropped = await maintain(replace(res, settings=s), now=now)
    cutoff = today - timedelta(days=10)
    assert dropped == [d for d in old_days if d < cutoff]
    days = await list_partitions(res)
    assert all(d >= cutoff for d in days)
    # Partitions from the ingestion window's start to 4 days ahead exist.
    for offset in range(-2, 5):
        assert today + timedelta(days=offset) in days
    assert today + timedelta(days=4) in created or today + timedelta(days=4) in days
    # The kept old partitions keep their events; the dropped ones' are gone.
    kept = [d for d in old_days if d >= cutoff]
    assert await _count(res, "SELECT count(*) FROM analytics.events") == len(kept)
    # Running it again is a no-op.
    assert await maintain(replace(res, settings=s), now=now) == ([], [])
