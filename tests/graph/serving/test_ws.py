"""graphql-transport-ws at /graphql over a real WebSocket: the handshake, subscriptions
forwarded to the owning subgraph, queries, errors and the protocol's close codes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

from graph.app import create_app
from graph.config import config_from_mapping
from tests.graph.serving.conftest import DEV_CONFIG
from tests.graph.serving.servers import ServerThread
from tests.graph.serving.subgraphs import accounts_app, reviews_app, supergraph

PROTOCOL = Subprotocol("graphql-transport-ws")
INIT = json.dumps({"type": "connection_init"})


def ws_url(router_url: str) -> str:
    return router_url.replace("http://", "ws://") + "/graphql"


async def recv(ws: ClientConnection) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), timeout=10)
    data: dict[str, Any] = json.loads(message)
    return data


async def handshake(ws: ClientConnection, payload: dict[str, Any] | None = None) -> None:
    await ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
    assert await recv(ws) == {"type": "connection_ack"}


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as caught:
        for _ in range(10):
            await asyncio.wait_for(ws.recv(), timeout=10)
    frame = caught.value.rcvd
    assert frame is not None
    return frame.code, frame.reason


async def test_subscription_streams_from_the_subgraph(router_url: str) -> None:
    async with connect(ws_url(router_url), subprotocols=[PROTOCOL]) as ws:
        assert ws.subprotocol == PROTOCOL
        await handshake(ws)
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "s1",
                    "payload": {
                        "query": "subscription ($n: Int!) { countdown(start: $n) }",
                        "variables": {"n": 3},
                    },
                }
            )
        )
        values = []
        while True:
            message = await recv(ws)
            if message["type"] == "complete":
                assert message["id"] == "s1"
                break
            assert message["type"] == "next"
            assert message["id"] == "s1"
            values.append(message["payload"]["data"]["countdown"])
        assert values == [3, 2, 1, 0]


def closing_after(app: Any, events: int) -> Any:
    """`app`, whose WebSockets the server closes with 1012 (service restart, what a subgraph
    being restarted sends) after `events` `next` messages, without a `complete`."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await app(scope, receive, send)
            return
        sent = 0
        gone = asyncio.Event()

        async def send_then_close(message: dict[str, Any]) -> None:
            nonlocal sent
            if gone.is_set():
                return
            await send(message)
            if message["type"] == "websocket.send" and '"next"' in (message.get("text") or ""):
                sent += 1
                if sent == events:
                    await send({"type": "websocket.close", "code": 1012})
                    gone.set()

        inner = asyncio.ensure_future(app(scope, receive, send_then_close))
        stopped = asyncio.ensure_future(gone.wait())
        await asyncio.wait({inner, stopped}, return_when=asyncio.FIRST_COMPLETED)
        inner.cancel()
        stopped.cancel()

    return wrapped


async def test_a_subgraph_that_goes_away_ends_the_subscription_with_an_error() -> None:
    """The subgraph's stream breaks mid-way (it was restarted: close 1012, no `complete`):
    the client gets an `error` it can act on (subscribe again), not a `complete` that looks
    like the stream's normal end (which is what it got before). The events before it arrive
    whole and in order."""
    accounts = ServerThread(lambda: closing_after(accounts_app(), 3)).start()
    reviews = ServerThread(reviews_app).start()
    sdl = supergraph(f"{accounts.url}/graphql", f"{reviews.url}/graphql")
    router = ServerThread(
        lambda: create_app(sdl, config_from_mapping(DEV_CONFIG)), lifespan="on"
    ).start()
    try:
        async with connect(ws_url(router.url), subprotocols=[PROTOCOL]) as ws:
            await handshake(ws)
            query = "subscription { countdown(start: 1000) }"
            await ws.send(
                json.dumps({"type": "subscribe", "id": "s1", "payload": {"query": query}})
            )
            events = []
            while (message := await recv(ws))["type"] == "next":
                events.append(message["payload"])
            assert events == [{"data": {"countdown": n}} for n in (1000, 999, 998)]
            # graphql-transport-ws's `error` ends the operation (no `complete` after it)
            assert message["type"] == "error"
            assert message["id"] == "s1"
            [error] = message["payload"]
            assert error["extensions"] == {
                "code": "SUBREQUEST_HTTP_ERROR",
                "serviceName": "accounts",
            }
            assert (
                "ended before the subgraph completed it (WebSocket close 1012)"
                in (error["message"])
            )
            # the connection stays usable: the same query again runs (and breaks) the same way
            await ws.send(
                json.dumps({"type": "subscribe", "id": "s2", "payload": {"query": query}})
            )
            kinds = [(await recv(ws))["type"] for _ in range(4)]
            assert kinds == ["next", "next", "next", "error"]
    finally:
        router.stop()
        reviews.stop()
        accounts.stop()


