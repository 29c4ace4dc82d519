"""follow / unfollow, idempotency and exact counts under concurrency, paginated lists,
outbox events, and a fixed SQL statement count for a followers list of 100 users."""

from __future__ import annotations

import asyncio

import asyncpg

from models.sqlcount import count_statements
from puppies.settings import Settings
from resolvers.runtime import Resources
from resolvers.users import bulk
from resolvers.users.passwords import hash_password_sync
from tests.subgraphs.users.conftest import UsersApi
from tests.support.graphql import error_code

FOLLOW = """mutation($id: ID!) { follow(userId: $id) {
  changed user { id followerCount viewerFollows } viewer { id followingCount } } }"""
UNFOLLOW = """mutation($id: ID!) { unfollow(userId: $id) {
  changed user { id followerCount viewerFollows } viewer { id followingCount } } }"""
FOLLOWERS = """query($id: ID!, $first: Int, $after: String) { user(id: $id) {
  followerCount
  followers(first: $first, after: $after) {
    totalCount
    edges { cursor node { id username followerCount viewerFollows } }
    pageInfo { hasNextPage endCursor } } } }"""


async def _fetch(settings: Settings, query: str, *args: object) -> list[asyncpg.Record]:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_follow_and_unfollow(users_api: UsersApi, settings: Settings) -> None:
    a, b = await users_api.sign_up("alpha"), await users_api.sign_up("bravo")
    gql = users_api.gql
    r = (await gql.data(FOLLOW, {"id": b.id}, token=a.token))["follow"]
    assert r == {
        "changed": True,
        "user": {"id": b.id, "followerCount": 1, "viewerFollows": True},
        "viewer": {"id": a.id, "followingCount": 1},
    }
    r = (await gql.data(FOLLOW, {"id": b.id}, token=a.token))["follow"]  # idempotent
    assert r["changed"] is False and r["user"]["followerCount"] == 1
    r = (await gql.data(UNFOLLOW, {"id": b.id}, token=a.token))["unfollow"]
    assert r == {
        "changed": True,
        "user": {"id": b.id, "followerCount": 0, "viewerFollows": False},
        "viewer": {"id": a.id, "followingCount": 0},
    }
    r = (await gql.data(UNFOLLOW, {"id": b.id}, token=a.token))["unfollow"]
    assert r["changed"] is False and r["user"]["followerCount"] == 0
    events = await _fetch(
        settings,
        "SELECT event_type, payload FROM users.outbox "
        "WHERE event_type LIKE 'user.%followed' ORDER BY id",
    )
    assert [e["event_type"] for e in events] == ["user.followed", "user.unfollowed"]


async def test_follow_bad_paths(users_api: UsersApi, settings: Settings) -> None:
    a = await users_api.sign_up("solo")
    gql = users_api.gql
    body = await gql(FOLLOW, {"id": a.id}, token=a.token)
    assert error_code(body) == "BAD_USER_INPUT"
    assert "yourself" in body["errors"][0]["message"]
    assert error_code(await gql(FOLLOW, {"id": "999999"}, token=a.token)) == "NOT_FOUND"
    assert error_code(await gql(UNFOLLOW, {"id": "999999"}, token=a.token)) == "NOT_FOUND"
    assert error_code(await gql(FOLLOW, {"id": "x"}, token=a.token)) == "BAD_USER_INPUT"
    assert error_code(await gql(FOLLOW, {"id": a.id})) == "UNAUTHENTICATED"
    assert await _fetch(settings, "SELECT 1 FROM users.follows") == []
    assert (
        await _fetch(settings, "SELECT 1 FROM users.outbox WHERE event_type = 'user.followed'")
        == []
    )


