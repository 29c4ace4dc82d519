"""Analytics jobs: domain events in, rollups, partition upkeep.

- one consumer per tracked outbox event type, recording it exactly once (the dedup
  ledger keyed by the outbox event id makes a redelivery a no-op);
- `analytics.roll_up` folds queued events into the hourly and daily rollups (one roller
  at a time across processes): woken by the NOTIFY a trigger on `rollup_queue` sends when
  events were queued, at most every `analytics_rollup_interval_ms`, and every
  ROLLUP_IDLE_SECONDS without one;
- `analytics.maintain_partitions`, a cron every 10 minutes and at start-up: partitions
  from the ingestion window to `analytics_partitions_ahead_days` ahead, drops those past
  `analytics_retention_days`;
- `analytics.refresh_trending`, a periodic task every `analytics_trending_cache_seconds`:
  the trendingPosts rankings, precomputed into Redis;
- `analytics.rebuild` (enqueue by name with ISO start and end): recompute a period's
  rollups from the raw events.
"""

from __future__ import annotations

import logging
from datetime import datetime

from models.analytics import ROLLUP_CHANNEL
from models.outbox import Event
from resolvers.analytics import domain, partitions, rollup, trending
from workers.context import WorkerContext, resources
from workers.registry import REGISTRY

log = logging.getLogger(__name__)

# Without a notification (one is sent at the commit of every statement that queues events)
# the roll-up still runs this often: a fallback, e.g. for a queue filled while no worker ran.
ROLLUP_IDLE_SECONDS = 5.0


async def _record(ctx: WorkerContext, event: Event) -> None:
    res = resources(ctx)
    await domain.record_domain_event(res, event)


for _event_type in domain.DOMAIN_EVENT_TYPES:
    REGISTRY.consumer(_event_type, name=f"analytics.record.{_event_type}")(_record)


@REGISTRY.periodic(
    lambda s: s.analytics_rollup_interval_ms / 1000,
    name="analytics.roll_up",
    wake=ROLLUP_CHANNEL,
    idle=lambda s: ROLLUP_IDLE_SECONDS,
)
async def roll_up(ctx: WorkerContext) -> None:
    res = resources(ctx)
    n = await rollup.roll_up_all(res)
    if n:
        log.debug("rolled up %d events", n)


@REGISTRY.periodic(
    lambda s: max(1, s.analytics_trending_cache_seconds), name="analytics.refresh_trending"
)
async def refresh_trending(ctx: WorkerContext) -> None:
    res = resources(ctx)
    if res.settings.analytics_trending_cache_seconds > 0:
        await trending.refresh_trending(res)


@REGISTRY.cron(
    name="analytics.maintain_partitions",
    run_at_startup=True,
    minute=set(range(0, 60, 10)),
    second={0},
)
async def maintain_partitions(ctx: WorkerContext) -> None:
    res = resources(ctx)
    created, dropped = await partitions.maintain(res)
    if created or dropped:
        log.info(
            "analytics partitions: created %s, dropped %s",
            [d.isoformat() for d in created],
            [d.isoformat() for d in dropped],
        )


@REGISTRY.job(name="analytics.rebuild", timeout=3600)
async def rebuild(ctx: WorkerContext, start: str, end: str) -> None:
    res = resources(ctx)
    await rollup.rebuild(res, datetime.fromisoformat(start), datetime.fromisoformat(end))
