"""`puppies seed --scale`: a power-law social graph big enough to benchmark the feed.

100,000 accounts, 5,000,000 follows, 1,000,000 posts, loaded with COPY (asyncpg
`copy_records_to_table`, through the users/posts domains' bulk functions), then every inbox
built in bulk (resolvers/feed/bulk.py). Followees are drawn from a Zipf-like popularity
(weight rank^-0.7), which gives a handful of accounts above 10,000 followers (the VIPs) and
a long tail; how many accounts each one follows is log-normal around 50 (1 to 5,000), so
benchmarks find viewers following 10 or 3,000 accounts alike. Everything is reproducible
from `--seed`. IDs are time-ordered snowflakes minted in the past (accounts over the past
year, follows over the past 90 days, posts over the past 30 days), so they sort like real
ones and never collide with `public.next_id()`.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from tqdm import tqdm

from puppies.settings import Settings
from resolvers.analytics.domain import remember_posts
from resolvers.feed.bulk import build_inboxes, build_vips
from resolvers.feed.popular import refresh_popular
from resolvers.posts.bulk_copy import analyze_posts, copy_posts, count_posts_by_author
from resolvers.runtime import Resources
from resolvers.users.bulk import recount
from resolvers.users.bulk_copy import all_user_ids, analyze, copy_follows, copy_users
from resolvers.users.passwords import hash_password_sync

EPOCH_MS = 1704067200000
DAY_MS = 86_400_000
SEED_PASSWORD = "puppies-seed-password"


@dataclass(frozen=True)
class ScaleSpec:
    users: int = 100_000
    follows: int = 5_000_000
    posts: int = 1_000_000
    zipf_exponent: float = 0.7
    max_following: int = 5_000
    chunk: int = 50_000


class Snowflakes:
    """Unique time-ordered IDs in [start_ms, end_ms), like public.next_id()'s."""

    def __init__(self, start_ms: int, end_ms: int) -> None:
        self.start_ms, self.end_ms = start_ms, end_ms
        self.seq = itertools.count()

    def at(self, ms: int) -> int:
        return ((ms - EPOCH_MS) << 23) | (next(self.seq) & 0x7FFFFF)

    def spread(self, n: int, rng: random.Random) -> list[tuple[int, int]]:
        """n (id, ms) pairs, sorted by time."""
        times = sorted(rng.randrange(self.start_ms, self.end_ms) for _ in range(n))
        return [(self.at(ms), ms) for ms in times]


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _raw_dsn(settings: Settings) -> str:
    assert settings.database_url
    return settings.database_url.replace("postgresql+asyncpg://", "postgresql://")


def following_counts(spec: ScaleSpec, rng: random.Random) -> list[int]:
    """How many accounts each account follows: log-normal, scaled to `spec.follows`."""
    mu = math.log(spec.follows / spec.users) - 0.5
    raw = [
        min(spec.max_following, max(1.0, rng.lognormvariate(mu, 1.0))) for _ in range(spec.users)
    ]
    scale = spec.follows / sum(raw)
    counts = [max(1, min(spec.max_following, round(r * scale))) for r in raw]
    # Settle rounding so the total is exactly spec.follows.
    diff = spec.follows - sum(counts)
    i = 0
    while diff != 0:
        j = i % spec.users
        if diff > 0 and counts[j] < spec.max_following:
            counts[j] += 1
            diff -= 1
        elif diff < 0 and counts[j] > 1:
            counts[j] -= 1
            diff += 1
        i += 1
    return counts


def edges(spec: ScaleSpec, user_ids: list[int], rng: random.Random) -> Iterator[tuple[int, int]]:
    """(follower, followee) pairs: distinct, no self-follows, followees Zipf by rank."""
    ranked = user_ids[:]
    rng.shuffle(ranked)  # popularity rank is independent of sign-up order
    cum: list[float] = []
    acc = 0.0
    for r in range(1, len(ranked) + 1):
        acc += r**-spec.zipf_exponent
        cum.append(acc)
    for follower, want in zip(user_ids, following_counts(spec, rng), strict=True):
        chosen: set[int] = set()
        while len(chosen) < want:
            for x in rng.choices(range(len(ranked)), cum_weights=cum, k=want - len(chosen)):
                followee = ranked[x]
                if followee != follower:
                    chosen.add(followee)
            if len(chosen) < want and want > len(ranked) // 4:
                break  # pathological tiny graphs
        for followee in chosen:
            yield follower, followee


