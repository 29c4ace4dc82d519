"""postLikeChanged over WebSockets: both protocols, across processes, after commit."""

from __future__ import annotations

import asyncio

from puppies.embedded import free_port
from tests.subgraphs.posts.test_likes_api import LIKE, UNLIKE, new_post
from tests.subgraphs.posts.wsclient import LEGACY_WS, TRANSPORT_WS, GraphQLWebSocket
from tests.support.servers import run_cli

SUB = """subscription($id: ID!) { postLikeChanged(postId: $id) {
  post { id text author { id } } likeCount liked userId } }"""


async def test_transport_ws_receives_likes_and_unlikes(posts_api):
    pid = await new_post(posts_api, t="sub me")
    async with GraphQLWebSocket(posts_api.url, TRANSPORT_WS) as ws:
        await ws.subscribe(SUB, {"id": pid})
        await asyncio.sleep(0.3)
        await posts_api.data(LIKE, {"id": pid}, user=9)
        await posts_api.data(LIKE, {"id": pid}, user=9)  # a no-op: nothing published
        await posts_api.data(UNLIKE, {"id": pid}, user=9)
        first = await asyncio.wait_for(ws.next_payload(), 10)
        second = await asyncio.wait_for(ws.next_payload(), 10)
    assert first["data"]["postLikeChanged"] == {
        "post": {"id": pid, "text": "sub me", "author": {"id": "1"}},
        "likeCount": 1, "liked": True, "userId": "9"}
    assert second["data"]["postLikeChanged"]["likeCount"] == 0
    assert second["data"]["postLikeChanged"]["liked"] is False


async def test_legacy_graphql_ws_protocol(posts_api):
    pid = await new_post(posts_api)
    async with GraphQLWebSocket(posts_api.url, LEGACY_WS) as ws:
        await ws.subscribe(SUB, {"id": pid})
        await asyncio.sleep(0.3)
        await posts_api.data(LIKE, {"id": pid}, user=4)
        got = await asyncio.wait_for(ws.next_payload(), 10)
    assert got["data"]["postLikeChanged"]["userId"] == "4"


async def test_subscribing_to_a_missing_post_is_an_error_with_a_code(posts_api):
    async with GraphQLWebSocket(posts_api.url, TRANSPORT_WS) as ws:
        await ws.subscribe(SUB, {"id": "31337"})
        got = await asyncio.wait_for(ws.next_payload(), 10)
    assert got["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_subscriber_on_a_second_process_gets_a_like_made_through_the_first(
        posts_api, service_env):
    pid = await new_post(posts_api)
    port = free_port()
    with run_cli(["serve", "posts", "--port", str(port)], service_env, port=port):
        other = f"http://127.0.0.1:{port}"
        async with GraphQLWebSocket(other, TRANSPORT_WS) as ws:
            await ws.subscribe(SUB, {"id": pid})
            await asyncio.sleep(0.5)
            await posts_api.data(LIKE, {"id": pid}, user=21)
            got = await asyncio.wait_for(ws.next_payload(), 10)
    assert got["data"]["postLikeChanged"]["userId"] == "21"
    assert got["data"]["postLikeChanged"]["likeCount"] == 1
