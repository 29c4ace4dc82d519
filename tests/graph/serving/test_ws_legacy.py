"""The legacy `graphql-ws` subprotocol (subscriptions-transport-ws, older Apollo clients) at
/graphql over a real WebSocket, through the same pipeline as graphql-transport-ws."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from graph.app import create_app
from graph.config import config_from_mapping
from tests.graph.serving.servers import ServerThread
from tests.graph.serving.test_ws import closed_with, ws_url

LEGACY = Subprotocol("graphql-ws")
COUNTDOWN = {"query": "subscription ($n: Int!) { countdown(start: $n) }", "variables": {"n": 2}}


async def recv(ws: ClientConnection, skip_ka: bool = True) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if not (skip_ka and message["type"] == "ka"):
            return message


async def init(ws: ClientConnection, payload: dict[str, Any] | None = None) -> None:
    await ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
    assert await recv(ws, skip_ka=False) == {"type": "connection_ack"}
    assert await recv(ws, skip_ka=False) == {"type": "ka"}


async def test_subscription_query_and_stop(router_url: str) -> None:
    async with connect(ws_url(router_url), subprotocols=[LEGACY]) as ws:
        assert ws.subprotocol == LEGACY
        await init(ws)
        await ws.send(json.dumps({"type": "start", "id": "1", "payload": COUNTDOWN}))
        got = [await recv(ws) for _ in range(4)]
        assert got == [
            {"type": "data", "id": "1", "payload": {"data": {"countdown": 2}}},
            {"type": "data", "id": "1", "payload": {"data": {"countdown": 1}}},
            {"type": "data", "id": "1", "payload": {"data": {"countdown": 0}}},
            {"type": "complete", "id": "1"},
        ]
        await ws.send(
            json.dumps({"type": "start", "id": "2", "payload": {"query": "{ me { name } }"}})
        )
        me = {"data": {"me": {"name": "Ada"}}}
        assert await recv(ws) == {"type": "data", "id": "2", "payload": me}
        assert await recv(ws) == {"type": "complete", "id": "2"}
        # stop ends a running subscription; the connection stays usable
        long = {"query": "subscription { countdown(start: 100000) }"}
        await ws.send(json.dumps({"type": "start", "id": "3", "payload": long}))
        assert (await recv(ws))["type"] == "data"
        await ws.send(json.dumps({"type": "stop", "id": "3"}))
        await ws.send(
            json.dumps({"type": "start", "id": "4", "payload": {"query": "{ me { name } }"}})
        )
        while (message := await recv(ws))["id"] == "3":
            assert message["type"] == "data"
        assert message == {"type": "data", "id": "4", "payload": me}
        await ws.send(json.dumps({"type": "connection_terminate"}))
        assert (await closed_with(ws))[0] == 1000


async def test_errors_and_deferred_fragments_come_whole(router_url: str) -> None:
    async with connect(ws_url(router_url), subprotocols=[LEGACY]) as ws:
        await init(ws)
        await ws.send(json.dumps({"type": "start", "id": "1", "payload": {"query": "{ nope }"}}))
        error = await recv(ws)
        assert error["type"] == "error" and error["id"] == "1"
        assert error["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        deferred = {"query": "{ me { name ... @defer { friends { name } } } }"}
        await ws.send(json.dumps({"type": "start", "id": "2", "payload": deferred}))
        data = await recv(ws)
        assert data == {
            "type": "data",
            "id": "2",
            "payload": {
                "data": {"me": {"name": "Ada", "friends": [{"name": "Grace"}, {"name": "Linus"}]}}
            },
        }
        assert await recv(ws) == {"type": "complete", "id": "2"}


async def test_protocol_violations_close_the_socket(router_url: str) -> None:
    async with connect(ws_url(router_url), subprotocols=[LEGACY]) as ws:
        await ws.send(json.dumps({"type": "start", "id": "1", "payload": COUNTDOWN}))
        assert await closed_with(ws) == (4401, "Unauthorized")
    async with connect(ws_url(router_url), subprotocols=[LEGACY]) as ws:
        await init(ws)
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": COUNTDOWN}))
        code, reason = await closed_with(ws)
        assert code == 4400 and "unknown type 'subscribe'" in reason
    async with connect(ws_url(router_url), subprotocols=[Subprotocol("other")]) as ws:
        code, reason = await closed_with(ws)
        assert code == 4406 and "graphql-transport-ws" in reason and "graphql-ws" in reason


async def test_keepalive_messages_while_idle(supergraph_sdl: str) -> None:
    def app() -> Any:
        router = create_app(supergraph_sdl, config_from_mapping({}))
        router.ws.legacy_keepalive = 0.05
        return router

    server = ServerThread(app, lifespan="on").start()
    try:
        async with connect(ws_url(server.url), subprotocols=[LEGACY]) as ws:
            await init(ws)
            for _ in range(3):  # more `ka` keep coming while nothing else happens
                assert await recv(ws, skip_ka=False) == {"type": "ka"}
    finally:
        server.stop()
