"""Live likes over multipart HTTP end to end: Apollo Client's subscription protocol
(`Accept: multipart/mixed;subscriptionSpec="1.0"`) -> router -> posts subgraph.

Real users and posts subgraphs on the test session's PostgreSQL and Redis, a supergraph
composed from their `_service { sdl }`, the router from `graph.app.create_app`; the
multipart response is parsed as it arrives (python-multipart). Likes made through the router
by other users arrive as `{"payload": ...}` parts, with `{}` heartbeats while nothing happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from graph.app import create_app as create_router
from graph.composition import Subgraph, compose
from graph.config import config_from_mapping
from puppies.settings import Settings
from subgraphs.posts.app import create_app as create_posts
from subgraphs.users.app import create_app as create_users
from tests.subgraphs.users.conftest import PASSWORD, SIGN_UP
from tests.support.graphql import GraphQLClient
from tests.support.incremental import MultipartParts
from tests.support.servers import serve_asgi

ROUTER_YAML: dict[str, Any] = {
    "headers": {"all": {"request": [{"propagate": {"named": "authorization"}}]}},
    "include_subgraph_errors": {"all": True},
    "authorization": {"directives": {"enabled": False}},  # the subgraphs decide here
    "subscription": {"heartbeat_interval": "100ms"},
}
ACCEPT = 'multipart/mixed;boundary="graphql";subscriptionSpec="1.0", application/json'
NEW = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } errors { code } } }"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id } errors { code } } }"
UNLIKE = "mutation($id: ID!) { unlikePost(postId: $id) { post { id } errors { code } } }"
SUB = """subscription($id: ID!) { postLikeChanged(postId: $id) {
  liked likeCount post { id viewerHasLiked author { username } } } }"""


@dataclass
class Stack:
    router: str
    gql: GraphQLClient
    posts_app: Any

    async def token(self, username: str) -> str:
        body = await self.gql.data(
            SIGN_UP, {"u": username, "e": f"{username}@example.com", "p": PASSWORD}
        )
        token: str = body["signUp"]["session"]["accessToken"]
        return token

    async def subscribed(self, n: int) -> None:
        """Wait until the posts process has `n` live-like subscriptions registered."""
        broker = self.posts_app.state.like_broker
        for _ in range(1500):
            if broker.subscriber_count == n:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{broker.subscriber_count} live-like subscriptions, not {n}")


async def _sdl(http: httpx.AsyncClient, url: str) -> str:
    r = await http.post(url + "/graphql", json={"query": "{ _service { sdl } }"})
    sdl: str = r.json()["data"]["_service"]["sdl"]
    return sdl


@pytest.fixture
async def stack(clean: Settings) -> AsyncIterator[Stack]:
    async with serve_asgi(create_users(clean)) as users_url:
        posts_settings = clean.model_copy(update={"jwks_url": users_url + "/.well-known/jwks.json"})
        posts_app = create_posts(posts_settings)
        async with serve_asgi(posts_app) as posts_url, httpx.AsyncClient(timeout=30) as http:
            supergraph = compose(
                [
                    Subgraph("users", users_url + "/graphql", await _sdl(http, users_url)),
                    Subgraph("posts", posts_url + "/graphql", await _sdl(http, posts_url)),
                ]
            )
            router = create_router(supergraph, config_from_mapping(ROUTER_YAML))
            async with serve_asgi(router) as router_url:
                yield Stack(router_url, GraphQLClient(http, router_url), posts_app)


async def test_like_events_arrive_as_parts_with_heartbeats_between(stack: Stack) -> None:
    alice, bob = await stack.token("alice_mp"), await stack.token("bob_mp")
    created = await stack.gql.data(NEW, {"t": "multipart"}, token=alice)
    pid = created["createPost"]["post"]["id"]

    async with (
        httpx.AsyncClient(base_url=stack.router, timeout=60) as http,
        http.stream(
            "POST",
            "/graphql",
            json={"query": SUB, "variables": {"id": pid}},
            headers={"accept": ACCEPT, "authorization": f"Bearer {bob}"},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == (
            'multipart/mixed;boundary="graphql";subscriptionSpec="1.0"'
        )
        parts = MultipartParts(response)

        async def next_event(beats_before: int = 0) -> Any:
            """The next event; at least `beats_before` heartbeats must come before it."""
            beats = 0
            while True:
                part = await asyncio.wait_for(anext(parts), 30)
                if part.body == {}:
                    beats += 1
                    continue
                assert beats >= beats_before, (beats, part.body)
                return part.body

        assert (await asyncio.wait_for(anext(parts), 30)).body == {}  # open: a heartbeat
        await stack.subscribed(1)
        await stack.gql.data(LIKE, {"id": pid}, token=alice)
        first = await next_event()
        # Nothing happens now: heartbeats keep coming until the next like.
        beats = 0
        while beats < 2:
            part = await asyncio.wait_for(anext(parts), 30)
            assert part.body == {}, part.body
            beats += 1
        await stack.gql.data(LIKE, {"id": pid}, token=bob)
        second = await next_event()
        await stack.gql.data(UNLIKE, {"id": pid}, token=alice)
        third = await next_event()

    for event in (first, second, third):
        assert set(event) == {"payload"}
        assert "errors" not in event["payload"]
    changes = [e["payload"]["data"]["postLikeChanged"] for e in (first, second, third)]
    assert [(c["liked"], c["likeCount"]) for c in changes] == [(True, 1), (True, 2), (False, 1)]
    # each event resolved for the subscriber (bob): his own like shows from the second one
    assert [c["post"]["viewerHasLiked"] for c in changes] == [False, True, True]
    assert {c["post"]["author"]["username"] for c in changes} == {"alice_mp"}
    # the client went away: the router stopped the subgraph subscription
    await stack.subscribed(0)


async def test_a_refused_subscription_is_one_payload_null_part(stack: Stack) -> None:
    token = await stack.token("carol_mp")
    async with (
        httpx.AsyncClient(base_url=stack.router, timeout=60) as http,
        http.stream(
            "POST",
            "/graphql",
            json={"query": SUB, "variables": {"id": "31337"}},
            headers={"accept": ACCEPT, "authorization": f"Bearer {token}"},
        ) as response,
    ):
        bodies = [p.body async for p in MultipartParts(response)]
    assert bodies[0] == {}
    last = bodies[-1]
    assert last["payload"] is None
    assert last["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert last["errors"][0]["message"] == "post 31337 does not exist"
