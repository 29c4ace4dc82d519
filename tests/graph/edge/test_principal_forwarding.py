"""The signed principal carries the viewer to every subgraph, over HTTP and over the
router's WebSocket to a subgraph (subscriptions), with the subgraphs in production mode:
they trust nothing but the router's principal."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.graph.edge.conftest import EdgeFactory
from tests.graph.edge.stack import post, router_config
from tests.subgraphs.posts.wsclient import GraphQLWebSocket

NEW = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } errors { code } } }"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id } errors { code } } }"
SUB = """subscription($id: ID!) { postLikeChanged(postId: $id) {
  liked userId likeCount post { id viewerHasLiked } } }"""


async def test_subscriptions_and_mutations_carry_the_principal_in_production(
    edge_stack: EdgeFactory,
) -> None:
    async with edge_stack(environment="production", posts=True) as edge:
        router = edge.start_router(router_config(edge.users_url, str(edge.settings.redis_url)))
        _, alice = await edge.sign_up("alice_p")
        _, bob = await edge.sign_up("bob_p")

        async def as_user(token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
            response = await post(
                router, query, variables, headers={"authorization": f"Bearer {token}"}
            )
            body: dict[str, Any] = response.json()
            assert "errors" not in body, body
            return body

        created = await as_user(alice, NEW, {"t": "through the router"})
        post_id = created["data"]["createPost"]["post"]["id"]
        async with (
            GraphQLWebSocket(router.url, init={"Authorization": f"Bearer {alice}"}) as as_alice,
            GraphQLWebSocket(router.url) as anonymous,
        ):
            for ws in (as_alice, anonymous):
                await ws.subscribe(SUB, {"id": post_id})
            await edge.subscribed(2)
            await as_user(bob, LIKE, {"id": post_id})
            events = [
                (await asyncio.wait_for(ws.next_payload(), 15))["data"]["postLikeChanged"]
                for ws in (as_alice, anonymous)
            ]
        assert [e["likeCount"] for e in events] == [1, 1]
        # each subscriber's own view: neither alice nor the anonymous one liked it
        assert [e["post"]["viewerHasLiked"] for e in events] == [False, False]
        liked_by_alice = await as_user(alice, LIKE, {"id": post_id})
        assert liked_by_alice["data"]["likePost"]["errors"] == []
