"""`PostsLoaders.posts_many(ids)` (a home feed page's `_entities`) gives what
`post.load_many(ids)` gives, on real PostgreSQL and Redis, over generated worlds (published,
waiting and deleted posts, likes, an author blocked either way, missing and repeated ids)
after generated earlier reads (lists read before, loads done or still pending); what it read
is then the `post` loader's (a later load reads nothing), and `viewerHasLiked` and
`likeCount` answer as the loader's would."""

from __future__ import annotations

import asyncio
import inspect
import random
from typing import Any

import pytest
from sqlalchemy import text

from resolvers.posts import likes, posts
from resolvers.posts.live import LikeBroker
from resolvers.posts.loaders import PostsLoaders
from resolvers.posts.posts import MediaSpec
from resolvers.runtime import Resources
from resolvers.users import bulk
from resolvers.users.passwords import hash_password_sync


class Counting(PostsLoaders):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.reads = 0

    async def _posts(self, ids: list[int]) -> Any:
        self.reads += 1
        return await super()._posts(ids)


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


@pytest.mark.parametrize("seed", range(4))
async def test_posts_many_answers_as_load_many(res: Resources, seed: int) -> None:
    rng = random.Random(seed)
    users = list(
        (
            await bulk.insert_users(
                res,
                [(f"m{seed}u{i}", f"m{seed}u{i}@example.com", f"M{i}", "") for i in range(4)],
                hash_password_sync("x" * 12),
            )
        ).values()
    )
    ids: list[int] = []
    owner: dict[int, int] = {}  # the published posts' authors
    for i in range(8):
        author = rng.choice(users)
        waiting = rng.random() < 0.2  # waiting for its media: its author's only
        media = [MediaSpec("image/png", 100)] if waiting else []
        ids.append((await posts.create_post(res, author, f"p{i}", media)).post.id)
        if not waiting:
            owner[ids[-1]] = author
    published = sorted(owner)
    for _ in range(12):
        await likes.like_post(res, rng.choice(users), rng.choice(published))
    for pid in rng.sample(published, 2):
        await posts.delete_post(res, owner[pid], pid)
    a, b = rng.sample(users, 2)
    async with res.db.session() as s:
        await s.execute(
            text("INSERT INTO users.blocks (blocker_id, blocked_id) VALUES (:a, :b)"),
            {"a": a, "b": b},
        )
        await s.commit()
    broker = LikeBroker(res.redis, 10)
    pool = [*ids, 10**15 + seed]
    for _ in range(15):
        viewer = rng.choice([None, *users])
        direct, general = Counting(res, viewer, broker), Counting(res, viewer, broker)
        before = [rng.choice(pool) for _ in range(rng.randint(1, 6))] if rng.random() < 0.4 else []
        earlier = rng.sample(pool, rng.randint(0, 3)) if rng.random() < 0.5 else []
        settle = rng.random() < 0.5
        wanted = [rng.choice(pool) for _ in range(rng.randint(0, 10))]
        answers = []
        for loaders in (general, direct):
            if before:
                await (
                    loaders.posts_many(before)
                    if loaders is direct
                    else loaders.post.load_many(before)
                )
            futures = [loaders.post.load(k) for k in earlier]
            if settle:
                await asyncio.gather(*futures)
            if loaders is direct:
                got = await loaders.posts_many(wanted)
            else:
                got = await loaders.post.load_many(wanted)
            await asyncio.gather(*futures)
            answers.append(got)
        expected, got = answers
        assert got == expected, (wanted, before, earlier, viewer)
        reads = direct.reads
        assert await direct.post.load_many(wanted) == got and direct.reads == reads
        for pid, rec in zip(wanted, got, strict=True):
            if rec is None:
                continue
            assert await _maybe(direct.viewer_liked(pid)) == await _maybe(general.viewer_liked(pid))
            assert await _maybe(direct.like_count_of(rec)) == await _maybe(
                general.like_count_of(rec)
            )
