"""The users resolvers called directly (as workers and other domains do)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from puppies.auth.keys import KeyRing
from puppies.pagination import PageRequest
from puppies.settings import Settings
from resolvers.errors import BadInput, NotFound, Unauthenticated
from resolvers.runtime import Resources
from resolvers.users import accounts, bulk, follows, sessions, throttle
from resolvers.users.passwords import hash_password_sync, password_problem


@pytest.fixture
async def res(clean: Settings) -> AsyncIterator[Resources]:
    r = Resources.open(clean)
    try:
        yield r
    finally:
        await r.close()


async def _users(res: Resources, n: int) -> list[int]:
    ids = await bulk.insert_users(
        res,
        [(f"u{i}", f"u{i}@example.com", f"U{i}", "") for i in range(n)],
        hash_password_sync("x" * 12),
    )
    return [ids[f"u{i}"] for i in range(n)]


async def _counts(res: Resources) -> dict[int, tuple[int, int]]:
    async with res.db.session() as s:
        rows = (
            await s.execute(text("SELECT id, follower_count, following_count FROM users.users"))
        ).all()
    return {r[0]: (r[1], r[2]) for r in rows}


async def test_concurrent_follows_one_edge_exact_counts(res: Resources) -> None:
    a, b = await _users(res, 2)
    created = await asyncio.gather(*[follows.follow(res, a, b) for _ in range(50)])
    assert created.count(True) == 1
    counts = await _counts(res)
    assert counts[a] == (0, 1) and counts[b] == (1, 0)
    removed = await asyncio.gather(*[follows.unfollow(res, a, b) for _ in range(50)])
    assert removed.count(True) == 1
    assert (await _counts(res))[b] == (0, 0)


async def test_follow_errors_write_nothing(res: Resources) -> None:
    (a,) = await _users(res, 1)
    with pytest.raises(BadInput):
        await follows.follow(res, a, a)
    with pytest.raises(NotFound):
        await follows.follow(res, a, 424242)
    async with res.db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM users.follows"))).scalar() == 0
        assert (await s.execute(text("SELECT count(*) FROM users.outbox"))).scalar() == 0


async def test_pages_batch_many_users_in_one_call(res: Resources) -> None:
    ids = await _users(res, 12)
    star1, star2, fans = ids[0], ids[1], ids[2:]
    await bulk.insert_follows(res, [(f, star1) for f in fans] + [(f, star2) for f in fans[:3]])
    await bulk.recount(res)
    p1, p2, p3 = await follows.followers_pages(
        res,
        [
            (star1, PageRequest(4, None)),
            (star2, PageRequest(10, None)),
            (fans[0], PageRequest(5, None)),
        ],
    )
    assert p1.items == list(reversed(fans))[:4] and p1.has_next_page
    assert p2.items == list(reversed(fans[:3])) and not p2.has_next_page
    assert p3.items == [] and not p3.has_next_page
    last = p1.keys[-1]
    assert isinstance(last, int)
    nxt = (await follows.followers_pages(res, [(star1, PageRequest(100, last))]))[0]
    assert nxt.items == list(reversed(fans))[4:]
    (following,) = await follows.following_pages(res, [(fans[0], PageRequest(10, None))])
    assert set(following.items) == {star1, star2}
    assert await follows.viewer_follows(res, fans[0], [star1, star2, fans[1]]) == [
        True,
        True,
        False,
    ]


async def test_refresh_rotation_functions(res: Resources, clean: Settings) -> None:
    ring = KeyRing(clean.keys_dir).load()
    result = await accounts.sign_up(
        res, ring, username="fn_user", email="fn@example.com", password="a fine password"
    )
    assert result.session is not None and result.errors == []
    s2 = await sessions.refresh_session(res, ring, result.session.refresh_token)
    with pytest.raises(Unauthenticated, match="already used"):
        await sessions.refresh_session(res, ring, result.session.refresh_token)
    with pytest.raises(Unauthenticated):
        await sessions.refresh_session(res, ring, s2.refresh_token)


async def test_throttle_window(res: Resources, clean: Settings) -> None:
    conf = clean.model_copy(
        update={"login_max_failures_per_account": 2, "login_failure_window_seconds": 1}
    )
    for _ in range(2):
        assert await throttle.check(res.redis, conf, "user:1", "10.0.0.1") is None
        await throttle.record_failure(res.redis, conf, "user:1", "10.0.0.1")
    limited = await throttle.check(res.redis, conf, "user:1", "10.0.0.1")
    assert limited is not None and limited.scope == "account" and limited.retry_after >= 1
    assert await throttle.check(res.redis, conf, "user:2", "10.0.0.1") is None
    await asyncio.sleep(1.2)
    assert await throttle.check(res.redis, conf, "user:1", "10.0.0.1") is None


def test_password_rules() -> None:
    assert password_problem("short", username="rex", email="r@x.io")
    assert password_problem("password123", username="rex", email="r@x.io")
    assert password_problem("aaaaaaaaaaaa", username="rex", email="r@x.io")
    assert password_problem("my-rex-password", username="rex", email="r@x.io")
    assert password_problem("a" * 300, username="rex", email="r@x.io")
    assert password_problem("correct horse battery", username="rex", email="r@x.io") is None
