"""bench.mixed's follow op toggles from what PostgreSQL holds, as its like op does.

It used to start every measurement from "nothing followed". In the seeded graph a viewer
follows ~50 accounts, so about one follow in six was `follow` on a follow that existed: an
acknowledged, idempotent no-op (`changed: false`) that wrote nothing and skewed the mix's
cost. Real parts: the users subgraph over HTTP, PostgreSQL, and the bench's own workload
and sender.
"""

from __future__ import annotations

import time

from bench.mixed.generator import SenderJob, _send
from bench.mixed.stack import followed_pairs
from puppies.settings import Settings
from tests.subgraphs.users.conftest import UsersApi
from tests.subgraphs.users.test_follows import FOLLOW


async def test_the_follow_op_toggles_from_the_follows_postgresql_holds(
    users_api: UsersApi, clean: Settings
) -> None:
    a, b, c = [await users_api.sign_up(n) for n in ("alpha", "bravo", "charlie")]
    await users_api.gql.data(FOLLOW, {"id": b.id}, token=a.token)  # what the seed left
    assert clean.database_url
    dsn = clean.database_url.replace("postgresql+asyncpg://", "postgresql://")

    async def one_follow_op() -> set[tuple[str, str]]:
        """One measurement of a single follow op by `a` on `b`, as bench.mixed starts it
        (bench/mixed/run.py); the follows PostgreSQL holds afterwards."""
        followed = await followed_pairs(dsn, [a.id], [b.id, c.id])
        job = SenderJob(
            url=users_api.url,
            rate=1.0,
            start_at=time.time(),
            duration=1.0,  # exactly one operation
            warmup=0.0,
            seed=1,
            viewers=[(a.token, a.id)],
            post_ids=[],
            hot_post_ids=[],
            user_ids=[b.id],
            image=b"",
            mix=[("follow", 1)],
            followed=followed,
        )
        result = await _send(job)
        assert result.sent == 1 and result.errors == {}
        return await followed_pairs(dsn, [a.id], [b.id, c.id])

    assert await followed_pairs(dsn, [a.id], [b.id, c.id]) == {(a.id, b.id)}
    assert await one_follow_op() == set()  # an unfollow: it was followed (not a no-op follow)
    assert await one_follow_op() == {(a.id, b.id)}  # and a follow again
