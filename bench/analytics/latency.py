"""Benchmark: time from trackEvents to the event being visible in a dashboard.

    .venv/bin/python -m bench.analytics.latency --samples 200 --background 2000

Starts its own stack (durable embedded PostgreSQL/Redis/S3), the users subgraph (JWKS),
the analytics subgraph and the worker (a roll-up when events were queued, at most every
ANALYTICS_ROLLUP_INTERVAL_MS, default 100 ms). For each sample: send one POST_VIEW through
trackEvents over HTTP, then poll Post.stats (as the post's author) every 10 ms until the
view count shows it. Optional
background load: --background events/s of other views in batches of 100.
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
from typing import Any

import aiohttp
import asyncpg
import orjson

from bench.analytics.stack import percentile, stack
from models.outbox import Event
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import issue_access_token
from puppies.embedded import free_port
from puppies.settings import Settings
from resolvers.analytics.domain import record_domain_event
from resolvers.posts.bulk_copy import copy_posts
from resolvers.runtime import Resources

TRACK = "mutation($e: [EventInput!]!) { trackEvents(events: $e) { accepted } }"
STATS = """query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on Post { stats { views } } } }"""
AUTHOR = 10
POSTS: list[int] = []  # real posts (trackEvents checks them); POSTS[0] is AUTHOR's


async def _setup(settings: Settings) -> None:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:  # copied in without outbox events: the worker starts with nothing queued
        rows = [
            (i, AUTHOR if i == 1 else 11, f"post {i}", datetime.now(UTC)) for i in range(1, 1001)
        ]
        await copy_posts(conn, rows)
    finally:
        await conn.close()
    POSTS.extend(r[0] for r in rows)
    res = Resources.open(settings)
    for post, author, _, _ in rows:
        await record_domain_event(
            res,
            Event(
                id=f"posts:{post}",
                type="post.published",
                schema="posts",
                aggregate_id=post,
                payload={"post_id": post, "author_id": author},
                occurred_at=datetime.now(UTC),
            ),
        )
    await res.close()


def _events(n: int, post: int | None = None) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [
        {
            "id": uuid.uuid4().hex,
            "type": "POST_VIEW",
            "occurredAt": now,
            "postId": str(post or random.choice(POSTS[1:])),
        }
        for _ in range(n)
    ]


async def _run(url: str, token: str, samples: int, background: int) -> list[float]:
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    stop = asyncio.Event()
    async with aiohttp.ClientSession(headers={"Content-Type": "application/json"}) as session:

        async def post(
            query: str, variables: dict[str, Any], h: dict[str, str] | None = None
        ) -> Any:
            async with session.post(
                url, data=orjson.dumps({"query": query, "variables": variables}), headers=h
            ) as r:
                return orjson.loads(await r.read())

        async def load() -> None:
            interval = 100 / background
            nxt = time.monotonic()
            while not stop.is_set():
                await post(TRACK, {"e": _events(100)})
                nxt += interval
                await asyncio.sleep(max(0.0, nxt - time.monotonic()))

        async def views() -> int:
            body = await post(
                STATS, {"reps": [{"__typename": "Post", "id": str(POSTS[0])}]}, headers
            )
            return int(body["data"]["_entities"][0]["stats"]["views"])

        loaders = [asyncio.create_task(load()) for _ in range(4)] if background else []
        await asyncio.sleep(1 if background else 0)
        seen = await views()
        out: list[float] = []
        for _ in range(samples):
            t0 = time.perf_counter()
            body = await post(TRACK, {"e": _events(1, POSTS[0])})
            assert body["data"]["trackEvents"]["accepted"] == 1, body
            while await views() <= seen:
                await asyncio.sleep(0.01)
            out.append(time.perf_counter() - t0)
            seen += 1
            await asyncio.sleep(random.uniform(0.02, 0.1))
        stop.set()
        for t in loaders:
            await t
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument(
        "--background",
        type=int,
        default=0,
        help="background events/s (in batches of 100), split over 4 senders",
    )
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/puppies-bench-analytics-latency"))
    args = ap.parse_args()
    shutil.rmtree(args.data_dir, ignore_errors=True)
    with stack(args.data_dir) as st:
        asyncio.run(_setup(st.settings))
        ring = KeyRing(st.settings.keys_dir).load()
        users_port, port = free_port(), free_port()
        st.start(
            ["serve", "users", "--port", str(users_port)],
            users_port,
            log=args.data_dir / "users.log",
        )
        st.start(
            ["serve", "analytics", "--port", str(port)],
            port,
            extra_env={"JWKS_URL": f"http://127.0.0.1:{users_port}/.well-known/jwks.json"},
            log=args.data_dir / "analytics.log",
        )
        st.start(["worker"], log=args.data_dir / "worker.log")
        token = issue_access_token(ring, st.settings, AUTHOR, ttl_seconds=3600).token
        lat = asyncio.run(
            _run(f"http://127.0.0.1:{port}/graphql", token, args.samples, args.background // 4)
        )
        print(
            f"event -> Post.stats latency, rollups at most every "
            f"{st.settings.analytics_rollup_interval_ms} ms, background "
            f"{args.background} events/s, {len(lat)} samples:"
        )
        print(
            f"  p50 {percentile(lat, 50) * 1000:.0f} ms, p95 {percentile(lat, 95) * 1000:.0f} "
            f"ms, p99 {percentile(lat, 99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
