"""WebSocket credentials end to end: browser -> router -> posts subgraph.

Real users and posts subgraphs (access tokens issued by users, verified by posts through
the users JWKS over HTTP), a supergraph composed from their `_service { sdl }`, and the
router from `graph.app.create_app` with router.yaml's header rules. Browsers cannot set
headers on a WebSocket, so the token travels in the connection_init payload; the router
propagates it to the subgraph and the subgraph authenticates the subscriber with it.
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
from tests.subgraphs.posts.wsclient import GraphQLWebSocket
from tests.subgraphs.users.conftest import PASSWORD, SIGN_UP
from tests.support.graphql import GraphQLClient
from tests.support.servers import serve_asgi

ROUTER_YAML: dict[str, Any] = {
    "headers": {
        "all": {
            "request": [
                {"propagate": {"named": "authorization"}},
                {"propagate": {"named": "x-api-key"}},
            ]
        }
    },
    "include_subgraph_errors": {"all": True},
    # The router does not authenticate callers yet (every caller is anonymous to it), so its
    # authorization directives would remove every protected field: the subgraphs decide here,
    # as the dev router.yaml has it.
    "authorization": {"directives": {"enabled": False}},
}
NEW = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } errors { code } } }"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id } errors { code } } }"
UNLIKE = "mutation($id: ID!) { unlikePost(postId: $id) { post { id } errors { code } } }"
SUB = """subscription($id: ID!) { postLikeChanged(postId: $id) {
  liked userId likeCount post { id viewerHasLiked likeCount author { username } } } }"""


@dataclass
class Stack:
    router: str
    gql: GraphQLClient
    posts_app: Any
    supergraph: str

    async def token(self, username: str) -> str:
        body = await self.gql.data(
            SIGN_UP, {"u": username, "e": f"{username}@example.com", "p": PASSWORD}
        )
        token: str = body["signUp"]["session"]["accessToken"]
        return token

    async def subscribed(self, n: int) -> None:
        """Wait until the posts process has `n` live-like subscriptions registered."""
        broker = self.posts_app.state.like_broker
        for _ in range(500):
            if broker.subscriber_count >= n:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{broker.subscriber_count} of {n} subscriptions registered")


async def _sdl(http: httpx.AsyncClient, url: str) -> str:
    r = await http.post(url + "/graphql", json={"query": "{ _service { sdl } }"})
    sdl: str = r.json()["data"]["_service"]["sdl"]
    return sdl


@pytest.fixture
async def stack(clean: Settings) -> AsyncIterator[Stack]:
    async with serve_asgi(create_users(clean)) as users_url:
        # posts verifies access tokens with the users subgraph's published JWKS, over HTTP
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
                yield Stack(router_url, GraphQLClient(http, router_url), posts_app, supergraph)


async def _next(ws: GraphQLWebSocket) -> dict[str, Any]:
    return await asyncio.wait_for(ws.next_payload(), 15)


async def test_viewer_dependent_fields_follow_the_token_in_connection_init(stack: Stack):
    alice, bob = await stack.token("alice_ws"), await stack.token("bob_ws")
    created = await stack.gql.data(NEW, {"t": "live"}, token=alice)
    pid = created["createPost"]["post"]["id"]

    # the three shapes clients send connection params in
    as_alice = GraphQLWebSocket(stack.router, init={"Authorization": f"Bearer {alice}"})
    as_bob = GraphQLWebSocket(stack.router, init={"headers": {"authorization": f"Bearer {bob}"}})
    anonymous = GraphQLWebSocket(stack.router)
    async with as_alice as a, as_bob as b, anonymous as n:
        for ws in (a, b, n):
            await ws.subscribe(SUB, {"id": pid})
        await stack.subscribed(3)

        await stack.gql.data(LIKE, {"id": pid}, token=bob)
        first = [(await _next(ws))["data"]["postLikeChanged"] for ws in (a, b, n)]
        await stack.gql.data(LIKE, {"id": pid}, token=alice)
        second = [(await _next(ws))["data"]["postLikeChanged"] for ws in (a, b, n)]
        await stack.gql.data(UNLIKE, {"id": pid}, token=bob)
        third = [(await _next(ws))["data"]["postLikeChanged"] for ws in (a, b, n)]

    assert [e["post"]["viewerHasLiked"] for e in first] == [False, True, False]
    # each event is resolved afresh: alice's own like shows, nothing cached from event 1
    assert [e["post"]["viewerHasLiked"] for e in second] == [True, True, False]
    assert [e["post"]["viewerHasLiked"] for e in third] == [True, False, False]
    assert [e["post"]["likeCount"] for e in first + second + third] == [1] * 3 + [2] * 3 + [1] * 3
    assert {e["post"]["author"]["username"] for e in first} == {"alice_ws"}


async def test_a_bad_token_in_connection_init_is_refused(stack: Stack):
    alice = await stack.token("carol_ws")
    created = await stack.gql.data(NEW, {"t": "guarded"}, token=alice)
    pid = created["createPost"]["post"]["id"]
    tampered = alice[:-4] + ("AAAA" if alice[-4:] != "AAAA" else "BBBB")
    for init in (
        {"Authorization": f"Bearer {tampered}"},
        {"headers": {"Authorization": f"Bearer {tampered}"}},
        {"authorization": "Bearer not-a-jwt"},
    ):
        async with GraphQLWebSocket(stack.router, init=init) as ws:
            await ws.subscribe(SUB, {"id": pid})
            got = await _next(ws)
        assert got["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", (init, got)
        assert "data" not in got
    assert stack.posts_app.state.like_broker.subscriber_count == 0


async def test_subscription_errors_keep_their_code_when_redacted(stack: Stack):
    token = await stack.token("dave_ws")
    init = {"Authorization": f"Bearer {token}"}
    redacting = config_from_mapping({**ROUTER_YAML, "include_subgraph_errors": {"all": False}})
    async with serve_asgi(create_router(stack.supergraph, redacting)) as quiet:
        for router, message in (
            (stack.router, "post 31337 does not exist"),
            (quiet, "Subgraph errors redacted"),
        ):
            async with GraphQLWebSocket(router, init=init) as ws:
                await ws.subscribe(SUB, {"id": "31337"})
                got = await _next(ws)
            error = got["errors"][0]
            assert error["extensions"]["code"] == "NOT_FOUND", got
            assert error["message"] == message
