"""End to end with real processes: `puppies serve analytics` and `puppies worker`."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx

from models.outbox import Event
from puppies.embedded import free_port
from puppies.settings import Settings
from resolvers.analytics.domain import record_domain_event
from resolvers.posts.posts import create_post
from resolvers.runtime import Resources
from tests.support.servers import run_cli


async def test_served_subgraph_and_worker_turn_views_into_trending(
    clean: Settings, service_env: dict[str, str]
) -> None:
    res = Resources.open(clean)
    try:
        # real posts (trackEvents checks them), known to analytics before the worker runs
        first, second = [(await create_post(res, 5, "p", [])).post.id for _ in range(2)]
        for post in (first, second):
            await record_domain_event(
                res,
                Event(
                    id=f"posts:e2e{post}",
                    type="post.published",
                    schema="posts",
                    aggregate_id=post,
                    payload={"post_id": post, "author_id": 5},
                    occurred_at=datetime.now(UTC),
                ),
            )
    finally:
        await res.close()
    port, worker_port = free_port(), free_port()
    env = {**service_env, "ANALYTICS_TRENDING_CACHE_SECONDS": "1"}
    with (
        run_cli(["serve", "analytics", "--port", str(port)], env, port=port),
        # in use once its /health listens (the end of its start-up): the wait for trending
        # below is then for the roll-up and a refresh (0.2-1 s under CPU load), not for the
        # worker's imports and start-up, which under load took 5-9.4 s of the 20 s
        run_cli(["worker"], {**env, "WORKER_PORT": str(worker_port)}, port=worker_port),
    ):
        url = f"http://127.0.0.1:{port}/graphql"
        now = datetime.now(UTC).isoformat()
        events = [
            {
                "id": f"e{i}",
                "type": "POST_VIEW",
                "occurredAt": now,
                "postId": str(second) if i < 4 else str(first),
            }
            for i in range(6)
        ]
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.post(
                url,
                json={
                    "query": "mutation($e: [EventInput!]!) { trackEvents(events: $e) "
                    "{ accepted rejected } }",
                    "variables": {"e": events},
                },
            )
            assert r.json() == {"data": {"trackEvents": {"accepted": 6, "rejected": 0}}}
            deadline = time.monotonic() + 20
            while True:
                r = await client.post(
                    url, json={"query": "{ trendingPosts(window: HOUR, limit: 5) { id } }"}
                )
                ids = [p["id"] for p in r.json()["data"]["trendingPosts"]]
                if ids == [str(second), str(first)]:
                    break
                assert time.monotonic() < deadline, ids
                await asyncio.sleep(0.2)
            sdl = (await client.post(url, json={"query": "{ _service { sdl } }"})).json()
            assert "trackEvents(events: [EventInput!]!)" in sdl["data"]["_service"]["sdl"]
            health = await client.get(f"http://127.0.0.1:{port}/health?ready")
            assert (health.status_code, health.json()) == (200, {"status": "UP"})