async def _copy_chunks(
    conn: asyncpg.Connection, copy: object, rows: Iterator[tuple], chunk: int, bar: tqdm
) -> None:
    while True:
        part = list(itertools.islice(rows, chunk))
        if not part:
            return
        await copy(conn, part)  # type: ignore[operator]
        bar.update(len(part))


async def seed_scale(
    settings: Settings, random_seed: int = 42, spec: ScaleSpec | None = None
) -> dict[str, int]:
    spec = spec or ScaleSpec()
    rng = random.Random(random_seed)
    now_ms = int(time.time() * 1000)
    started = time.monotonic()
    password_hash = hash_password_sync(SEED_PASSWORD)
    conn = await asyncpg.connect(_raw_dsn(settings))
    res = Resources.open(settings)
    try:
        await conn.execute("SET synchronous_commit = off")
        # Accounts.
        user_flakes = Snowflakes(now_ms - 365 * DAY_MS, now_ms - 90 * DAY_MS).spread(
            spec.users, rng
        )
        run = f"{random_seed:x}{now_ms % 100000:05d}"
        with tqdm(total=spec.users, desc="accounts", unit="row") as bar:
            rows = (
                (
                    uid,
                    f"pup{run}_{i}",
                    f"pup{run}_{i}@seed.puppies.dev",
                    password_hash,
                    f"Pup {i}",
                    _ts(ms),
                    _ts(ms),
                )
                for i, (uid, ms) in enumerate(user_flakes)
            )
            await _copy_chunks(conn, copy_users, iter(rows), spec.chunk, bar)
        user_ids = [uid for uid, _ in user_flakes]
        # Follows.
        follow_flakes = Snowflakes(now_ms - 90 * DAY_MS, now_ms - 31 * DAY_MS)
        span = follow_flakes.end_ms - follow_flakes.start_ms
        with tqdm(total=spec.follows, desc="follows", unit="row") as bar:
            frows = (
                (
                    a,
                    b,
                    follow_flakes.at(ms := follow_flakes.start_ms + rng.randrange(span)),
                    _ts(ms),
                )
                for a, b in edges(spec, user_ids, rng)
            )
            await _copy_chunks(conn, copy_follows, frows, spec.chunk, bar)
        print("counting followers ...", flush=True)
        await recount(res)
        await analyze(conn)
        # Posts: authors drawn log-normally (some post a lot, most a little).
        weights = [rng.lognormvariate(0, 1.0) for _ in user_ids]
        cum = list(itertools.accumulate(weights))
        post_flakes = Snowflakes(now_ms - 30 * DAY_MS, now_ms - 60_000).spread(spec.posts, rng)
        with tqdm(total=spec.posts, desc="posts", unit="row") as bar:
            prows = (
                (
                    pid,
                    user_ids[bisect.bisect_left(cum, rng.random() * cum[-1])],
                    f"seed post {i}",
                    _ts(ms),
                )
                for i, (pid, ms) in enumerate(post_flakes)
            )

            async def copy_posts_and_authorship(
                conn: asyncpg.Connection, part: list[tuple[int, int, str, datetime]]
            ) -> None:
                await copy_posts(conn, part)
                # analytics' projection of who wrote which post, as post.published events
                # would fill it (trending, dashboards and roll-ups read it)
                await remember_posts(res, [(p, a, t) for p, a, _, t in part])

            await _copy_chunks(conn, copy_posts_and_authorship, iter(prows), spec.chunk, bar)
        await analyze_posts(conn)
        await count_posts_by_author(conn)
        # Feed.
        vips = await build_vips(res)
        print(
            f"{len(vips)} VIP authors (>= {settings.feed_vip_threshold} followers): "
            + ", ".join(f"{c}" for _, c in vips[:10]),
            flush=True,
        )
        async with res.db.session() as session:
            viewers = await all_user_ids(session)
        with tqdm(total=len(viewers), desc="inboxes", unit="viewer") as bar:

            def advance(n: int, _rows: int) -> None:
                bar.update(n)

            inbox_rows = await build_inboxes(res, viewers, [v for v, _ in vips], progress=advance)
        await refresh_popular(res, int(time.time() * 1000))
    finally:
        await conn.close()
        await res.close()
    summary = {
        "users": spec.users,
        "follows": spec.follows,
        "posts": spec.posts,
        "vips": len(vips),
        "inbox_rows": inbox_rows,
        "seconds": int(time.monotonic() - started),
    }
    print("seeded: " + ", ".join(f"{k}={v:,}" for k, v in summary.items()), flush=True)
    return summary


def run_scale(settings: Settings, random_seed: int = 42) -> dict[str, int]:
    return asyncio.run(seed_scale(settings, random_seed))