async def test_fifty_concurrent_follows_make_one_edge(
    users_api: UsersApi, settings: Settings
) -> None:
    a, b = await users_api.sign_up("eager"), await users_api.sign_up("popular")
    results = await asyncio.gather(
        *[users_api.gql.data(FOLLOW, {"id": b.id}, token=a.token) for _ in range(50)]
    )
    assert sum(r["follow"]["changed"] for r in results) == 1
    rows = await _fetch(settings, "SELECT count(*) AS n FROM users.follows")
    assert rows[0]["n"] == 1
    counts = {
        r["username"]: (r["follower_count"], r["following_count"])
        for r in await _fetch(
            settings, "SELECT username, follower_count, following_count FROM users.users"
        )
    }
    assert counts == {"eager": (0, 1), "popular": (1, 0)}
    events = await _fetch(settings, "SELECT 1 FROM users.outbox WHERE event_type = 'user.followed'")
    assert len(events) == 1

    # Mixed concurrent follows and unfollows, in both directions: counts match the rows.
    ops = [(a, b, "follow"), (b, a, "follow"), (a, b, "unfollow"), (b, a, "unfollow")] * 10
    await asyncio.gather(
        *[
            users_api.gql.data(FOLLOW if op == "follow" else UNFOLLOW, {"id": y.id}, token=x.token)
            for x, y, op in ops
        ]
    )
    mismatched = await _fetch(
        settings,
        """
        SELECT u.id FROM users.users u WHERE
          u.follower_count <> (SELECT count(*) FROM users.follows WHERE followee_id = u.id)
          OR u.following_count <> (SELECT count(*) FROM users.follows WHERE follower_id = u.id)
    """,
    )
    assert mismatched == []


async def _seed_followers(settings: Settings, star: str, n: int) -> None:
    res = Resources.open(settings)
    try:
        ids = await bulk.insert_users(
            res,
            [(f"fan{i}", f"fan{i}@example.com", f"Fan {i}", "") for i in range(n)],
            hash_password_sync("irrelevant-password"),
        )
        star_id = (await _fetch(settings, "SELECT id FROM users.users WHERE username = $1", star))[
            0
        ]["id"]
        await bulk.insert_follows(res, [(i, star_id) for i in ids.values()])
        await bulk.recount(res)
    finally:
        await res.close()


async def test_followers_pages(users_api: UsersApi, settings: Settings) -> None:
    star = await users_api.sign_up("star")
    await _seed_followers(settings, "star", 25)
    seen: list[str] = []
    after = None
    while True:
        body = await users_api.gql.data(FOLLOWERS, {"id": star.id, "first": 10, "after": after})
        conn = body["user"]["followers"]
        assert conn["totalCount"] == 25
        seen += [e["node"]["username"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == 25 and len(set(seen)) == 25
    assert seen[0] == "fan24" and seen[-1] == "fan0"  # newest follow first
    body = await users_api.gql(FOLLOWERS, {"id": star.id, "first": 101})
    assert error_code(body) == "BAD_USER_INPUT"
    body = await users_api.gql(FOLLOWERS, {"id": star.id, "after": "bm90LWEtY3Vyc29y"})
    assert error_code(body) == "BAD_USER_INPUT"


async def test_followers_list_costs_fixed_statements(
    users_api: UsersApi, settings: Settings
) -> None:
    mid, big = await users_api.sign_up("mid"), await users_api.sign_up("big")
    viewer = await users_api.sign_up("viewer")
    await _seed_followers(settings, "big", 100)
    res = Resources.open(settings)
    try:
        fans = {
            r["username"]: r["id"]
            for r in await _fetch(
                settings, "SELECT id, username FROM users.users WHERE username LIKE 'fan%'"
            )
        }
        # mid has 10 of the same fans; the viewer follows fan3, who is in both lists.
        await bulk.insert_follows(res, [(fans[f"fan{i}"], int(mid.id)) for i in range(10)])
        await bulk.insert_follows(res, [(int(viewer.id), fans["fan3"])])
        await bulk.recount(res)
    finally:
        await res.close()
    # Nested: each follower's own followers too (one more level, one more batch).
    query = """query($id: ID!) { user(id: $id) { followers(first: 100) {
        edges { node { id username followerCount viewerFollows
                       followers(first: 3) { edges { node { id } } } } } } } }"""
    await users_api.gql.data(query, {"id": mid.id}, token=viewer.token)  # warm the pool

    counts = {}
    for target, n in ((mid, 10), (big, 100)):
        with count_statements() as counter:
            body = await users_api.gql.data(query, {"id": target.id}, token=viewer.token)
        counts[target.username] = counter.queries()
        edges = body["user"]["followers"]["edges"]
        assert len(edges) == n
        assert [e["node"]["viewerFollows"] for e in edges].count(True) == 1  # fan3
        fan3 = next(e["node"] for e in edges if e["node"]["username"] == "fan3")
        assert fan3["followers"]["edges"] == [{"node": {"id": viewer.id}}]
    # user, followers page, follower users, viewerFollows, nested followers page, their users
    assert len(counts["big"]) == len(counts["mid"]) == 6, counts["big"]