async def test_query_and_mutation_over_websocket(router_url: str) -> None:
    async with connect(ws_url(router_url), subprotocols=[PROTOCOL]) as ws:
        await handshake(ws)
        await ws.send(
            json.dumps({"type": "subscribe", "id": "q", "payload": {"query": "{ me { name } }"}})
        )
        assert await recv(ws) == {
            "type": "next",
            "id": "q",
            "payload": {"data": {"me": {"name": "Ada"}}},
        }
        assert await recv(ws) == {"type": "complete", "id": "q"}


async def test_invalid_operation_gets_an_error_message(router_url: str) -> None:
    async with connect(ws_url(router_url), subprotocols=[PROTOCOL]) as ws:
        await handshake(ws)
        await ws.send(
            json.dumps(
                {"type": "subscribe", "id": "bad", "payload": {"query": "subscription { nope }"}}
            )
        )
        message = await recv(ws)
        assert message["type"] == "error"
        assert message["id"] == "bad"
        assert message["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        await ws.send(json.dumps({"type": "subscribe", "id": "p", "payload": {"query": 3}}))
        message = await recv(ws)
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
        # the connection is still usable
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}


async def test_client_complete_stops_a_subscription(router_url: str) -> None:
    async with connect(ws_url(router_url), subprotocols=[PROTOCOL]) as ws:
        await handshake(ws)
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "long",
                    "payload": {"query": "subscription { countdown(start: 100000) }"},
                }
            )
        )
        first = await recv(ws)
        assert first["type"] == "next"
        await ws.send(json.dumps({"type": "complete", "id": "long"}))
        # a new operation with the same id is accepted once the old one is gone
        await asyncio.sleep(0.1)
        await ws.send(
            json.dumps({"type": "subscribe", "id": "long", "payload": {"query": "{ __typename }"}})
        )
        seen = []
        while True:
            message = await recv(ws)
            seen.append(message["type"])
            if message["type"] == "complete" and message["id"] == "long":
                break
        assert seen[-2:] == ["next", "complete"]


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        (["not json"], 4400),
        ([json.dumps({"id": "x"})], 4400),
        ([json.dumps({"type": "bogus"})], 4400),
        (
            [json.dumps({"type": "subscribe", "id": "1", "payload": {"query": "{ me { id } }"}})],
            4401,
        ),
        ([json.dumps({"type": "connection_init"}), json.dumps({"type": "connection_init"})], 4429),
        ([json.dumps({"type": "connection_init", "payload": "token"})], 4400),
        ([INIT, json.dumps({"type": "subscribe", "payload": {"query": "{ me { id } }"}})], 4400),
        ([INIT, json.dumps({"type": "subscribe", "id": "", "payload": {"query": "{ x }"}})], 4400),
        ([INIT, json.dumps({"type": "subscribe", "id": "1", "payload": "{ me { id } }"})], 4400),
        ([INIT, json.dumps({"type": "complete", "id": 7})], 4400),
        ([INIT, json.dumps([1, 2])], 4400),
        (
            [
                json.dumps({"type": "connection_init"}),
                json.dumps(
                    {
                        "type": "subscribe",
                        "id": "d",
                        "payload": {"query": "subscription { countdown(start: 100000) }"},
                    }
                ),
                json.dumps(
                    {
                        "type": "subscribe",
                        "id": "d",
                        "payload": {"query": "subscription { countdown(start: 3) }"},
                    }
                ),
            ],
            4409,
        ),
    ],
)
async def test_protocol_violations_close_with_the_protocol_codes(
    router_url: str, messages: list[str], code: int
) -> None:
    async with connect(ws_url(router_url), subprotocols=[PROTOCOL]) as ws:
        for message in messages:
            await ws.send(message)
        got, _reason = await closed_with(ws)
        assert got == code


async def test_wrong_subprotocol_is_refused(router_url: str) -> None:
    # (the legacy "graphql-ws" is served too: tests/graph/serving/test_ws_legacy.py)
    async with connect(ws_url(router_url), subprotocols=[Subprotocol("graphql-sse")]) as ws:
        code, reason = await closed_with(ws)
    assert code == 4406
    assert PROTOCOL in reason


