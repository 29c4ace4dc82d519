"""`UsersLoaders.users(ids)` (the authors of `_entities` and of follower pages) gives what
`user.load_many(ids)` gives, on real PostgreSQL: generated id lists (existing, missing,
repeated, in any order) after generated earlier loads (done, still pending, failed), and the
rows it read are then the loader's (a later `load` reads nothing)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from puppies.auth import Viewer
from puppies.auth.keys import KeyRing
from puppies.settings import Settings
from resolvers.runtime import Resources
from resolvers.users import bulk
from resolvers.users.loaders import UsersLoaders
from resolvers.users.passwords import hash_password_sync


@pytest.fixture
async def res(clean: Settings) -> AsyncIterator[Resources]:
    r = Resources.open(clean)
    try:
        yield r
    finally:
        await r.close()


class Counting(UsersLoaders):
    """Counts the statements of the `user` batch; fails one when asked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads = 0
        self.fail_next = False

    async def _users(self, ids: Any) -> Any:
        self.reads += 1
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the database is away")
        return await super()._users(ids)


def _loaders(res: Resources) -> Counting:
    return Counting(res, Viewer(), KeyRing.__new__(KeyRing))


async def _answer(call: Any) -> Any:
    try:
        return ("rows", await call)
    except RuntimeError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("seed", range(12))
async def test_users_answers_as_load_many(res: Resources, seed: int) -> None:
    rng = random.Random(seed)
    ids = list(
        (
            await bulk.insert_users(
                res,
                [(f"l{seed}u{i}", f"l{seed}u{i}@example.com", f"L{i}", "") for i in range(6)],
                hash_password_sync("x" * 12),
            )
        ).values()
    )
    pool = [*ids, 10**9 + seed, 10**9 + seed + 1]  # two that do not exist
    for _ in range(10):
        direct, general = _loaders(res), _loaders(res)
        earlier = rng.sample(pool, rng.randint(0, 4))
        fail = rng.random() < 0.2
        settle = rng.random() < 0.5  # let the earlier batch finish (or fail) first
        wanted = [rng.choice(pool) for _ in range(rng.randint(0, 8))]
        # a list read before (`_entities` twice): held without a loader on the direct side
        before = [rng.choice(pool) for _ in range(rng.randint(1, 5))] if rng.random() < 0.4 else []
        answers = []
        for loaders in (general, direct):  # one after the other: their batches apart
            if before:
                first = loaders.users(before) if loaders is direct else None
                got_before = await (first or loaders.user.load_many(before))
                assert [r.id if r else None for r in got_before] == [
                    k if k in ids else None for k in before
                ]
            loaders.fail_next = fail
            futures = [loaders.user.load(k) for k in earlier]
            if settle:
                await asyncio.gather(*futures, return_exceptions=True)
            if loaders is direct:
                answers.append(await _answer(loaders.users(wanted)))
            else:
                answers.append(await _answer(loaders.user.load_many(wanted)))
            await asyncio.gather(*futures, return_exceptions=True)
        expected, got = answers
        assert got == expected, (wanted, earlier, fail, settle)
        if got[0] == "rows":
            reads = direct.reads
            again = await direct.user.load_many(wanted)
            assert again == got[1] and direct.reads == reads  # held by the loader


async def test_users_reads_once_for_a_list(res: Resources) -> None:
    ids = list(
        (
            await bulk.insert_users(
                res,
                [(f"once{i}", f"once{i}@example.com", f"O{i}", "") for i in range(4)],
                hash_password_sync("x" * 12),
            )
        ).values()
    )
    loaders = _loaders(res)
    rows = await loaders.users([ids[0], ids[1], ids[0], 10**9, ids[3]])
    assert loaders.reads == 1
    assert [r.id if r else None for r in rows] == [ids[0], ids[1], ids[0], None, ids[3]]
