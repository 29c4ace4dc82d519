"""Benchmark: outbox relay throughput (committed rows -> arq jobs).

    .venv/bin/python -m bench.workers.relay --rows 5000 --consumers 2

Starts its own embedded PostgreSQL/Redis/S3 (under --data-dir), commits --rows outbox rows
in `posts.outbox`, registers --consumers consumers for their event type, and times one
`OutboxRelay.relay_once()` draining them (batches of OUTBOX_BATCH_SIZE, default 200). It
then checks arq's queue holds exactly one job per row (a row with several consumers is one
`outbox.event` job that runs them all).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from pathlib import Path

from arq.connections import RedisSettings, create_pool

from bench.analytics.stack import stack
from models.db import Database
from models.outbox import Event, emit
from puppies.settings import Settings
from workers.registry import Registry
from workers.relay import OutboxRelay


async def _noop(ctx: dict, event: Event) -> None:
    return None


async def run(settings: Settings, rows: int, consumers: int) -> None:
    assert settings.redis_url
    db = Database(settings)
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    reg = Registry()
    for i in range(consumers):
        reg.consumer("bench.happened", name=f"bench.c{i}")(_noop)
    async with db.transaction() as s:
        for i in range(rows):
            await emit(s, "posts", "bench.happened", {"i": i}, aggregate_id=i)
    relay = OutboxRelay(settings, db, redis, reg)
    t0 = time.perf_counter()
    n = await relay.relay_once()
    dt = time.perf_counter() - t0
    queued = await redis.zcard(settings.worker_queue_name)
    print(
        f"relayed {n} rows ({queued} jobs queued, expected {rows if consumers else 0}) in "
        f"{dt * 1000:.0f} ms: {n / dt:,.0f} rows/s, {queued / dt:,.0f} jobs/s; "
        f"load average {os.getloadavg()[0]:.1f} (2 cores)"
    )
    await redis.aclose()
    await db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/puppies-bench-relay"))
    args = ap.parse_args()
    shutil.rmtree(args.data_dir, ignore_errors=True)
    with stack(args.data_dir) as st:
        asyncio.run(run(st.settings, args.rows, args.consumers))


if __name__ == "__main__":
    main()
