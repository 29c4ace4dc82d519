"""Daily partitions of `analytics.events`: create ahead, drop past retention.

Partition `events_pYYYYMMDD` holds [day 00:00 UTC, next day 00:00 UTC). DDL runs under a
transaction-level advisory lock so concurrent creators (the cron, an ingesting request
that met a missing day) never race on the catalog.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from models.analytics import PARTITION_PREFIX, SCHEMA, partition_name
from resolvers.runtime import Resources

_LOCK_KEY = 0x616E_616C_7974  # "analyt": one key for all partition DDL
_NAME = re.compile(rf"^{PARTITION_PREFIX}(\d{{8}})$")


def _bound(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


async def list_partitions(res: Resources) -> list[date]:
    """The days that have a partition, oldest first."""
    async with res.db.session() as session:
        rows = await session.execute(
            text(
                "SELECT c.relname FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent "
                "JOIN pg_namespace n ON n.oid = p.relnamespace "
                "WHERE n.nspname = :schema AND p.relname = 'events'"
            ),
            {"schema": SCHEMA},
        )
        days = []
        for (name,) in rows:
            m = _NAME.match(name)
            if m:
                days.append(datetime.strptime(m.group(1), "%Y%m%d").date())
    return sorted(days)


async def ensure_partitions(res: Resources, first: date, last: date) -> list[date]:
    """Create the partitions for every day in [first, last] that lacks one; returns those
    created."""
    created: list[date] = []
    async with res.db.transaction() as session:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        existing = {
            r[0]
            for r in await session.execute(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = :schema "
                    "AND c.relname LIKE :prefix"
                ),
                {"schema": SCHEMA, "prefix": PARTITION_PREFIX + "%"},
            )
        }
        day = first
        while day <= last:
            name = partition_name(day)
            if name not in existing:
                await session.execute(
                    text(
                        f"CREATE TABLE {SCHEMA}.{name} PARTITION OF {SCHEMA}.events "
                        f"FOR VALUES FROM ('{_bound(day)}') TO ('{_bound(day + timedelta(1))}')"
                    )
                )
                created.append(day)
            day += timedelta(days=1)
    return created


async def drop_partitions_before(res: Resources, cutoff: date) -> list[date]:
    """Drop every partition whose whole day lies before `cutoff`; returns the days
    dropped. A partition is detached first, so readers never wait on a long drop."""
    dropped: list[date] = []
    for day in await list_partitions(res):
        if day >= cutoff:
            continue
        name = partition_name(day)
        async with res.db.transaction() as session:
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            await session.execute(
                text(f"ALTER TABLE {SCHEMA}.events DETACH PARTITION {SCHEMA}.{name}")
            )
            await session.execute(text(f"DROP TABLE {SCHEMA}.{name}"))
        dropped.append(day)
    return dropped


async def maintain(res: Resources, now: datetime | None = None) -> tuple[list[date], list[date]]:
    """The cron's work: partitions from the ingestion window's start to
    `analytics_partitions_ahead_days` ahead exist; those past retention are gone.
    Also prunes the dedup ledger and hourly rollups past their horizons."""
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    window_start = (now - timedelta(hours=res.settings.analytics_ingest_window_hours)).date()
    cutoff = today - timedelta(days=res.settings.analytics_retention_days)
    ahead = today + timedelta(days=res.settings.analytics_partitions_ahead_days)
    created = await ensure_partitions(res, max(window_start, cutoff), ahead)
    dropped = await drop_partitions_before(res, cutoff)
    async with res.db.transaction() as session:
        # An id older than the ingestion window can only come back with an occurredAt
        # that is out of the window itself, so its ledger entry is no longer needed.
        await session.execute(
            text("DELETE FROM analytics.event_ids WHERE received_at < :t"),
            {"t": now - timedelta(hours=res.settings.analytics_ingest_window_hours + 24)},
        )
        await session.execute(
            text("DELETE FROM analytics.post_hourly WHERE bucket < :t"),
            {"t": datetime.combine(cutoff, datetime.min.time(), UTC)},
        )
        await session.execute(
            text("DELETE FROM analytics.user_hourly WHERE bucket < :t"),
            {"t": datetime.combine(cutoff, datetime.min.time(), UTC)},
        )
    return created, dropped
