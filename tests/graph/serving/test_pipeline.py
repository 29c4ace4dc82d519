"""The one request pipeline: every policy holds the same way over HTTP, server-sent events
and graphql-transport-ws (real routers, real subgraphs, real connections), and a stage
plugged into the pipeline sees every transport through the same hooks."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from graph.app import RouterApp, create_app
from graph.config import config_from_mapping
from graph.http import HttpError
from graph.serving.pipeline import Pipeline, build_stages
from graph.serving.request import RouterRequest
from graph.serving.stage import Stage
from tests.graph.serving.servers import ServerThread
from tests.graph.serving.test_sse import STREAM, read_events
from tests.graph.serving.test_ws import PROTOCOL, handshake, recv, ws_url


async def over_http(url: str, query: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/graphql", json={"query": query})
    return response.status_code, response.json()


async def over_sse(url: str, query: str) -> tuple[int, list[tuple[str, Any]] | dict[str, Any]]:
    """(status, events) for a stream, (status, JSON body) for a refusal before the stream."""
    async with (
        httpx.AsyncClient(base_url=url, timeout=10) as http,
        http.stream("POST", "/graphql", json={"query": query}, headers=STREAM) as response,
    ):
        if response.headers["content-type"].startswith("text/event-stream"):
            return response.status_code, await read_events(response)
        await response.aread()
        return response.status_code, response.json()


async def over_ws(url: str, query: str) -> list[dict[str, Any]]:
    """Every message for one operation, up to its complete or error."""
    async with connect(ws_url(url), subprotocols=[PROTOCOL]) as ws:
        await handshake(ws)
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": query}}))
        messages = []
        while True:
            message = await recv(ws)
            messages.append(message)
            if message["type"] in ("complete", "error"):
                return messages


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [e["extensions"]["code"] for e in errors]


async def test_router_timeout_on_every_transport(start_router: Callable[..., str]) -> None:
    # a generous timeout (a quick operation takes milliseconds) and a far slower operation:
    # a loaded machine can neither time out the quick one nor let the slow one answer
    url = start_router({"traffic_shaping": {"router": {"timeout": "2s"}}})
    slow = "{ slow(seconds: 20) }"
    status, body = await over_http(url, slow)
    assert status == 504
    assert codes(body["errors"]) == ["GATEWAY_TIMEOUT"]
    status, events = await over_sse(url, slow)
    assert status == 200
    assert isinstance(events, list)
    assert events[0][0] == "next"
    assert codes(events[0][1]["errors"]) == ["GATEWAY_TIMEOUT"]
    messages = await over_ws(url, slow)
    assert messages[-1]["type"] == "error"
    assert codes(messages[-1]["payload"]) == ["GATEWAY_TIMEOUT"]
    # and a quick operation passes on each
    assert (await over_http(url, "{ slow(seconds: 0) }"))[1] == {"data": {"slow": "done"}}


async def test_global_rate_limit_on_every_transport(start_router: Callable[..., str]) -> None:
    url = start_router(
        {"traffic_shaping": {"router": {"global_rate_limit": {"capacity": 3, "interval": "1m"}}}}
    )
    query = "{ me { name } }"
    assert (await over_http(url, query))[0] == 200
    status, events = await over_sse(url, query)
    assert status == 200
    assert events == [("next", {"data": {"me": {"name": "Ada"}}}), ("complete", None)]
    assert [m["type"] for m in await over_ws(url, query)] == ["next", "complete"]
    status, body = await over_http(url, query)
    assert status == 429
    assert codes(body["errors"]) == ["REQUEST_RATE_LIMITED"]
    status, refused = await over_sse(url, query)
    assert status == 429  # refused before the stream starts: a JSON answer
    assert isinstance(refused, dict)
    assert codes(refused["errors"]) == ["REQUEST_RATE_LIMITED"]
    messages = await over_ws(url, query)
    assert messages[-1]["type"] == "error"
    assert codes(messages[-1]["payload"]) == ["REQUEST_RATE_LIMITED"]


def error_count(metrics: str, code: str) -> int:
    found = re.search(rf'router_graphql_errors_total{{code="{code}"}} (\d+)', metrics)
    return int(found.group(1)) if found else 0


async def test_error_metrics_count_every_transport(start_router: Callable[..., str]) -> None:
    # no quick operation to let through here: a short timeout, against a far slower operation
    url = start_router({"traffic_shaping": {"router": {"timeout": "300ms"}}})
    await over_http(url, "{ nope }")
    await over_sse(url, "{ nope }")
    await over_ws(url, "{ nope }")
    await over_ws(url, "{ slow(seconds: 20) }")
    await over_sse(url, "{ slow(seconds: 20) }")
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
        metrics = (await http.get("/metrics")).text
    assert error_count(metrics, "GRAPHQL_VALIDATION_FAILED") == 3
    assert error_count(metrics, "GATEWAY_TIMEOUT") == 2
    assert error_count(metrics, "BAD_REQUEST") == 1
    assert 'router_operations_total{type="query"}' in metrics


async def test_subscription_errors_are_redacted_as_fetch_errors(
    start_router: Callable[..., str],
) -> None:
    redacting = start_router({})
    including = start_router({"include_subgraph_errors": {"all": True}})
    for url, shown in ((redacting, False), (including, True)):
        messages = await over_ws(url, "subscription { brokenTicker }")
        assert messages[0] == {"type": "next", "id": "1", "payload": {"data": {"brokenTicker": 1}}}
        errors: list[dict[str, Any]] = []
        for message in messages[1:]:
            payload = message.get("payload")
            errors += payload if isinstance(payload, list) else (payload or {}).get("errors", [])
        assert errors, messages
        text = json.dumps(errors)
        assert ("secret internal detail" in text) is shown
        if not shown:
            assert errors[0]["message"] == "Subgraph errors redacted"
        _status, events = await over_sse(url, "subscription { brokenTicker }")
        assert ("secret internal detail" in json.dumps(events)) is shown


class Recorder(Stage):
    """Records the hooks it sees; refuses operations named Refused; adds a subgraph header."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def on_request(self, request: RouterRequest) -> None:
        self.seen.append((request.transport, "on_request"))

    async def on_operation(self, request: RouterRequest) -> None:
        self.seen.append((request.transport, "on_operation"))
        assert request.prepared is not None
        name = request.prepared.operation.name
        if name is not None and name.value == "Refused":
            raise HttpError(403, "refused by the recorder", "RECORDER_SAYS_NO")
        request.response_headers.append((b"x-recorded", b"yes"))
        request.extensions["recorded"] = True

    def subgraph_headers(
        self, request: RouterRequest, subgraph: str, headers: dict[str, str]
    ) -> None:
        self.seen.append((request.transport, "subgraph_headers"))
        headers["x-from-stage"] = request.transport

    def on_response(self, request: RouterRequest, body: dict[str, Any], status: int | None) -> None:
        self.seen.append((request.transport, "on_response"))

    def on_end(self, request: RouterRequest) -> None:
        self.seen.append((request.transport, "on_end"))


