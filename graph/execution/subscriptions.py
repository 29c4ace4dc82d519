"""Subscriptions: forwarded to the subgraph that owns the root field over graphql-transport-ws;
every event then runs through the rest of the plan (entity fetches) and the shaper.

The client's credentials reach the subgraph as the upgrade request's headers (from the
``headers`` rules, exactly as for HTTP fetches; a WebSocket client's connection_init payload
counts as its headers, see graph/ws.py); the connection_init sent to the subgraph is empty.
A subgraph that refuses them (close 4403) gives the client an UNAUTHENTICATED error; a stream
that breaks before the subgraph completes it (the subgraph restarted, killed, the network)
ends with a SUBREQUEST_HTTP_ERROR, never with a `complete` that would look like its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from graph.execution.executor import HeadersFor
from graph.planning.plan import FetchNode, PlanNode, SequenceNode
from graph.plugins.subgraph_errors import format_subgraph_error

if TYPE_CHECKING:
    from graph.execution.gateway import Gateway, PreparedOperation

_PROTOCOL = "graphql-transport-ws"
# graphql-transport-ws: the server refused connection_init (its credentials)
_FORBIDDEN = 4403
_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


def split_subscription_plan(node: PlanNode | None) -> tuple[FetchNode | None, PlanNode | None]:
    """The subscription's root fetch, and what runs for each event after it."""
    if isinstance(node, FetchNode):
        return node, None
    if isinstance(node, SequenceNode) and isinstance(node.nodes[0], FetchNode):
        rest = node.nodes[1:]
        if not rest:
            return node.nodes[0], None
        return node.nodes[0], rest[0] if len(rest) == 1 else SequenceNode(rest)
    return None, None


def _ws_url(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


async def run_subscription(
    gateway: Gateway,
    prepared: PreparedOperation,
    variables: dict[str, Any],
    headers_for: HeadersFor | None,
) -> AsyncIterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    root, rest = split_subscription_plan(prepared.plan.node)
    if root is None:
        yield (
            {},
            [
                {
                    "message": "This subscription cannot be planned as one subgraph stream.",
                    "extensions": {"code": "QUERY_PLANNING_FAILED"},
                }
            ],
        )
        return
    client = gateway.clients[root.subgraph]
    headers = dict(headers_for(root.subgraph)) if headers_for is not None else {}
    payload: dict[str, Any] = {"query": root.operation}
    if root.variable_usages:
        payload["variables"] = {k: variables[k] for k in root.variable_usages if k in variables}
    timeout = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                _ws_url(client.url),
                protocols=(_PROTOCOL,),
                headers=headers,
                timeout=timeout,
                heartbeat=30,
            ) as ws,
        ):
            # graphql-transport-ws messages are text frames.
            await ws.send_str('{"type":"connection_init","payload":{}}')
            ack = await asyncio.wait_for(ws.receive(), timeout=client.timeout)
            if ack.type in _CLOSED and ws.close_code == _FORBIDDEN:
                yield {}, [_refused(root.subgraph)]
                return
            if (
                ack.type != aiohttp.WSMsgType.TEXT
                or orjson.loads(ack.data).get("type") != "connection_ack"
            ):
                raise aiohttp.ClientError("the subgraph did not acknowledge the connection")
            await ws.send_str(
                orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode()
            )
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                message = orjson.loads(msg.data)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send_str('{"type":"pong"}')
                elif kind == "next":
                    event = message.get("payload") or {}
                    raw = event.get("data")
                    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
                    errors = [
                        _event_error(root.subgraph, e, gateway) for e in event.get("errors") or ()
                    ]
                    more_errors: list[dict[str, Any]] = []
                    if rest is not None and data:
                        data, more_errors = await gateway.executor.run_node(
                            rest, variables, headers_for, data
                        )
                    yield data, errors + more_errors
                elif kind == "error":
                    yield (
                        {},
                        [
                            _event_error(root.subgraph, e, gateway)
                            for e in message.get("payload") or ()
                        ],
                    )
                    return
                elif kind == "complete":
                    return
            # The socket ended without the subgraph's `complete`: the subgraph went away
            # (killed, restarted, the network). Ending quietly would look like a stream
            # that finished; the client is told, so it can subscribe again.
            yield {}, [_broken(root.subgraph, ws.close_code)]
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        yield (
            {},
            [
                {
                    "message": f"subscription to '{root.subgraph}' failed: {exc}",
                    "extensions": {"code": "SUBREQUEST_HTTP_ERROR", "serviceName": root.subgraph},
                }
            ],
        )


def _broken(subgraph: str, close_code: int | None) -> dict[str, Any]:
    how = f"WebSocket close {close_code}" if close_code is not None else "connection lost"
    return {
        "message": f"subscription to '{subgraph}' failed: its stream ended before the "
        f"subgraph completed it ({how}); subscribe again",
        "extensions": {"code": "SUBREQUEST_HTTP_ERROR", "serviceName": subgraph},
    }


def _refused(subgraph: str) -> dict[str, Any]:
    return {
        "message": f"'{subgraph}' refused this subscription's credentials (WebSocket "
        "close 4403): send a valid Authorization in the connection_init "
        "payload or the upgrade request",
        "extensions": {"code": "UNAUTHENTICATED", "serviceName": subgraph},
    }


def _event_error(subgraph: str, e: Any, gateway: Gateway) -> dict[str, Any]:
    path = e.get("path") if isinstance(e, dict) and isinstance(e.get("path"), list) else None
    include = gateway.executor.include_errors.get(subgraph, False)
    return format_subgraph_error(subgraph, e, path, include)
