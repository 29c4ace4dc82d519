"""GraphQL over WebSocket at the GraphQL path: the graphql-transport-ws protocol (the
``graphql-ws`` library's), and the legacy ``graphql-ws`` subprotocol of
subscriptions-transport-ws for older clients, chosen by the offered subprotocol.

One :class:`Connection` per socket: ``connection_init`` -> ``connection_ack``, then any number
of ``subscribe`` messages, each run through the request pipeline as its own task (a
subscription streams ``next`` messages, a query or mutation sends one), ended by ``complete``
from either side. Protocol violations close the socket with the protocol's close codes
(4400, 4401, 4406, 4408, 4409, 4429); a browser origin that ``cors`` does not allow is closed
with 4403, and so is a request the pipeline refuses as unauthenticated (401), and a socket
running operations whose credential is refused when checked again (every
``CREDENTIAL_RECHECK`` seconds: an account revoked, a token expired). String values
in the ``connection_init`` payload (and in a nested ``headers`` object) are treated as
request headers (credentials, header propagation), since browsers cannot set headers on a
WebSocket.

:class:`LegacyConnection` speaks subscriptions-transport-ws over the same pipeline: ``start``
/ ``stop`` for ``subscribe`` / ``complete``, ``data`` for ``next``, a ``ka`` keep-alive after
the ``connection_ack`` and every ``keepalive`` seconds, ``connection_terminate`` closing the
socket (1000), refused credentials answered with ``connection_error`` and close 4403, and
every result whole (no incremental parts: its clients do not know them).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

import orjson

from graph.http import INCREMENTAL_V02, GraphQLParams, HttpError, params_from_mapping
from graph.serving.pipeline import INCREMENTAL, Response
from graph.serving.request import WEBSOCKET, RawHeaders, RouterRequest
from graph.serving.transports import PipelineSource, Receive, Scope, Send, peer

logger = logging.getLogger("graph.ws")

PROTOCOL = "graphql-transport-ws"
LEGACY_PROTOCOL = "graphql-ws"  # subscriptions-transport-ws
INIT_TIMEOUT = 3.0
LEGACY_KEEPALIVE = 12.0
# While a socket runs operations, its credential goes through the connect hooks again this
# often: a subscription of an account revoked since (or of a token expired since) ends with
# 4403 within this time instead of streaming for as long as the socket stays open
CREDENTIAL_RECHECK = 5.0


def _header_entries(source: dict[str, Any]) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    for key, value in source.items():
        if not (isinstance(key, str) and isinstance(value, str)):
            continue
        try:
            out[key.lower().encode("latin-1")] = value.encode("latin-1")
        except UnicodeEncodeError:  # not something an HTTP header can carry
            continue
    return out


def merge_init_headers(
    headers: list[tuple[bytes, bytes]], payload: dict[str, Any]
) -> list[tuple[bytes, bytes]]:
    """The upgrade request's headers with the connection_init payload's string entries
    (``{"Authorization": "Bearer ..."}``) and those of a nested ``headers`` object
    (``{"headers": {"authorization": ...}}``, which wins) as headers; a name given in
    the payload replaces the upgrade request's header of that name."""
    given = _header_entries(payload)
    nested = payload.get("headers")
    if isinstance(nested, dict):
        given.update(_header_entries(nested))
    kept = [(name, value) for name, value in headers if name not in given]
    return kept + list(given.items())


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class GraphQLTransportWS:
    """Serves graphql-transport-ws connections at the GraphQL path."""

    def __init__(
        self,
        source: PipelineSource,
        init_timeout: float = INIT_TIMEOUT,
        legacy_keepalive: float = LEGACY_KEEPALIVE,
    ) -> None:
        self.source = source
        self.init_timeout = init_timeout
        self.legacy_keepalive = legacy_keepalive  # seconds between `ka` messages (graphql-ws)
        # one timer rechecks the credential of every socket running operations
        self.rechecks = Rechecks(CREDENTIAL_RECHECK)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        offered = scope.get("subprotocols") or []
        if PROTOCOL in offered:
            protocol = PROTOCOL
        elif LEGACY_PROTOCOL in offered:
            protocol = LEGACY_PROTOCOL
        else:
            await self._refuse(
                send,
                4406,
                f"Subprotocol not acceptable: use {PROTOCOL} (or the legacy {LEGACY_PROTOCOL})",
                None,
            )
            return
        pipeline = self.source()
        origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        if (
            origin is not None
            and not _same_origin(scope, origin)
            and not pipeline.cors.origin_allowed(origin)
        ):
            # browsers send Origin on every WebSocket and apply no CORS to it: refuse origins
            # that cors does not allow, so no other site can use a visitor's connection
            # (a page the router served itself, the IDE or /app, is the router's own origin)
            await self._refuse(send, 4403, "Forbidden: this origin is not allowed (cors)", protocol)
            return
        await send({"type": "websocket.accept", "subprotocol": protocol})
        metrics = pipeline.metrics
        metrics.websocket_connections.inc()
        try:
            if protocol == PROTOCOL:
                await Connection(
                    self.source, scope, receive, send, self.init_timeout, self.rechecks
                ).run()
            else:
                await LegacyConnection(
                    self.source,
                    scope,
                    receive,
                    send,
                    self.init_timeout,
                    self.legacy_keepalive,
                    self.rechecks,
                ).run()
        finally:
            metrics.websocket_connections.dec()

    @staticmethod
    async def _refuse(send: Send, code: int, reason: str, subprotocol: str | None) -> None:
        # accept first: a close code and reason can only be sent on an open WebSocket
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        await send({"type": "websocket.close", "code": code, "reason": reason})


