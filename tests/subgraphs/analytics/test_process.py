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
from resolvers.runtime import Resources
from tests.support.servers import run_cli


async def test_served_subgraph_and_worker_turn_views_into_trending(
    clean: Settings, service_env: dict[str, str]
) -> None:
    res = Resources.open(clean)
    try:
        for post in (31, 32):
            await record_domain_event(
                res,
                Event(
                    id=f"posts:e2e{post}",
                    type="post.created",
                    schema="posts",
                    aggregate_id=post,
                    payload={"post_id": post, "author_id": 5},
                    occurred_at=datetime.now(UTC),
                ),
            )
    finally:
        await res.close()
    port = free_port()
    env = {**service_env, "ANALYTICS_TRENDING_CACHE_SECONDS": "1"}
    with (
        run_cli(["serve", "analytics", "--port", str(port)], env, port=port),
        run_cli(["worker"], env),
    ):
        url = f"http://127.0.0.1:{port}/graphql"
        now = datetime.now(UTC).isoformat()
        events = [
            {
                "id": f"e{i}",
                "type": "POST_VIEW",
                "occurredAt": now,
                "postId": "32" if i < 4 else "31",
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
                if ids == ["32", "31"]:
                    break
                assert time.monotonic() < deadline, ids
                await asyncio.sleep(0.2)
            sdl = (await client.post(url, json={"query": "{ _service { sdl } }"})).json()
            assert "trackEvents(events: [EventInput!]!)" in sdl["data"]["_service"]["sdl"]
            health = await client.get(f"http://127.0.0.1:{port}/health")
            assert health.json()["subgraph"] == "analytics"