async def test_connection_init_timeout(router_url: str) -> None:
    async with connect(ws_url(router_url), subprotocols=[PROTOCOL]) as ws:
        code, _ = await closed_with(ws)
    assert code == 4408


async def test_connection_init_payload_is_propagated_as_headers(
    start_router: Any,
) -> None:
    rules = [{"propagate": {"named": "authorization"}}]
    url = start_router({"headers": {"all": {"request": rules}}})
    async with connect(ws_url(url), subprotocols=[PROTOCOL]) as ws:
        await handshake(ws, {"Authorization": "Bearer from-init"})
        await ws.send(
            json.dumps({"type": "subscribe", "id": "h", "payload": {"query": "{ headers }"}})
        )
        message = await recv(ws)
    assert message["type"] == "next"
    received = json.loads(message["payload"]["data"]["headers"])
    assert received["authorization"] == "Bearer from-init"


async def test_connection_init_headers_object_is_propagated_and_wins(
    start_router: Any,
) -> None:
    rules = [{"propagate": {"named": "authorization"}}, {"propagate": {"named": "x-api-key"}}]
    url = start_router({"headers": {"all": {"request": rules}}})
    async with connect(
        ws_url(url), subprotocols=[PROTOCOL], additional_headers={"x-api-key": "from-upgrade"}
    ) as ws:
        await handshake(
            ws,
            {
                "Authorization": "Bearer top-level",
                "x-api-key": "from-init",
                "headers": {"authorization": "Bearer nested", "x-unrelated": "Zoë"},
            },
        )
        await ws.send(
            json.dumps({"type": "subscribe", "id": "h", "payload": {"query": "{ headers }"}})
        )
        message = await recv(ws)
    assert message["type"] == "next"
    received = json.loads(message["payload"]["data"]["headers"])
    # the nested object wins over top-level keys, the payload over the upgrade request
    assert received["authorization"] == "Bearer nested"
    assert received["x-api-key"] == "from-init"


def test_websockets_version() -> None:
    assert int(websockets.__version__.split(".")[0]) >= 13


async def test_disallowed_browser_origin_is_refused(router_url: str) -> None:
    async with connect(
        ws_url(router_url), subprotocols=[PROTOCOL], origin=Origin("https://evil.example")
    ) as ws:
        code, reason = await closed_with(ws)
    assert code == 4403
    assert "origin" in reason
    async with connect(
        ws_url(router_url),
        subprotocols=[PROTOCOL],
        origin=Origin("https://studio.apollographql.com"),
    ) as ws:
        await handshake(ws)


async def test_a_page_the_router_served_may_open_a_websocket(router_url: str) -> None:
    """GraphiQL and /app are served by the router: their Origin is the router's own host,
    which no cors list needs to name; another port on the same host is another origin."""
    async with connect(
        ws_url(router_url), subprotocols=[PROTOCOL], origin=Origin(router_url)
    ) as ws:
        await handshake(ws)
    behind_tls_proxy = router_url.replace("http://", "https://")
    async with connect(
        ws_url(router_url), subprotocols=[PROTOCOL], origin=Origin(behind_tls_proxy)
    ) as ws:
        await handshake(ws)
    host, port = router_url.removeprefix("http://").rsplit(":", 1)
    other_port = f"http://{host}:{int(port) + 1}"
    async with connect(
        ws_url(router_url), subprotocols=[PROTOCOL], origin=Origin(other_port)
    ) as ws:
        code, _ = await closed_with(ws)
    assert code == 4403


async def test_completed_subscriptions_are_released(start_router: Any) -> None:
    router_url = start_router({})  # its own router: the gauges count only this test
    async with connect(ws_url(router_url), subprotocols=[PROTOCOL]) as ws:
        await handshake(ws)
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "a",
                    "payload": {"query": "subscription { countdown(start: 100000) }"},
                }
            )
        )
        assert (await recv(ws))["type"] == "next"
        await ws.send(json.dumps({"type": "complete", "id": "a"}))
        async with httpx.AsyncClient(base_url=router_url) as http:
            for _ in range(50):
                metrics = (await http.get("/metrics")).text
                if "router_active_subscriptions 0" in metrics:
                    break
                await asyncio.sleep(0.1)
        assert "router_active_subscriptions 0" in metrics
        assert "router_websocket_connections 1" in metrics
