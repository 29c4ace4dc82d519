"""uvicorn's WebSocket protocol (websockets' sans-I/O one) without what it keeps of the
handshake once it is done.

uvicorn's ``WebSocketsSansIOProtocol`` keeps the upgrade request and its 101 response
(``Request``/``Response``, their ``Headers``: a dict and a list per header, ~40 objects the
garbage collector tracks) for the socket's whole life, and websockets' ``ServerProtocol``
keeps the request too, as a local of its parser generator (which, past the handshake, only
runs the frame parser it inherited). The router has one socket per WebSocket client, open
for as long as its subscriptions: every full collection walks these objects for every
socket (bench/router_gc.py). :class:`LeanWebSocketProtocol` drops them once the socket is
accepted; the ASGI scope (its headers) is what the app uses afterwards.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from graph.execution.subscriptions import drop_handshake_parser


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` WebSocket protocol that forgets the handshake once
    the socket is accepted (serve_router passes it as uvicorn's ``ws``)."""

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)
            drop_handshake_parser(self.conn)