@pytest.fixture
def recorded(supergraph_sdl: str) -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    def app() -> RouterApp:
        config = config_from_mapping({})
        router = create_app(supergraph_sdl, config)
        stages = [*build_stages(config, router.gateway, router.metrics), recorder]
        router.pipeline = Pipeline(config, router.gateway, router.metrics, stages)
        return router

    server = ServerThread(app, lifespan="on").start()
    yield server.url, recorder
    server.stop()


HOOKS = ["on_request", "on_operation", "subgraph_headers", "on_response", "on_end"]


async def test_a_stage_sees_every_transport_through_the_same_hooks(
    recorded: tuple[str, Recorder],
) -> None:
    url, recorder = recorded
    query = "{ headers }"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/graphql", json={"query": query})
    assert response.headers["x-recorded"] == "yes"
    body = response.json()
    assert body["extensions"] == {"recorded": True}
    assert json.loads(body["data"]["headers"])["x-from-stage"] == "http"
    _status, events = await over_sse(url, query)
    assert isinstance(events, list)
    assert json.loads(events[0][1]["data"]["headers"])["x-from-stage"] == "sse"
    messages = await over_ws(url, query)
    assert json.loads(messages[0]["payload"]["data"]["headers"])["x-from-stage"] == "websocket"
    for transport in ("http", "sse", "websocket"):
        hooks = [hook for t, hook in recorder.seen if t == transport]
        # subgraph_headers runs once per subgraph (at most), the others once per request
        assert [h for i, h in enumerate(hooks) if i == 0 or hooks[i - 1] != h] == HOOKS
        assert hooks.count("subgraph_headers") <= 2


async def test_a_stage_refuses_the_same_way_on_every_transport(
    recorded: tuple[str, Recorder],
) -> None:
    url, recorder = recorded
    query = "query Refused { me { name } }"
    status, body = await over_http(url, query)
    assert (status, codes(body["errors"])) == (403, ["RECORDER_SAYS_NO"])
    status, refused = await over_sse(url, query)
    assert isinstance(refused, dict)
    assert (status, codes(refused["errors"])) == (403, ["RECORDER_SAYS_NO"])
    messages = await over_ws(url, query)
    assert messages == [
        {
            "type": "error",
            "id": "1",
            "payload": [
                {"message": "refused by the recorder", "extensions": {"code": "RECORDER_SAYS_NO"}}
            ],
        }
    ]
    for transport in ("http", "sse", "websocket"):
        assert [hook for t, hook in recorder.seen if t == transport] == [
            "on_request",
            "on_operation",
            "on_response",
            "on_end",
        ]
