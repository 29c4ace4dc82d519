"""Automatic persisted queries shared by router processes through Redis
(`apq.router.cache.redis`): registered on one router, found by another."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from tests.graph.edge.stack import ME, Edge, Router, router_config


def apq_config(edge: Edge, redis_url: str) -> dict[str, Any]:
    config = router_config(edge.users_url, str(edge.settings.redis_url))
    config["apq"] = {
        "router": {"cache": {"redis": {"urls": [redis_url], "ttl": "1h", "timeout": "200ms"}}}
    }
    return config


async def by_hash(router: Router, digest: str, query: str | None = None) -> dict[str, Any]:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    body: dict[str, Any] = {"extensions": extensions}
    if query is not None:
        body["query"] = query
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(router.url + "/graphql", json=body)
    data: dict[str, Any] = response.json()
    return data


async def test_an_operation_registered_on_one_router_is_known_to_the_other(edge: Edge) -> None:
    config = apq_config(edge, str(edge.settings.redis_url))
    one, two = edge.start_router(config), edge.start_router(config)
    digest = hashlib.sha256(ME.encode()).hexdigest()
    unknown = await by_hash(two, digest)
    assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert await by_hash(one, digest, ME) == {"data": {"me": None}}  # registered on one
    assert await by_hash(two, digest) == {"data": {"me": None}}  # found by the other
    # over GET too (a cacheable URL), on the other router
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(
            two.url + "/graphql",
            params={"extensions": '{"persistedQuery":{"version":1,"sha256Hash":"' + digest + '"}}'},
        )
    assert response.json() == {"data": {"me": None}}


async def test_without_redis_each_router_keeps_its_own_store(edge: Edge) -> None:
    router = edge.start_router(apq_config(edge, "redis://127.0.0.1:1/0"))
    digest = hashlib.sha256(ME.encode()).hexdigest()
    missing = await by_hash(router, digest)
    assert missing["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert await by_hash(router, digest, ME) == {"data": {"me": None}}
    assert await by_hash(router, digest) == {"data": {"me": None}}  # the in-memory store
