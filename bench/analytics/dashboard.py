"""Benchmark: dashboard query latency over HTTP with 10,000,000 raw events.

    .venv/bin/python -m bench.analytics.dashboard --events 10000000 --queries 500

In its own data directory (its own PostgreSQL cluster): creates 90 daily partitions,
loads the raw events with COPY (power-law popularity over --posts posts by --authors
authors, 90 days, views/likes/unlikes/comments/shares/follows), builds the rollups from
them with the production `rebuild()` (day by day), then serves the analytics subgraph
(with the users subgraph for its JWKS, as in production) and times, as each post's or
user's owner: Post.stats over 30 days, User.analytics with daily series and topPosts over
30 days, and trendingPosts (read from the ranking the worker refreshes into Redis; the time
to compute each window's ranking from the rollups is printed too).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from bench.analytics.stack import percentile, stack
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import issue_access_token
from puppies.embedded import free_port
from puppies.settings import Settings
from resolvers.analytics.partitions import ensure_partitions
from resolvers.analytics.rollup import rebuild
from resolvers.analytics.trending import compute_trending
from resolvers.runtime import Resources

DAYS = 90
COLUMNS = [
    "event_id",
    "occurred_at",
    "type",
    "source",
    "client_event_id",
    "actor_id",
    "post_id",
    "user_id",
    "owner_id",
]
MIX = [
    ("POST_VIEW", 0.85),
    ("LIKE", 0.07),
    ("UNLIKE", 0.01),
    ("COMMENT", 0.03),
    ("SHARE", 0.02),
    ("FOLLOW", 0.015),
    ("PROFILE_VIEW", 0.005),
]


def _author_of(post: int, authors: int) -> int:
    return 1 + (post * 7919) % authors


def _events(
    n: int, posts: int, authors: int, start: datetime, rnd: random.Random
) -> Iterator[tuple[Any, ...]]:
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    span = DAYS * 86400
    for _ in range(n):
        kind = rnd.choices(kinds, weights)[0]
        at = start + timedelta(seconds=rnd.random() * span)
        post = 1 + int(posts * rnd.random() ** 3)  # power law: a few hot posts
        actor = 1_000_000 + rnd.randrange(1_000_000)
        if kind in ("FOLLOW", "PROFILE_VIEW"):
            yield (
                uuid.uuid4(),
                at,
                kind,
                "client",
                "b",
                actor,
                None,
                1 + int(authors * rnd.random() ** 2),
                None,
            )
        else:
            owner = _author_of(post, authors) if kind in ("LIKE", "UNLIKE") else None
            yield (uuid.uuid4(), at, kind, "client", "b", actor, post, None, owner)


async def copy_events(settings: Settings, n: int, posts: int, authors: int, seed: int) -> None:
    res = Resources.open(settings)
    now = datetime.now(UTC)
    start = now - timedelta(days=DAYS)
    await ensure_partitions(res, start.date(), now.date() + timedelta(days=1))
    await res.close()
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        t = time.monotonic()
        await conn.copy_records_to_table(
            "posts",
            schema_name="analytics",
            columns=["post_id", "author_id", "created_at"],
            records=[(p, _author_of(p, authors), start) for p in range(1, posts + 1)],
        )
        rnd = random.Random(seed)
        chunk, done = 500_000, 0
        while done < n:
            size = min(chunk, n - done)
            await conn.copy_records_to_table(
                "events",
                schema_name="analytics",
                columns=COLUMNS,
                records=_events(size, posts, authors, start, rnd),
            )
            done += size
            print(f"  COPY {done:,} / {n:,} raw events ({time.monotonic() - t:.0f}s)", flush=True)
        await conn.execute("ANALYZE analytics.events")
        print(f"loaded {n:,} raw events with COPY in {time.monotonic() - t:.0f}s")
    finally:
        await conn.close()


async def build_rollups(settings: Settings) -> None:
    """The rollups from the raw events, day by day, with the production `rebuild()`."""
    assert settings.database_url
    res = Resources.open(settings)
    now = datetime.now(UTC)
    start = now - timedelta(days=DAYS)
    t = time.monotonic()
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < now:
        await rebuild(res, day, day + timedelta(days=1))
        day += timedelta(days=1)
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        await conn.execute(
            "ANALYZE analytics.posts; "
            "ANALYZE analytics.post_hourly; ANALYZE analytics.post_daily; "
            "ANALYZE analytics.user_hourly; ANALYZE analytics.user_daily"
        )
        counts = {
            t: await conn.fetchval(f"SELECT count(*) FROM analytics.{t}")
            for t in ("post_hourly", "post_daily", "user_hourly", "user_daily")
        }
    finally:
        await conn.close()
    print(f"rebuilt rollups from raw events in {time.monotonic() - t:.0f}s: {counts}")
    await res.close()


async def time_trending(settings: Settings) -> None:
    res = Resources.open(settings)
    for window in ("HOUR", "DAY", "WEEK"):
        times = []
        for _ in range(5):
            t = time.perf_counter()
            await compute_trending(res, window, settings.max_page_size)
            times.append(time.perf_counter() - t)
        print(
            f"  computing the {window} ranking from the rollups (worker, every "
            f"{settings.analytics_trending_cache_seconds}s): median "
            f"{sorted(times)[2] * 1000:.0f} ms"
        )
    await res.close()


POST_STATS = """query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on Post { stats { views likes comments shares daily { date views likes comments } } } } }"""
USER_ANALYTICS = """query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on User { analytics { postViews likesReceived commentsReceived followersGained
    profileViews daily { date postViews likesReceived followersGained }
    topPosts(limit: 5) { post { id } views likes comments } } } } }"""
TRENDING = "query($w: TrendingWindow!) { trendingPosts(window: $w, limit: 20) { id } }"


async def measure(
    url: str, ring: KeyRing, settings: Settings, queries: int, posts: int, authors: int, seed: int
) -> dict[str, list[float]]:
    rnd = random.Random(seed + 1)
    tokens: dict[int, str] = {}

    def auth(user: int) -> dict[str, str]:
        if user not in tokens:
            tokens[user] = issue_access_token(ring, settings, user, ttl_seconds=3600).token
        return {"Authorization": "Bearer " + tokens[user], "Content-Type": "application/json"}

    out: dict[str, list[float]] = {
        "Post.stats (30 days)": [],
        "User.analytics + topPosts (30 days)": [],
        "trendingPosts DAY": [],
        "trendingPosts WEEK": [],
    }
    async with aiohttp.ClientSession() as session:

        async def call(
            name: str, query: str, variables: dict[str, Any], headers: dict[str, str]
        ) -> None:
            body = orjson.dumps({"query": query, "variables": variables})
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as r:
                data = orjson.loads(await r.read())
            out[name].append(time.perf_counter() - t0)
            assert "errors" not in data, data

        for i in range(queries + 20):
            post = 1 + int(posts * rnd.random() ** 3)
            author = 1 + int(authors * rnd.random() ** 2)
            await call(
                "Post.stats (30 days)",
                POST_STATS,
                {"reps": [{"__typename": "Post", "id": str(post)}]},
                auth(_author_of(post, authors)),
            )
            await call(
                "User.analytics + topPosts (30 days)",
                USER_ANALYTICS,
                {"reps": [{"__typename": "User", "id": str(author)}]},
                auth(author),
            )
            if i % 5 == 0:
                json_h = {"Content-Type": "application/json"}
                await call("trendingPosts DAY", TRENDING, {"w": "DAY"}, json_h)
                await call("trendingPosts WEEK", TRENDING, {"w": "WEEK"}, json_h)
            if i == 19:  # warm-up done
                for v in out.values():
                    v.clear()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--posts", type=int, default=200_000)
    ap.add_argument("--authors", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/puppies-bench-analytics-dashboard"))
    ap.add_argument("--reuse", action="store_true", help="keep an already loaded data dir")
    args = ap.parse_args()
    if not args.reuse:
        shutil.rmtree(args.data_dir, ignore_errors=True)
    copied, rolled = args.data_dir / "copied", args.data_dir / "rolled-up"
    with stack(args.data_dir) as st:
        if not copied.exists():
            asyncio.run(copy_events(st.settings, args.events, args.posts, args.authors, args.seed))
            copied.touch()
        if not rolled.exists():
            asyncio.run(build_rollups(st.settings))
            rolled.touch()
        asyncio.run(time_trending(st.settings))
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
        results = asyncio.run(
            measure(
                f"http://127.0.0.1:{port}/graphql",
                ring,
                st.settings,
                args.queries,
                args.posts,
                args.authors,
                args.seed,
            )
        )
        print(f"dashboard queries over HTTP, {args.events:,} raw events, one server process:")
        for name, lat in results.items():
            print(
                f"  {name:38s} n={len(lat):4d} p50 {percentile(lat, 50) * 1000:6.1f} ms  "
                f"p95 {percentile(lat, 95) * 1000:6.1f} ms  "
                f"p99 {percentile(lat, 99) * 1000:6.1f} ms"
            )


if __name__ == "__main__":
    main()
