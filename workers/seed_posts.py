"""`puppies seed`: the posts domain's part (posts, likes, comments), called by workers.seed.

    await seed_posts(settings, user_ids, posts=5, likes=10, comments=2, rng=rng)

Numbers are averages per account (posts) and per post (likes, comments); authors and
likers are drawn with a mild popularity skew, so some posts are hot. Every post gets its
`post.published` outbox event (the worker fans it out to followers' feeds); likes and
comments are written in bulk without events, and the counters are set from the rows.

Idempotent: an account that already has posts gets none, and each account's number of posts
depends only on the seed and its place in the list, so running `puppies seed` twice adds no
posts; with more `--users` only the new accounts get posts. Only new posts get likes and
comments.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm import tqdm

from puppies.settings import Settings
from resolvers.posts import bulk
from resolvers.runtime import Resources

CHUNK = 2000
PHRASES = (
    "Walkies at the park",
    "Who ate my slipper?",
    "Nap time",
    "New squeaky toy!",
    "Rainy day zoomies",
    "Met a very good boy today",
    "Bath time :(",
    "Treat review: 10/10",
    "Learning to sit",
    "Beach day",
)


@dataclass(frozen=True)
class SeededPosts:
    posts: int
    likes: int
    comments: int
    skipped_authors: int = 0  # accounts that already had posts


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    # Knuth for small means, normal approximation above.
    if mean > 30:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


async def seed_posts(
    settings: Settings,
    user_ids: Sequence[int],
    *,
    posts: int,
    likes: int,
    comments: int,
    rng: random.Random,
    progress: bool = True,
) -> SeededPosts:
    if not user_ids:
        return SeededPosts(0, 0, 0)
    res = Resources.open(settings)
    users = list(user_ids)
    weights = [1.0 / (i + 1) ** 0.5 for i in range(len(users))]  # a few popular accounts
    try:
        done = await bulk.authors_with_posts(res, users)
        # Every account's count is drawn, in order, whether it gets posts or not: the same
        # seed gives each account the same count on every run (an account drawn 0 stays at 0).
        counts = [(u, _poisson(rng, posts)) for u in users]
        rows = [
            (u, f"{rng.choice(PHRASES)} #{i}") for u, n in counts if u not in done for i in range(n)
        ]
        rng.shuffle(rows)
        post_ids: list[int] = []
        bar = tqdm(total=len(rows), desc="posts", unit="post", disable=not progress)
        for i in range(0, len(rows), CHUNK):
            post_ids.extend(await bulk.insert_posts(res, rows[i : i + CHUNK]))
            bar.update(len(rows[i : i + CHUNK]))
        bar.close()
        n_likes = n_comments = 0
        bar = tqdm(total=len(post_ids), desc="likes+comments", unit="post", disable=not progress)
        pairs: list[tuple[int, int]] = []
        notes: list[tuple[int, int, str]] = []
        for pid in post_ids:
            k = min(len(users), _poisson(rng, likes))
            likers = set(rng.choices(users, weights=weights, k=k))
            pairs.extend((pid, u) for u in likers)
            notes.extend(
                (pid, rng.choice(users), f"{rng.choice(PHRASES)}!")
                for _ in range(_poisson(rng, comments))
            )
            if len(pairs) >= CHUNK * 5 or len(notes) >= CHUNK:
                await bulk.insert_likes(res, pairs)
                await bulk.insert_comments(res, notes)
                n_likes, n_comments = n_likes + len(pairs), n_comments + len(notes)
                pairs, notes = [], []
            bar.update(1)
        await bulk.insert_likes(res, pairs)
        await bulk.insert_comments(res, notes)
        n_likes, n_comments = n_likes + len(pairs), n_comments + len(notes)
        bar.close()
        await bulk.recount_all(res)
        return SeededPosts(
            posts=len(post_ids), likes=n_likes, comments=n_comments, skipped_authors=len(done)
        )
    finally:
        await res.close()
