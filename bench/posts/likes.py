"""Benchmark: likes per second on ONE hot post, with request latency percentiles.

    .venv/bin/python -m bench.posts.likes --seconds 20 --concurrency 64 --server-workers 2

Starts its own durable embedded PostgreSQL/Redis/S3 (under --data-dir), the users subgraph
(JWKS), the posts subgraph (`puppies serve posts --workers N`) and the worker (relay,
outbox consumers and the like-counter flush running, as in production). Every request is
`likePost` by a different user (a real insert + outbox row + Redis live counter + pub/sub
publish), all on the same post. After the run it waits for the flush and checks that
`posts.like_count` equals the number of like rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.analytics.stack import percentile, stack
from bench.posts.common import cpu_seconds, create_post, gql, start_posts_stack, tokens

LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id likeCount } errors { code } } }"


async def _load(
    url: str,
    post_id: str,
    toks: list[str],
    seconds: float,
    warmup: float,
    concurrency: int,
    cpu: Any,
) -> tuple[int, int, list[float], float, dict[str, float]]:
    ok = errors = 0
    latencies: list[float] = []
    next_user = 0
    measuring = False
    stop_at = time.monotonic() + warmup + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

        async def worker() -> None:
            nonlocal ok, errors, next_user
            while time.monotonic() < stop_at and next_user < len(toks):
                token = toks[next_user]
                next_user += 1
                t0 = time.perf_counter()
                body = await gql(s, url, LIKE, {"id": post_id}, token)
                dt = time.perf_counter() - t0
                good = "data" in body and not body["data"]["likePost"]["errors"]
                if measuring:
                    latencies.append(dt)
                    ok += good
                    errors += not good

        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        measuring = True
        cpu0 = cpu()
        started = time.monotonic()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        cpu1 = cpu()
    return ok, errors, latencies, elapsed, {k: cpu1.get(k, 0) - v for k, v in cpu0.items()}


async def _check(dsn: str, post_id: str, timeout: float = 30) -> tuple[int, int, float]:
    conn = await asyncpg.connect(dsn)
    t0 = time.monotonic()
    try:
        while True:
            col, rows = await conn.fetchrow(
                "SELECT like_count, (SELECT count(*) FROM posts.likes WHERE post_id = $1) "
                "FROM posts.posts WHERE id = $1",
                int(post_id),
            )
            if col == rows or time.monotonic() - t0 > timeout:
                return col, rows, time.monotonic() - t0
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--server-workers", type=int, default=2)
    ap.add_argument("--no-notify", action="store_true")
    ap.add_argument("--max-users", type=int, default=200_000)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/puppies-bench-posts-likes"))
    args = ap.parse_args()
    shutil.rmtree(args.data_dir, ignore_errors=True)
    with stack(args.data_dir) as st:
        url = start_posts_stack(st, args.data_dir, posts_workers=args.server_workers)
        t0 = time.monotonic()
        toks = tokens(st, range(1, args.max_users + 1))
        print(f"minted {len(toks)} tokens in {time.monotonic() - t0:.1f}s")
        post_id = asyncio.run(create_post(url, toks[1]))
        if args.no_notify:

            async def off() -> None:
                assert st.settings.database_url
                c = await asyncpg.connect(st.settings.database_url.replace("+asyncpg", ""))
                await c.execute("ALTER TABLE posts.outbox DISABLE TRIGGER outbox_notify")
                await c.close()

            asyncio.run(off())
        ok, errors, lat, elapsed, cpu = asyncio.run(
            _load(
                url,
                post_id,
                list(toks.values())[1:],
                args.seconds,
                args.warmup,
                args.concurrency,
                lambda: cpu_seconds(st, args.data_dir),
            )
        )
        assert st.settings.database_url
        col, rows, waited = asyncio.run(
            _check(st.settings.database_url.replace("+asyncpg", ""), post_id)
        )
        print(
            f"likePost on one post, concurrency {args.concurrency}, "
            f"{args.server_workers} posts processes, worker on:"
        )
        print(f"  {ok} likes in {elapsed:.1f}s = {ok / elapsed:,.0f} likes/s ({errors} errors)")
        print(
            f"  request latency p50 {percentile(lat, 50) * 1000:.1f} ms, "
            f"p95 {percentile(lat, 95) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms"
        )
        per_like = ", ".join(f"{k} {v / max(ok, 1) * 1000:.2f}" for k, v in sorted(cpu.items()))
        print(f"  CPU ms per like: {per_like}")
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} (2 cores)")
        print(
            f"  after the run: like_count {col}, like rows {rows} "
            f"({'equal' if col == rows else 'NOT EQUAL'} {waited:.1f}s after the last like)"
        )


if __name__ == "__main__":
    main()
