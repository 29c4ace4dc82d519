"""A Redis that accepts connections and never answers (a redis-server of the test's own,
stopped with SIGSTOP): every request that touches it answers, degraded or refused with
SERVICE_UNAVAILABLE, instead of hanging; after SIGCONT everything works again.

The router's Redis calls (rate limits, revocations, APQ) had timeouts already; the
subgraphs' and the worker's client had none (`redis_socket_timeout_seconds`,
docs/operations.md "Redis dies"), so a like or a direct signed-in read waited forever.
The deadline below is generous on purpose: the point is "answers", not how fast."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import httpx

from puppies.embedded import free_port
from puppies.embedded.redis import EmbeddedRedis
from tests.graph.edge.conftest import EdgeFactory
from tests.graph.edge.stack import ME, post, router_config, until
from tests.support.tmp import private_tmp_dir

ANSWERS_WITHIN = 20.0  # seconds; a hang is forever
NEW_POST = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } errors { code } } }"
READ = "query($id: ID!) { post(id: $id) { id likeCount viewerHasLiked } }"
LIKE = """mutation($id: ID!) { likePost(postId: $id) {
  post { id likeCount viewerHasLiked } errors { message code } } }"""


async def answered(request: Any) -> httpx.Response:
    response: httpx.Response = await asyncio.wait_for(request, ANSWERS_WITHIN)
    return response


async def test_a_frozen_redis_gets_answers_not_hangs_and_everything_works_after(
    edge_stack: EdgeFactory,
) -> None:
    server = EmbeddedRedis(private_tmp_dir("frozen-redis"), free_port(), persist=False)
    server.start()
    assert server.proc is not None
    pid = server.proc.pid
    try:
        async with edge_stack(posts=True, redis_url=server.url) as edge:
            config = router_config(edge.users_url, server.url)
            config["rate_limits"] = {
                "enabled": True,
                "redis": {"urls": [server.url]},
                "window": "1h",
                "anonymous": {"limit": 1000},
            }
            router = edge.start_router(config)
            user_id, token = await edge.sign_up("frozen")
            bearer = {"authorization": f"Bearer {token}"}
            created = await post(router, NEW_POST, {"t": "before the freeze"}, headers=bearer)
            post_id = created.json()["data"]["createPost"]["post"]["id"]
            posts_url = str(edge.posts_url)

            os.kill(pid, signal.SIGSTOP)
            # a signed-in read through the router: the stored like count, no live counter
            read = await answered(post(router, READ, {"id": post_id}, headers=bearer))
            assert read.status_code == 200, read.text
            assert read.json() == {
                "data": {"post": {"id": post_id, "likeCount": 0, "viewerHasLiked": False}}
            }
            # a like: refused before anything is written, saying why
            liked = await answered(post(router, LIKE, {"id": post_id}, headers=bearer))
            codes = [e["extensions"]["code"] for e in liked.json().get("errors", [])]
            assert codes == ["SERVICE_UNAVAILABLE"], liked.text
            assert "Redis" in liked.json()["errors"][0]["message"]
            # a rate-limited request (anonymous, limited through the frozen Redis): the
            # router's documented fallback (local limits) answers it
            anonymous = await answered(post(router, ME))
            assert anonymous.status_code == 200, anonymous.text
            assert anonymous.json() == {"data": {"me": None}}
            # a signed-in read straight at the posts subgraph: its own revocation check
            # cannot read Redis and fails open (docs/privacy.md), as the router's does
            async with httpx.AsyncClient(timeout=60) as http:
                direct = await answered(
                    http.post(
                        posts_url + "/graphql",
                        json={"query": READ, "variables": {"id": post_id}},
                        headers=bearer,
                    )
                )
            assert direct.json()["data"]["post"]["id"] == post_id, direct.text

            os.kill(pid, signal.SIGCONT)

            async def likes() -> bool:
                body = (await post(router, LIKE, {"id": post_id}, headers=bearer)).json()
                return bool(
                    "errors" not in body and body["data"]["likePost"]["post"]["likeCount"] == 1
                )

            await until(likes, timeout=60, interval=0.5)
            again = await post(router, READ, {"id": post_id}, headers=bearer)
            assert again.json()["data"]["post"] == {
                "id": post_id,
                "likeCount": 1,
                "viewerHasLiked": True,
            }
            assert user_id
    finally:
        os.kill(pid, signal.SIGCONT)
        server.stop()
