"""What guarding the database pool against dead connections costs a checkout, side by side.

A request's database work starts with a pool checkout. Three engines on one embedded
PostgreSQL (durable, its own data directory), each doing the same thing a read does
(`Database.read()`: check out, `SELECT 1`, check in), a statement at a time, interleaved in
rounds:

- ``unguarded``: no check (the code before: a connection PostgreSQL closed is found by
  failing the request that gets it);
- ``closed-check``: models/db.py's checkout hook, a look at asyncpg's local `is_closed()`
  (the code now);
- ``pre-ping``: SQLAlchemy's `pool_pre_ping`, a round trip to PostgreSQL per checkout.

Reports the wall time per read (median of rounds) and its CPU time in this process.

    .venv/bin/python -m bench.ops.pool_checkout [--reads 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from models.db import _closed_by_the_server
from puppies.embedded import free_port
from puppies.services import start_services
from puppies.settings import load_settings


def _engine(url: str, way: str) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=5, pool_pre_ping=way == "pre-ping")
    if way == "closed-check":
        event.listen(engine.sync_engine, "checkout", _closed_by_the_server)
    return engine


async def _reads(engine: AsyncEngine, n: int) -> tuple[float, float]:
    """(wall us, CPU us) per read."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    return (
        (time.perf_counter() - wall) / n * 1e6,
        (time.process_time() - cpu) / n * 1e6,
    )


async def _main(reads: int, rounds: int, url: str) -> None:
    ways = ("unguarded", "closed-check", "pre-ping")
    engines = {w: _engine(url, w) for w in ways}
    results: dict[str, list[tuple[float, float]]] = {w: [] for w in ways}
    try:
        for w in ways:
            await _reads(engines[w], 200)  # warm: connections, prepared statements
        for r in range(rounds):
            order = ways if r % 2 == 0 else tuple(reversed(ways))
            for w in order:
                results[w].append(await _reads(engines[w], reads))
    finally:
        for engine in engines.values():
            await engine.dispose()
    base = statistics.median(x for x, _ in results["unguarded"])
    print(f"{'way':<14} {'wall us/read':>13} {'CPU us/read':>12} {'wall vs unguarded':>18}")
    for w in ways:
        wall = statistics.median(x for x, _ in results[w])
        cpu = statistics.median(c for _, c in results[w])
        print(f"{w:<14} {wall:>13.0f} {cpu:>12.0f} {wall / base:>17.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.ops.pool_checkout")
    ap.add_argument("--reads", type=int, default=3000, help="reads per way per round")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="puppies-pool-checkout-"))
    settings = load_settings(data_dir=data_dir, jwt_keys_dir=data_dir / "keys")
    running = start_services(
        settings, data_dir=data_dir, ports=(free_port(), free_port(), free_port())
    )
    try:
        url = running.settings.database_url
        assert url
        asyncio.run(_main(args.reads, args.rounds, url))
    finally:
        running.stop()


if __name__ == "__main__":
    main()
