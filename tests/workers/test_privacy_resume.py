"""An account deletion interrupted half-way (the worker died after one domain erased the
user, its jobs lost) is resumed by the next worker process, and finishes: nothing of the
user is left."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from puppies.auth.keys import KeyRing
from puppies.settings import Settings
from resolvers.posts import likes, posts
from resolvers.privacy import erasure
from resolvers.runtime import Resources
from resolvers.users import accounts, deletion, follows
from tests.support.privacy import connect, rows_naming
from tests.support.servers import run_cli

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def res(clean: Settings) -> AsyncIterator[Resources]:
    resources = Resources.open(clean)
    yield resources
    await resources.close()


async def test_an_interrupted_deletion_is_resumed_by_the_next_worker(
    res: Resources, service_env: dict[str, str]
) -> None:
    ring = KeyRing(res.settings.keys_dir).load()
    a = await accounts.sign_up(
        res, ring, username="leaving", email="l@example.com", password=PASSWORD
    )
    b = await accounts.sign_up(
        res, ring, username="staying", email="s@example.com", password=PASSWORD
    )
    assert a.session and b.session
    a_id, b_id = a.session.user.id, b.session.user.id
    await follows.follow(res, a_id, b_id)
    await follows.follow(res, b_id, a_id)
    post = (await posts.create_post(res, a_id, "a post", [])).post
    await likes.like_post(res, b_id, post.id)
    await likes.like_post(res, a_id, post.id)

    made = await deletion.request_deletion(res, a_id, password=PASSWORD)
    assert made.errors is None and made.requested_at is not None
    # a worker erased one domain, then died: its other jobs are lost (the event was
    # dispatched, so no relay will send it again)
    await erasure.erase_domain(res, "feed", a_id)
    assert not await deletion.domain_done(res, a_id, "feed")
    async with res.db.transaction() as session:
        await session.execute(text("UPDATE users.outbox SET dispatched_at = now()"))
        await session.execute(
            text(
                "UPDATE users.account_deletions SET last_attempt_at = now() - interval '1 hour' "
                "WHERE user_id = :u"
            ),
            {"u": a_id},
        )
    status = await deletion.status(res, a_id)
    assert status is not None and status.done == ["feed"]

    env = {**service_env, "DELETION_STALL_SECONDS": "10"}
    with run_cli(["worker"], env):
        deadline = asyncio.get_running_loop().time() + 120
        while asyncio.get_running_loop().time() < deadline:
            if await deletion.status(res, a_id) is None:
                break
            await asyncio.sleep(0.5)
        assert await deletion.status(res, a_id) is None, "the deletion was not resumed"

    conn = await connect(res.settings)
    try:
        assert await rows_naming(conn, a_id, ["leaving"]) == {}
        b_row = await conn.fetchrow(
            "SELECT follower_count, following_count FROM users.users WHERE id = $1", b_id
        )
        assert (b_row["follower_count"], b_row["following_count"]) == (0, 0)
    finally:
        await conn.close()
