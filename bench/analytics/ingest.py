"""Benchmark: events per second through Mutation.trackEvents over HTTP, batches of 100.

    .venv/bin/python -m bench.analytics.ingest --seconds 20 --concurrency 16 --server-workers 2

Starts its own durable embedded PostgreSQL/Redis/S3 (under --data-dir), the analytics
subgraph (`puppies serve analytics --workers N`) and the worker (rollups running, as in
production), then posts pre-built batches of 100 unique POST_VIEW events (so every event
is really inserted: dedup ledger, partitioned raw table, rollup queue) from an aiohttp
client for --seconds after a warm-up. Prints accepted events/s and request latency.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import psutil

from bench.analytics.stack import Stack, percentile, stack
from puppies.embedded import free_port
from puppies.settings import Settings
from resolvers.posts.bulk_copy import analyze_posts, copy_posts

MUTATION = (
    "mutation($events: [EventInput!]!) { trackEvents(events: $events) { accepted rejected } }"
)


def _body(batch: int, posts: list[int]) -> bytes:
    now = datetime.now(UTC).isoformat()
    events = [
        {
            "id": uuid.uuid4().hex,
            "type": "POST_VIEW",
            "occurredAt": now,
            "postId": str(random.choice(posts)),
        }
        for _ in range(batch)
    ]
    return orjson.dumps({"query": MUTATION, "variables": {"events": events}})


async def _load(
    url: str, seconds: float, warmup: float, concurrency: int, batch: int, posts: list[int]
) -> tuple[int, list[float], float]:
    accepted = 0
    latencies: list[float] = []
    # Fresh bodies are built ahead in a pool so the client's CPU goes to sending.
    pool = [_body(batch, posts) for _ in range(2000)]
    next_body = 0
    measuring = False
    stop_at = time.monotonic() + warmup + seconds
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        headers={"Content-Type": "application/json"},
    ) as session:

        async def worker() -> None:
            nonlocal accepted, next_body
            while time.monotonic() < stop_at:
                if next_body >= len(pool):
                    pool.append(_body(batch, posts))
                body = pool[next_body]
                next_body += 1
                t0 = time.perf_counter()
                async with session.post(url, data=body) as r:
                    data = orjson.loads(await r.read())
                dt = time.perf_counter() - t0
                if measuring:
                    accepted += data["data"]["trackEvents"]["accepted"]
                    latencies.append(dt)

        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        measuring = True
        started = time.monotonic()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
    return accepted, latencies, elapsed


async def _make_posts(settings: Settings, n: int) -> list[int]:
    """Real, published posts for the events to name (trackEvents checks that they exist),
    copied in without outbox events, so no fan-out competes with the measured load."""
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        now = datetime.now(UTC)
        ids = list(range(1, n + 1))  # far below public.next_id()'s
        await copy_posts(conn, [(i, 1 + i % 100, f"post {i}", now) for i in ids])
        await analyze_posts(conn)
        return ids
    finally:
        await conn.close()


async def _drain(st: Stack) -> tuple[int, float]:
    """Queued events left when the load stops, and how long the worker takes to fold them."""
    assert st.settings.database_url
    conn = await asyncpg.connect(st.settings.database_url.replace("+asyncpg", ""))
    try:
        query = "SELECT count(*) FROM analytics.rollup_queue"
        backlog = int(await conn.fetchval(query))
        t = time.monotonic()
        while await conn.fetchval(query):
            await asyncio.sleep(0.05)
        return backlog, time.monotonic() - t
    finally:
        await conn.close()


def _tree_cpu(pid: int) -> float:
    """user+sys CPU seconds of a process and its children (uvicorn workers, PG backends)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _cpu(st: Stack) -> dict[str, float]:
    pg = next(s for s in st.services.started if s.name == "postgres")
    assert pg.proc is not None
    out = {"postgres": _tree_cpu(pg.proc.pid), "analytics": _tree_cpu(st.procs[0].pid)}
    if len(st.procs) > 1:
        out["worker"] = _tree_cpu(st.procs[1].pid)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--posts", type=int, default=10_000)
    ap.add_argument("--server-workers", type=int, default=2)
    ap.add_argument("--no-worker", action="store_true", help="do not run the rollup worker")
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/puppies-bench-analytics-ingest"))
    args = ap.parse_args()
    shutil.rmtree(args.data_dir, ignore_errors=True)
    with stack(args.data_dir) as st:
        post_ids = asyncio.run(_make_posts(st.settings, args.posts))
        port = free_port()
        st.start(
            ["serve", "analytics", "--port", str(port), "--workers", str(args.server_workers)],
            port,
            log=args.data_dir / "analytics.log",
        )
        if not args.no_worker:
            st.start(["worker"], log=args.data_dir / "worker.log")
        before: dict[str, float] = {}

        async def go() -> tuple[int, list[float], float]:
            async def mark() -> None:
                await asyncio.sleep(args.warmup)
                before.update(_cpu(st))

            marker = asyncio.create_task(mark())
            result = await _load(
                f"http://127.0.0.1:{port}/graphql",
                args.seconds,
                args.warmup,
                args.concurrency,
                args.batch,
                post_ids,
            )
            await marker
            return result

        accepted, lat, elapsed = asyncio.run(go())
        after = _cpu(st)
        batches = max(1, len(lat))
        print(
            f"trackEvents batches of {args.batch}, concurrency {args.concurrency}, "
            f"{args.server_workers} server processes, worker "
            f"{'off' if args.no_worker else 'on'}:"
        )
        print(
            f"  {accepted} events accepted in {elapsed:.1f}s = {accepted / elapsed:,.0f} "
            f"events/s ({len(lat) / elapsed:,.0f} requests/s)"
        )
        print(
            f"  request latency p50 {percentile(lat, 50) * 1000:.1f} ms, "
            f"p95 {percentile(lat, 95) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms"
        )
        per_batch = {k: (after[k] - before.get(k, 0.0)) / batches * 1000 for k in after}
        print(
            "  CPU per batch of "
            + str(args.batch)
            + ": "
            + ", ".join(f"{k} {v:.1f} ms" for k, v in per_batch.items())
        )
        total = sum(per_batch.values())
        print(
            f"  => capacity of 2 otherwise idle cores: ~{2000 / total * args.batch:,.0f} "
            f"events/s ({total:.1f} ms CPU per batch, all processes)"
        )
        print(f"  load average during the run: {psutil.getloadavg()[0]:.1f}")
        if not args.no_worker:
            backlog, drained = asyncio.run(_drain(st))
            print(
                f"  rollup backlog when the load stopped: {backlog:,} events, drained in "
                f"{drained:.1f}s"
            )


if __name__ == "__main__":
    main()
