"""Subscriptions over multipart HTTP (Apollo's multipart subscription protocol) through a real
router, with the serving tests' real Strawberry subgraphs: every part parsed as it arrives
(python-multipart, tests/support/incremental.py)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx

from tests.graph.serving.conftest import RouterFactory
from tests.support.incremental import MultipartParts, Part

APOLLO = 'multipart/mixed;boundary="graphql";subscriptionSpec="1.0", application/json'
COUNTDOWN = "subscription ($n: Int!) { countdown(start: $n) }"


async def subscribe(
    url: str, query: str, variables: Any = None, accept: str = APOLLO
) -> tuple[httpx.Response, list[Part]]:
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as http,
        http.stream(
            "POST",
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"accept": accept},
        ) as response,
    ):
        if response.status_code != 200:
            await response.aread()
            return response, []
        got = [p async for p in MultipartParts(response)]
    return response, got


def events(parts: list[Part]) -> list[Any]:
    return [p.body for p in parts if p.body != {}]


async def test_events_then_completion(router_url: str) -> None:
    response, parts = await subscribe(router_url, COUNTDOWN, {"n": 2})
    assert response.status_code == 200
    assert response.headers["content-type"] == (
        'multipart/mixed;boundary="graphql";subscriptionSpec="1.0"'
    )
    assert parts[0].body == {}  # a heartbeat right away: the subscription is open
    assert events(parts) == [
        {"payload": {"data": {"countdown": 2}}},
        {"payload": {"data": {"countdown": 1}}},
        {"payload": {"data": {"countdown": 0}}},
    ]
    assert parts[-1].body == {}  # completed: the last part, then the closing delimiter


async def test_a_subscription_that_fails_ends_with_a_payload_null_frame(router_url: str) -> None:
    # brokenTicker sends one event, then its generator raises: the subgraph ends the
    # subscription with an error, which is the last part (payload: null, errors), redacted
    # as include_subgraph_errors says, with its code
    _, parts = await subscribe(router_url, "subscription { brokenTicker }")
    assert events(parts) == [
        {"payload": {"data": {"brokenTicker": 1}}},
        {
            "payload": None,
            "errors": [
                {
                    "message": "Subgraph errors redacted",
                    "extensions": {"code": "DOWNSTREAM_SERVICE_ERROR"},
                }
            ],
        },
    ]
    assert parts[-1].body["payload"] is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_upstream_failure_is_a_payload_null_frame(start_router: RouterFactory) -> None:
    port = _closed_port()
    url = start_router({"override_subgraph_url": {"accounts": f"http://127.0.0.1:{port}/graphql"}})
    response, parts = await subscribe(url, COUNTDOWN, {"n": 1})
    assert response.status_code == 200
    assert parts[0].body == {}
    last = parts[-1].body
    assert last["payload"] is None
    assert last["errors"][0]["extensions"]["code"] == "SUBREQUEST_HTTP_ERROR"
    assert len(events(parts)) == 1  # nothing after it: the response ended


async def test_plain_multipart_gets_the_rfc_parts(router_url: str) -> None:
    _, parts = await subscribe(router_url, COUNTDOWN, {"n": 1}, accept="multipart/mixed")
    assert [p.body for p in parts] == [
        {"data": {"countdown": 1}, "hasNext": True},
        {"data": {"countdown": 0}, "hasNext": True},
        {"hasNext": False},
    ]


async def test_a_query_with_the_subscription_accept_is_plain_json(router_url: str) -> None:
    async with httpx.AsyncClient(base_url=router_url, timeout=30) as http:
        r = await http.post(
            "/graphql", json={"query": "{ me { name } }"}, headers={"accept": APOLLO}
        )
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"data": {"me": {"name": "Ada"}}}


async def test_client_going_away_stops_the_subgraph_subscription(router_url: str) -> None:
    async with (
        httpx.AsyncClient(base_url=router_url, timeout=30) as http,
        http.stream(
            "POST",
            "/graphql",
            json={"query": "subscription { countdown(start: 100000) }"},
            headers={"accept": APOLLO},
        ) as response,
    ):
        parts = MultipartParts(response)
        while not events([await anext(parts)]):
            pass
    # the router counts it as finished once the subgraph stream is closed
    async with httpx.AsyncClient(base_url=router_url, timeout=30) as http:
        for _ in range(100):
            metrics = (await http.get("/metrics")).text
            if "router_active_subscriptions 0" in metrics:
                break
            await asyncio.sleep(0.1)
    assert "router_active_subscriptions 0" in metrics
