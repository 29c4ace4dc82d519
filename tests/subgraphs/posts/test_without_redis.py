"""The posts subgraph starts and serves reads while Redis is down; its live-like broker
(the platform's, puppies/broker.py) keeps retrying, and likes flow to subscribers once Redis
is up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from puppies.auth.keys import KeyRing
from puppies.auth.tokens import LocalKeys
from puppies.embedded import free_port
from puppies.embedded.redis import EmbeddedRedis
from puppies.settings import Settings
from subgraphs.posts.app import create_app
from tests.subgraphs.posts.conftest import PostsClient
from tests.subgraphs.posts.test_likes_api import LIKE, POST, new_post
from tests.subgraphs.posts.test_subscriptions import SUB, _subscribed
from tests.subgraphs.posts.wsclient import TRANSPORT_WS, GraphQLWebSocket
from tests.support.polling import eventually
from tests.support.servers import serve_asgi


async def test_starts_and_reads_without_redis_and_live_likes_flow_once_it_is_up(
    posts_api: PostsClient, clean: Settings, tmp_path: Path
) -> None:
    pid = await new_post(posts_api, t="written while Redis was up")  # (the shared Redis)
    port = free_port()  # nothing listens here yet
    settings = clean.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    ring = KeyRing(settings.keys_dir).load()
    app = create_app(settings, key_source=lambda resources: LocalKeys(ring))
    async with serve_asgi(app) as url, httpx.AsyncClient(timeout=30) as http:
        api = PostsClient(url=url, http=http, keyring=ring, settings=settings, app=app)
        read = await api.data(POST, {"id": pid})  # (a signed-in one checks Redis for revocations)
        assert read["post"] == {
            "id": pid,
            "likeCount": 0,
            "viewerHasLiked": False,
            "commentCount": 0,
        }
        assert (await http.get(url + "/health?ready")).status_code == 503
        assert (await http.get(url + "/health")).status_code == 200
        broker = app.state.like_broker
        assert broker.subscriber_count == 0

        redis = EmbeddedRedis(tmp_path / "redis", port, persist=False)
        redis.start()
        try:

            async def listening() -> bool:
                numsub = await app.state.like_broker.redis.pubsub_numsub("puppies:posts:likes")
                return bool(numsub and numsub[0][1] == 1)

            await eventually(listening, timeout=60)  # the broker resubscribed by itself
            async with GraphQLWebSocket(url, TRANSPORT_WS) as ws:
                await ws.subscribe(SUB, {"id": pid})
                await _subscribed(api)
                liked = await api.data(LIKE, {"id": pid}, user=7)
                assert liked["likePost"]["post"]["likeCount"] == 1
                event = await asyncio.wait_for(ws.next_payload(), 30)
            assert event["data"]["postLikeChanged"]["userId"] == "7"
            assert event["data"]["postLikeChanged"]["likeCount"] == 1
            assert event["data"]["postLikeChanged"]["liked"] is True

            async def ready() -> bool:
                return (await http.get(url + "/health?ready")).status_code == 200

            await eventually(ready, timeout=30)
        finally:
            redis.stop()


async def test_revocations_fail_open_while_redis_is_down(
    posts_api: PostsClient, clean: Settings
) -> None:
    """Reached directly, the subgraph checks revoked subjects itself: refused while Redis
    says so; accepted (as at the router) while Redis cannot answer, instead of the HTTP 500
    that building the request's context used to end in."""
    pid = await new_post(posts_api, t="read by a signed-in viewer")
    redis = posts_api.app.state.resources.redis
    await redis.zadd(clean.revoked_subjects_key, {"9": time.time() + 60})
    refused = await posts_api.gql(POST, {"id": pid}, user=9)
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["UNAUTHENTICATED"]
    assert "revoked" in refused["errors"][0]["message"]

    settings = clean.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    ring = KeyRing(settings.keys_dir).load()
    app = create_app(settings, key_source=lambda resources: LocalKeys(ring))
    async with serve_asgi(app) as url, httpx.AsyncClient(timeout=30) as http:
        api = PostsClient(url=url, http=http, keyring=ring, settings=settings, app=app)
        for user in (7, 9):  # 9's revocation cannot be read: accepted, as at the router
            read = await api.data(POST, {"id": pid}, user=user)
            assert read["post"]["id"] == pid
            assert read["post"]["viewerHasLiked"] is False
