"""The feed subgraph over real HTTP: contract, auth, bad input, pagination, degraded flag."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from puppies.auth.keys import KeyRing
from puppies.auth.tokens import LocalKeys, issue_access_token
from puppies.settings import Settings
from resolvers.feed.fanout import fan_out_post
from resolvers.feed.popular import refresh_popular
from subgraphs.feed.app import create_app
from tests.resolvers.feed.world import World
from tests.support.servers import serve_asgi

FEED = """
query Feed($first: Int, $after: String) {
  feed(first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class Api:
    def __init__(self, url: str, http: httpx.AsyncClient, ring: KeyRing, settings: Settings):
        self.url, self.http, self.ring, self.settings = url, http, ring, settings

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, user: int | None = None
    ) -> dict[str, Any]:
        headers = {}
        if user is not None:
            token = issue_access_token(self.ring, self.settings, user).token
            headers["Authorization"] = f"Bearer {token}"
        r = await self.http.post(
            self.url + "/graphql",
            headers=headers,
            json={"query": query, "variables": variables or {}},
        )
        assert r.status_code in (200, 400), r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture
async def world(clean: Settings) -> AsyncIterator[World]:
    w = World(clean.model_copy(update={"feed_read_timeout_ms": 150}))
    try:
        yield w
    finally:
        await w.close()


@pytest.fixture
async def api(world: World) -> AsyncIterator[Api]:
    ring = KeyRing(world.settings.keys_dir).load()
    app = create_app(world.settings, key_source=lambda resources: LocalKeys(ring))
    async with serve_asgi(app) as url, httpx.AsyncClient(timeout=30) as http:
        yield Api(url, http, ring, world.settings)


async def publish(w: World, author: int) -> int:
    post_id = await w.post(author)
    await fan_out_post(w.res, post_id, author)
    return post_id


async def test_sdl_is_a_federation_2_subgraph_with_post_by_key(api: Api) -> None:
    sdl = (await api("{ _service { sdl } }"))["data"]["_service"]["sdl"]
    assert "feed(first: Int = 20, after: String" in sdl and "): FeedConnection " in sdl
    assert 'type Post @key(fields: "id", resolvable: false)' in sdl
    assert "specs.apollo.dev/federation/v2" in sdl


async def test_feed_requires_a_viewer(api: Api) -> None:
    body = await api(FEED)
    assert body["data"] == {"feed": None}  # nullable: refused alone
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_bad_page_arguments_are_user_errors(api: Api, world: World) -> None:
    (viewer,) = await world.users(1)
    too_many = await api(FEED, {"first": 101}, user=viewer)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "100" in too_many["errors"][0]["message"]
    bad_cursor = await api(FEED, {"after": "not-a-cursor"}, user=viewer)
    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    negative = await api(FEED, {"first": -1}, user=viewer)
    assert negative["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_pages_through_the_feed_with_opaque_cursors(api: Api, world: World) -> None:
    viewer, a, b = await world.users(3)
    await world.follow(viewer, a)
    await world.follow(viewer, b)
    posts = [await publish(world, a if i % 2 else b) for i in range(5)]
    seen: list[str] = []
    after = None
    while True:
        body = await api(FEED, {"first": 2, "after": after}, user=viewer)
        assert "extensions" not in body or "feed" not in body["extensions"]
        conn = body["data"]["feed"]
        seen += [e["node"]["id"] for e in conn["edges"]]
        for e in conn["edges"]:
            assert e["node"]["id"] not in e["cursor"]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
        assert after == conn["edges"][-1]["cursor"]
    assert seen == [str(p) for p in sorted(posts, reverse=True)]
    default = (await api(FEED, user=viewer))["data"]["feed"]
    assert len(default["edges"]) == 5


async def test_degraded_answer_is_flagged_in_extensions(api: Api, world: World) -> None:
    viewer, author = await world.users(2)
    await world.follow(viewer, author)
    post_id = await publish(world, author)
    await refresh_popular(world.res, 0)
    assert world.settings.database_url
    conn = await asyncpg.connect(world.settings.database_url.replace("+asyncpg", ""))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE feed.inbox IN ACCESS EXCLUSIVE MODE")
        body = await asyncio.wait_for(api(FEED, user=viewer), 10)
        await tx.rollback()
    finally:
        await conn.close()
    assert "errors" not in body
    assert body["extensions"]["feed"] == {"degraded": True, "reason": "TIMEOUT"}
    assert [e["node"]["id"] for e in body["data"]["feed"]["edges"]] == [str(post_id)]
    healthy = await api(FEED, user=viewer)
    assert "feed" not in healthy.get("extensions", {})


async def test_a_page_costs_the_same_statements_whatever_the_follow_count(
    api: Api, world: World
) -> None:
    from models.sqlcount import count_statements

    viewer, *authors = await world.users(12)
    for a in authors:
        await world.follow(viewer, a)
    for a in authors:
        await publish(world, a)
    counts = []
    for first in (1, 20):
        with count_statements() as counter:
            body = await api(FEED, {"first": first}, user=viewer)
        assert len(body["data"]["feed"]["edges"]) == min(first, 11)
        counts.append(counter.queries())
    # The inbox range scan and the VIP merge in one statement, for 1 or 20 items.
    assert [len(q) for q in counts] == [1, 1], counts
    assert "feed.inbox" in counts[1][0] and "feed.vip_follow" in counts[1][0]


async def test_no_inbox_and_no_fallback_is_a_coded_error(api: Api, world: World) -> None:
    viewer, author = await world.users(2)
    await world.follow(viewer, author)
    await publish(world, author)
    await world.res.redis.delete("feed:popular")  # nothing cached to fall back on
    assert world.settings.database_url
    conn = await asyncpg.connect(world.settings.database_url.replace("+asyncpg", ""))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE feed.inbox IN ACCESS EXCLUSIVE MODE")
        body = await asyncio.wait_for(api(FEED, user=viewer), 10)
        await tx.rollback()
    finally:
        await conn.close()
    assert body["data"] == {"feed": None}  # nullable: refused alone
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "retry" in body["errors"][0]["message"]
