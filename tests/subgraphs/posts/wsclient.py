"""A minimal GraphQL WebSocket client for tests and benchmarks (both protocols)."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


class GraphQLWebSocket:
    def __init__(
        self, url: str, protocol: str = TRANSPORT_WS, init: dict[str, Any] | None = None
    ) -> None:
        """`init`: the connection_init payload (connection params, e.g. credentials)."""
        self.url = url.replace("http://", "ws://") + "/graphql"
        self.protocol = protocol
        self.init = init or {}
        self.ws: ClientConnection | None = None

    async def __aenter__(self) -> GraphQLWebSocket:
        self.ws = await connect(
            self.url,
            subprotocols=[self.protocol],  # type: ignore[list-item]
            max_queue=None,
            open_timeout=30,
        )
        await self.send({"type": "connection_init", "payload": self.init})
        while True:
            msg = await self.recv()
            if msg["type"] == "connection_ack":
                return self
            if msg["type"] not in ("ka",):
                raise AssertionError(f"unexpected {msg}")

    async def __aexit__(self, *exc: Any) -> None:
        assert self.ws is not None
        await self.ws.close()

    async def send(self, msg: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(msg))

    async def recv(self) -> dict[str, Any]:
        assert self.ws is not None
        while True:
            msg: dict[str, Any] = json.loads(await self.ws.recv())
            if msg["type"] in ("ka", "ping", "pong"):
                if msg["type"] == "ping":
                    await self.send({"type": "pong"})
                continue
            return msg

    async def subscribe(self, query: str, variables: dict[str, Any], op_id: str = "1") -> None:
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send(
            {"id": op_id, "type": kind, "payload": {"query": query, "variables": variables}}
        )

    async def next_payload(self) -> dict[str, Any]:
        """The next result (`data`/`errors`), or the protocol's error message; operations'
        `complete` messages are skipped."""
        msg = await self.recv()
        while msg["type"] == "complete":
            msg = await self.recv()
        if msg["type"] in ("next", "data"):
            payload: dict[str, Any] = msg["payload"]
            return payload
        if msg["type"] == "error":
            errors = msg["payload"]
            return {"errors": errors if isinstance(errors, list) else [errors]}
        return {"message": msg}
