"""`puppies seed`: demo data, with progress bars.

    run(settings, users=200, follows=20, posts=5, likes=10, comments=2, scale=False,
        random_seed=42)

Accounts are `pup0`, `pup1`, ... (email `pupN@demo.puppies.dev`), all with the password
DEMO_PASSWORD, so you can log in as any of them. Each account follows about `follows`
others, drawn with a power-law skew (a few accounts are very popular). Then each domain
adds its part: posts/likes/comments (workers/seed_posts.py), and `seed_feed` /
`seed_analytics` in workers/seed_feed.py / workers/seed_analytics.py when they exist
(called as `seed_x(settings, user_ids, rng=rng)`). `--scale` hands over to
workers/seed_scale.py.

Idempotent, and it says what it did: re-running with the same options adds nothing
(existing accounts, follows and analytics events stay; accounts that already have posts
get no more); with a larger `--users` only the new accounts are added, with their posts.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import math
import random
from dataclasses import dataclass
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


@dataclass(frozen=True)
class SeededUsers:
    ids: list[int]  # every demo account asked for, new or already there
    created: int
    follows: int  # follow edges in the database among them after the run


async def seed_users(
    settings: Settings, *, users: int, follows: int, rng: random.Random, progress: bool = True
) -> SeededUsers:
    """Create the demo accounts that do not exist yet, and their follows."""
    res = Resources.open(settings)
    try:
        password_hash = hash_password_sync(DEMO_PASSWORD)
        names = [f"pup{i}" for i in range(users)]
        created = 0
        with tqdm(total=users, desc="accounts", unit="user", disable=not progress) as bar:
            for i in range(0, users, CHUNK):
                part = names[i : i + CHUNK]
                created += len(
                    await bulk.insert_users(
                        res,
                        [
                            (n, f"{n}@demo.puppies.dev", f"Pup {n[3:]}", rng.choice(BIOS))
                            for n in part
                        ],
                        password_hash,
                    )
                )
                bar.update(len(part))
        ids = [i for i in await accounts.user_ids_by_usernames(res, names) if i is not None]
        pairs = follow_pairs(ids, follows, rng)
        with tqdm(total=len(pairs), desc="follows", unit="edge", disable=not progress) as bar:
            for i in range(0, len(pairs), CHUNK):
                await bulk.insert_follows(res, pairs[i : i + CHUNK])
                bar.update(len(pairs[i : i + CHUNK]))
        await bulk.recount(res)
        return SeededUsers(ids=ids, created=created, follows=len(pairs))
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
    seeded = await seed_users(settings, users=users, follows=follows, rng=rng, progress=progress)
    user_ids = seeded.ids
    summary: dict[str, int] = {
        "accounts": len(user_ids),
        "accounts created": seeded.created,
    }
    seed_posts = _optional("workers.seed_posts", "seed_posts")
    if seed_posts is not None:
        made = await seed_posts(
            settings,
            user_ids,
            posts=posts,
            likes=likes,
            comments=comments,
            rng=random.Random(f"{random_seed}:posts"),
            progress=progress,
        )
        summary.update(
            {
                "posts created": made.posts,
                "likes created": made.likes,
                "comments created": made.comments,
                "accounts that already had posts": made.skipped_authors,
            }
        )
    for name in ("feed", "analytics"):
        part = _optional(f"workers.seed_{name}", f"seed_{name}")
        if part is not None:
            # Each part draws from its own generator: what one part did on an earlier run
            # cannot shift what the next part draws (so a re-run repeats the same draws).
            made_events = await part(settings, user_ids, rng=random.Random(f"{random_seed}:{name}"))
            if isinstance(made_events, int):
                summary[f"{name} events recorded"] = made_events
    return summary


def describe(summary: dict[str, int]) -> str:
    """What a run did, in words: what it created and what it left as it was."""
    accounts, created = summary["accounts"], summary["accounts created"]
    lines = [
        f"accounts pup0..pup{accounts - 1}: {created:,} created, {accounts - created:,} "
        "already there (left as they were, follows added where missing)"
    ]
    if "posts created" in summary:
        skipped = summary["accounts that already had posts"]
        lines.append(
            f"posts: {summary['posts created']:,} created with {summary['likes created']:,} "
            f"likes and {summary['comments created']:,} comments"
            + (f"; {skipped:,} accounts already had posts and got none" if skipped else "")
        )
    if "analytics events recorded" in summary:
        lines.append(
            f"analytics: {summary['analytics events recorded']:,} view events recorded "
            "(events already there are not recorded twice)"
        )
    lines.append(f"every demo account's password is {DEMO_PASSWORD!r}")
    if not any(v for k, v in summary.items() if k.endswith(("created", "recorded"))):
        lines.append("nothing new: the demo data was already there (seeding is idempotent)")
    return "\n".join(lines)


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
    print(describe(summary), flush=True)
    return summary
