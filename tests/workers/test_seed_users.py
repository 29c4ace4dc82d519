"""`workers.seed`: demo accounts and follows with exact counters; re-running adds nothing."""

from __future__ import annotations

import asyncpg

from puppies.settings import Settings
from workers.seed import DEMO_PASSWORD, describe, seed


async def _fetchval(settings: Settings, query: str) -> int:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def test_seed_users_and_follows(clean: Settings) -> None:
    summary = await seed(
        clean, users=60, follows=8, posts=0, likes=0, comments=0, random_seed=7, progress=False
    )
    assert summary["accounts"] == summary["accounts created"] == 60
    edges = await _fetchval(clean, "SELECT count(*) FROM users.follows")
    assert 60 * 4 < edges < 60 * 12
    mismatched = await _fetchval(
        clean,
        """
        SELECT count(*) FROM users.users u WHERE
          u.follower_count <> (SELECT count(*) FROM users.follows WHERE followee_id = u.id)
          OR u.following_count <> (SELECT count(*) FROM users.follows WHERE follower_id = u.id)
    """,
    )
    assert mismatched == 0
    top = await _fetchval(clean, "SELECT max(follower_count) FROM users.users")
    assert top > 3 * edges / 60  # power-law: someone is much more popular than average
    again = await seed(
        clean, users=60, follows=8, posts=0, likes=0, comments=0, random_seed=7, progress=False
    )
    assert await _fetchval(clean, "SELECT count(*) FROM users.users") == 60
    assert await _fetchval(clean, "SELECT count(*) FROM users.follows") == edges
    assert again["accounts created"] == 0
    said = describe(again)
    assert "0 created, 60 already there" in said and "nothing new" in said
    assert DEMO_PASSWORD in said
    more = await seed(
        clean, users=70, follows=8, posts=0, likes=0, comments=0, random_seed=7, progress=False
    )
    assert more["accounts created"] == 10
    assert await _fetchval(clean, "SELECT count(*) FROM users.users") == 70
