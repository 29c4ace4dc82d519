"""Server-sent events (graphql-sse distinct connections mode) over real HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from graph.app import create_app
from graph.config import config_from_mapping
from tests.graph.serving.servers import ServerThread

STREAM = {"accept": "text/event-stream"}


async def read_events(response: httpx.Response) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    event, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data:"):
            data = line[len("data:") :].strip()
        elif line == "" and event:
            events.append((event, json.loads(data) if data else None))
            event, data = "", ""
    return events


async def test_query_streams_one_result(client: httpx.AsyncClient) -> None:
    async with client.stream(
        "POST", "/graphql", json={"query": "{ me { name } }"}, headers=STREAM
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        events = await read_events(response)
    assert events == [("next", {"data": {"me": {"name": "Ada"}}}), ("complete", None)]


async def test_subscription_streams_every_event(client: httpx.AsyncClient) -> None:
    async with client.stream(
        "POST",
        "/graphql",
        json={"query": "subscription ($n: Int!) { countdown(start: $n) }", "variables": {"n": 2}},
        headers={"accept": "text/event-stream, application/json;q=0.5"},
    ) as response:
        assert response.status_code == 200
        events = await read_events(response)
    assert events == [
        ("next", {"data": {"countdown": 2}}),
        ("next", {"data": {"countdown": 1}}),
        ("next", {"data": {"countdown": 0}}),
        ("complete", None),
    ]


async def test_subscription_with_json_and_event_stream_accepted(
    client: httpx.AsyncClient,
) -> None:
    # JSON preferred, but a subscription can only stream: it streams
    async with client.stream(
        "POST",
        "/graphql",
        json={"query": "subscription { countdown(start: 0) }"},
        headers={"accept": "application/json, text/event-stream"},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = await read_events(response)
    assert events == [("next", {"data": {"countdown": 0}}), ("complete", None)]


async def test_invalid_operation_is_a_json_error_not_a_stream(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "subscription { nope }"}, headers=STREAM
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_client_going_away_stops_the_subscription(
    client: httpx.AsyncClient,
) -> None:
    async with client.stream(
        "POST",
        "/graphql",
        json={"query": "subscription { countdown(start: 100000) }"},
        headers=STREAM,
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                break
    # the router notices the disconnect and ends the subscription
    for _ in range(50):
        metrics = (await client.get("/metrics")).text
        if "router_active_subscriptions 0" in metrics:
            break
        await asyncio.sleep(0.1)
    assert "router_active_subscriptions 0" in metrics


async def test_subscription_over_get_like_eventsource(client: httpx.AsyncClient) -> None:
    async with client.stream(
        "GET",
        "/graphql",
        params={"query": "subscription { countdown(start: 1) }"},
        headers=STREAM,
    ) as response:
        assert response.status_code == 200
        events = await read_events(response)
    assert events == [
        ("next", {"data": {"countdown": 1}}),
        ("next", {"data": {"countdown": 0}}),
        ("complete", None),
    ]


async def test_mutation_over_get_stays_405_with_a_stream(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={"query": 'mutation { rename(id: "3", name: "Eve") { name } }'},
        headers=STREAM,
    )
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_keepalive_comments_while_waiting(supergraph_sdl: str) -> None:
    def app() -> Any:
        router = create_app(supergraph_sdl, config_from_mapping({}))
        router.sse_keepalive = 0.05
        return router

    server = ServerThread(app, lifespan="on").start()
    try:
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=10) as http,
            http.stream(
                "POST", "/graphql", json={"query": "{ slow(seconds: 1) }"}, headers=STREAM
            ) as response,
        ):
            lines = [line async for line in response.aiter_lines()]
    finally:
        server.stop()
    first_event = lines.index("event: next")
    assert ":" in lines[:first_event]  # keep-alive comments came before the result
    assert lines[first_event + 1] == 'data: {"data":{"slow":"done"}}'
    assert "event: complete" in lines
