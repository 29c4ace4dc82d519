"""`puppies seed`: demo data, with progress bars.

    run(settings, users=200, follows=20, posts=5, likes=10, comments=2, scale=False,
        random_seed=42)

Accounts are `pup0`, `pup1`, ... (email `pupN@demo.puppies.dev`), all with the password
DEMO_PASSWORD, so you can log in as any of them. Each account follows about `follows`
others, drawn with a power-law skew (a few accounts are very popular). Then each domain
adds its part: posts/likes/comments (workers/seed_posts.py), and `seed_feed` /
`seed_analytics` in workers/seed_feed.py / workers/seed_analytics.py when they exist
(called as `seed_x(settings, user_ids, rng=rng)`). `--scale` hands over to
workers/seed_scale.py. Re-running adds what is missing: existing accounts and edges stay.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import math
import random
from typing import Any

from tqdm import tqdm

from puppies.settings import Settings
from resolvers.runtime import Resources
from resolvers.users import accounts, bulk
from resolvers.users.passwords import hash_password_sync

DEMO_PASSWORD = "puppies-demo-password"
CHUNK = 5000
BIOS = (
    "Loves long walks.",
    "Professional napper.",
    "Ball is life.",
    "Will sit for treats.",
    "Certified good dog.",
    "Chases squirrels, never catches them.",
    "",
)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:  # normal approximation
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def follow_pairs(user_ids: list[int], follows: int, rng: random.Random) -> list[tuple[int, int]]:
    """About `follows` distinct followees per account, popular accounts drawn more often
    (Zipf-like weights over a random popularity ranking)."""
    if len(user_ids) < 2 or follows <= 0:
        return []
    ranking = user_ids[:]
    rng.shuffle(ranking)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(ranking))]
    pairs: list[tuple[int, int]] = []
    for uid in user_ids:
        k = min(len(user_ids) - 1, _poisson(rng, follows))
        chosen: set[int] = set()
        tries = 0
        while len(chosen) < k and tries < k * 4:
            for target in rng.choices(ranking, weights=weights, k=k - len(chosen)):
                if target != uid:
                    chosen.add(target)
            tries += k
        pairs.extend((uid, t) for t in chosen)
    return pairs


async def seed_users(
    settings: Settings, *, users: int, follows: int, rng: random.Random, progress: bool = True
) -> list[int]:
    """Create the demo accounts and their follows; returns every demo account's id."""
    res = Resources.open(settings)
    try:
        password_hash = hash_password_sync(DEMO_PASSWORD)
        names = [f"pup{i}" for i in range(users)]
        with tqdm(total=users, desc="accounts", unit="user", disable=not progress) as bar:
            for i in range(0, users, CHUNK):
                part = names[i : i + CHUNK]
                await bulk.insert_users(
                    res,
                    [(n, f"{n}@demo.puppies.dev", f"Pup {n[3:]}", rng.choice(BIOS)) for n in part],
                    password_hash,
                )
                bar.update(len(part))
        ids = [i for i in await accounts.user_ids_by_usernames(res, names) if i is not None]
        pairs = follow_pairs(ids, follows, rng)
        with tqdm(total=len(pairs), desc="follows", unit="edge", disable=not progress) as bar:
            for i in range(0, len(pairs), CHUNK):
                await bulk.insert_follows(res, pairs[i : i + CHUNK])
                bar.update(len(pairs[i : i + CHUNK]))
        await bulk.recount(res)
        return ids
    finally:
        await res.close()


def _optional(module: str, func: str) -> Any | None:
    if importlib.util.find_spec(module) is None:
        return None
    return getattr(importlib.import_module(module), func, None)


async def seed(
    settings: Settings,
    *,
    users: int,
    follows: int,
    posts: int,
    likes: int,
    comments: int,
    random_seed: int,
    progress: bool = True,
) -> dict[str, int]:
    rng = random.Random(random_seed)
    user_ids = await seed_users(settings, users=users, follows=follows, rng=rng, progress=progress)
    summary: dict[str, int] = {"users": len(user_ids)}
    seed_posts = _optional("workers.seed_posts", "seed_posts")
    if seed_posts is not None:
        made = await seed_posts(
            settings,
            user_ids,
            posts=posts,
            likes=likes,
            comments=comments,
            rng=rng,
            progress=progress,
        )
        summary.update(posts=made.posts, likes=made.likes, comments=made.comments)
    for name in ("feed", "analytics"):
        part = _optional(f"workers.seed_{name}", f"seed_{name}")
        if part is not None:
            await part(settings, user_ids, rng=rng)
    return summary


def run(
    settings: Settings,
    *,
    users: int = 200,
    follows: int = 20,
    posts: int = 5,
    likes: int = 10,
    comments: int = 2,
    scale: bool = False,
    random_seed: int = 42,
) -> dict[str, int]:
    if scale:
        from workers.seed_scale import run_scale

        return run_scale(settings, random_seed)
    summary = asyncio.run(
        seed(
            settings,
            users=users,
            follows=follows,
            posts=posts,
            likes=likes,
            comments=comments,
            random_seed=random_seed,
        )
    )
    print(
        "seeded: "
        + ", ".join(f"{k}={v:,}" for k, v in summary.items())
        + f"; every account's password is {DEMO_PASSWORD!r}",
        flush=True,
    )
    return summary