class Rechecks:
    """The credential recheck of every acknowledged socket on one timer: every ``interval``
    seconds each socket running operations has its credential checked again
    (:meth:`Connection.recheck`), one after the other, instead of a sleeping task per
    socket. The timer runs only while sockets are registered."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.connections: dict[Connection, None] = {}  # in the order they came
        self._task: asyncio.Task[None] | None = None

    def add(self, connection: Connection) -> None:
        self.connections[connection] = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def discard(self, connection: Connection) -> None:
        self.connections.pop(connection, None)
        if not self.connections and self._task is not None:
            self._task.cancel()  # no socket left: no timer (add starts one again)
            self._task = None

    async def _run(self) -> None:
        while self.connections:
            await asyncio.sleep(self.interval)
            for connection in list(self.connections):
                if connection.closed:
                    self.discard(connection)
                elif connection.operations:
                    try:
                        await connection.recheck()
                    except Exception:  # pragma: no cover - connect answers failures itself
                        logger.exception("rechecking a connection's credential failed")


class Connection:
    """One graphql-transport-ws socket."""

    NEXT = "next"  # a result
    INCREMENTAL: str | None = INCREMENTAL_V02  # the format of @defer parts (None: whole)

    def __init__(
        self,
        source: PipelineSource,
        scope: Scope,
        receive: Receive,
        send: Send,
        init_timeout: float,
        rechecks: Rechecks | None = None,
    ) -> None:
        self.source = source
        self.scope = scope
        self.receive = receive
        self._send = send
        self.init_timeout = init_timeout
        self.acknowledged = False
        self.init_received = False
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.headers: RawHeaders = list(scope["headers"])
        self.closed = False
        self.send_lock = asyncio.Lock()
        self.rechecks = rechecks  # None: the credential is checked once, at connection_init
        # the client's address as the pipeline determines it (plugins/client_ip.py), by pipeline
        self._client_ip: tuple[object, str | None] | None = None
        self._init_timer: asyncio.TimerHandle | None = None  # until connection_init

    async def send_json(self, payload: dict[str, Any]) -> None:
        if self.closed:
            return
        async with self.send_lock:
            try:
                await self._send({"type": "websocket.send", "text": orjson.dumps(payload).decode()})
            except OSError:  # the client went away (uvicorn raises ClientDisconnected)
                self.closed = True

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        async with self.send_lock:
            with contextlib.suppress(OSError):
                await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def run(self) -> None:
        # dropped at connection_init (init): a timer kept for the socket's life is four more
        # objects per socket for every full garbage collection to walk
        self._init_timer = asyncio.get_running_loop().call_later(
            self.init_timeout, lambda: asyncio.ensure_future(self._init_timeout())
        )
        try:
            while True:
                message = await self.receive()
                if message["type"] == "websocket.disconnect":
                    self.closed = True
                    return
                if message["type"] != "websocket.receive":
                    continue
                raw = message.get("text")
                if raw is None:
                    raw = message.get("bytes") or b""
                try:
                    await self.handle(raw)
                except _Close as close:
                    await self.close(close.code, close.reason)
                    return
                if self.closed:
                    return
        finally:
            self._stop_init_timer()
            if self.rechecks is not None:
                self.rechecks.discard(self)
            for task in list(self.operations.values()):
                task.cancel()
            for task in list(self.operations.values()):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _stop_init_timer(self) -> None:
        if self._init_timer is not None:
            self._init_timer.cancel()
            self._init_timer = None

    async def _init_timeout(self) -> None:
        if not self.init_received:
            await self.close(4408, "Connection initialisation timeout")

    async def handle(self, raw: str | bytes) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Close(4400, "Invalid message received: not JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise _Close(4400, "Invalid message received: no 'type'")
        kind = message["type"]
        if kind == "connection_init":
            await self.init(message)
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "pong":
            return
        elif kind == "subscribe":
            self.start(message, kind)
        elif kind == "complete":
            self.stop(message, kind)
        else:
            raise _Close(4400, f"Invalid message received: unknown type {kind!r}")

    async def init(self, message: dict[str, Any]) -> None:
        """`connection_init`: its payload's credentials go through the pipeline's connect
        hooks (authentication) before the `connection_ack`."""
        if self.init_received:
            raise _Close(4429, "Too many initialisation requests")
        self.init_received = True
        self._stop_init_timer()
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            raise _Close(4400, "Invalid message received: payload must be an object")
        self.headers = merge_init_headers(self.headers, payload or {})
        refusal = await self._connect()
        if refusal is not None:
            await self.refused(refusal)
            code = 4403 if refusal.status in (401, 403) else 4500
            raise _Close(code, "Forbidden: " + _first_message(refusal.body))
        self.acknowledged = True
        await self.send_json({"type": "connection_ack"})
        if self.rechecks is not None:
            self.rechecks.add(self)

    async def _connect(self) -> Response | None:
        """The connection's credential through the pipeline's connect hooks (authentication):
        None when it may go on, else the refusal."""
        pipeline = self.source()
        cached = self._client_ip
        if cached is not None and cached[0] is pipeline:
            client_ip = cached[1]
        else:  # the first check, or the pipeline was reloaded since
            client_ip = pipeline.client_address.of(peer(self.scope), self.scope["headers"])
            self._client_ip = (pipeline, client_ip)
        connection = RouterRequest(
            WEBSOCKET,
            GraphQLParams(None, None, None, None),
            self.headers,
            pipeline.gateway,
            method="WS",
            client_ip=client_ip,
            stream_ok=True,
        )
        return await pipeline.connect(connection)

    async def recheck(self) -> None:
        """The credential checked again while operations run (``Rechecks``, every
        ``CREDENTIAL_RECHECK`` seconds): one refused now (an account revoked, a token expired,
        an API key revoked) closes the socket with 4403 and ends its operations, as a new
        operation on it would be. A check that cannot be made (503: the JWKS or key service
        down) leaves the socket open."""
        refusal = await self._connect()
        if refusal is not None and refusal.status == 401 and not self.closed:
            await self.close(4403, "Forbidden: " + _first_message(refusal.body))
            for task in list(self.operations.values()):
                task.cancel()

    async def refused(self, refusal: Response) -> None:
        """Before the socket is closed for refused credentials (graphql-ws says why)."""

    def start(self, message: dict[str, Any], kind: str) -> None:
        if not self.acknowledged:
            raise _Close(4401, "Unauthorized")
        op_id = message.get("id")
        if not isinstance(op_id, str) or not op_id:
            raise _Close(4400, f"Invalid message received: {kind} needs a string 'id'")
        payload = message.get("payload")
        if not isinstance(payload, dict):
            raise _Close(4400, f"Invalid message received: {kind} needs a payload object")
        if op_id in self.operations:
            raise _Close(4409, f"Subscriber for {op_id} already exists")
        task = asyncio.create_task(self.operate(op_id, payload))
        self.operations[op_id] = task
        task.add_done_callback(functools.partial(self._forget, op_id))

    def stop(self, message: dict[str, Any], kind: str) -> None:
        op_id = message.get("id")
        if not isinstance(op_id, str):
            raise _Close(4400, f"Invalid message received: {kind} needs a string 'id'")
        running = self.operations.pop(op_id, None)
        if running is not None:
            running.cancel()

    def _forget(self, op_id: str, task: asyncio.Task[None]) -> None:
        if self.operations.get(op_id) is task:
            del self.operations[op_id]

    async def send_error(self, op_id: str, errors: list[Any]) -> None:
        await self.send_json({"type": "error", "id": op_id, "payload": errors})

    async def operate(self, op_id: str, payload: dict[str, Any]) -> None:
        try:
            await self._operate(op_id, payload)
        except Exception:  # the pipeline answers failures itself; this is a last resort
            logger.exception("operation %s failed", op_id)
            await self.send_error(
                op_id,
                [
                    {
                        "message": "The router failed to run this operation.",
                        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                    }
                ],
            )

    async def _operate(self, op_id: str, payload: dict[str, Any]) -> None:
        pipeline = self.source()  # one pipeline (and gateway) for the whole operation
        try:
            params = params_from_mapping(payload)
        except HttpError as error:
            refusal = pipeline.refuse(WEBSOCKET, self.headers, error, "WS")
            await self.send_error(op_id, refusal.body["errors"])
            return
        request = RouterRequest(
            WEBSOCKET,
            params,
            self.headers,
            pipeline.gateway,
            method="WS",
            client_ip=pipeline.client_address.of(peer(self.scope), self.scope["headers"]),
            stream_ok=True,
            incremental=self.INCREMENTAL,  # each part of a @defer response is a `next`
        )
        outcome = await pipeline.run(request)
        if isinstance(outcome, Response):
            if outcome.status == 401:  # the connection's credential is no longer good
                await self.close(4403, "Forbidden: " + _first_message(outcome.body))
                return
            if outcome.refused or "data" not in outcome.body:
                await self.send_error(op_id, outcome.body.get("errors") or [])
                return
            await self.send_json({"type": self.NEXT, "id": op_id, "payload": outcome.body})
        else:
            parts = outcome.kind == INCREMENTAL  # later parts have no "data" of their own
            async with contextlib.aclosing(outcome.events) as events:
                async for body in events:
                    if "data" not in body and not parts:
                        await self.send_error(op_id, body.get("errors") or [])
                        return
                    await self.send_json({"type": self.NEXT, "id": op_id, "payload": body})
        await self.send_json({"type": "complete", "id": op_id})


class LegacyConnection(Connection):
    """One socket of the legacy ``graphql-ws`` subprotocol (subscriptions-transport-ws)."""

    NEXT = "data"
    INCREMENTAL = None  # its clients know no incremental parts: @defer is answered whole

    def __init__(
        self,
        source: PipelineSource,
        scope: Scope,
        receive: Receive,
        send: Send,
        init_timeout: float,
        keepalive: float,
        rechecks: Rechecks | None = None,
    ) -> None:
        super().__init__(source, scope, receive, send, init_timeout, rechecks)
        self.keepalive = keepalive
        self._keepalive: asyncio.Task[None] | None = None

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            if self._keepalive is not None:
                self._keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._keepalive

    async def handle(self, raw: str | bytes) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Close(4400, "Invalid message received: not JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise _Close(4400, "Invalid message received: no 'type'")
        kind = message["type"]
        if kind == "connection_init":
            await self.init(message)
            await self.send_json({"type": "ka"})
            self._keepalive = asyncio.create_task(self._keep_alive())
        elif kind == "start":
            self.start(message, kind)
        elif kind == "stop":
            self.stop(message, kind)
        elif kind == "connection_terminate":
            raise _Close(1000, "Terminated by the client")
        else:
            raise _Close(4400, f"Invalid message received: unknown type {kind!r}")

    async def refused(self, refusal: Response) -> None:
        payload: dict[str, Any] = {"message": _first_message(refusal.body)}
        errors = refusal.body.get("errors") or [{}]
        if isinstance(errors[0].get("extensions"), dict):
            payload["extensions"] = errors[0]["extensions"]  # the code, as HTTP answers it
        await self.send_json({"type": "connection_error", "payload": payload})

    async def _keep_alive(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.keepalive)
            await self.send_json({"type": "ka"})


def _first_message(body: dict[str, Any]) -> str:
    errors = body.get("errors") or [{}]
    return str(errors[0].get("message", "unauthenticated"))[:100]


def _same_origin(scope: Scope, origin: bytes) -> bool:
    """Whether ``Origin`` names the host the socket was opened to (host and port: behind a
    TLS-terminating proxy the page is https while the socket reaches us as ws)."""
    host = next((v for k, v in scope["headers"] if k == b"host"), None)
    if not host:
        return False
    _, separator, netloc = origin.partition(b"://")
    return bool(separator) and netloc.lower() == host.lower()
