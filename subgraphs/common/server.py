"""The HTTP protocol a subgraph is served with (`puppies serve`): uvicorn's httptools one,
with a response's writes coalesced.

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, then its body on `http.response.body`: two writes, two system calls
and two TCP segments (the socket has TCP_NODELAY) for every response, which the router then
reads, often with two wake-ups. Here what is written to the connection during one turn of
the event loop is handed to the socket once, at the end of that turn (`loop.call_soon`):
a response sent in one go (every GraphQL response) leaves as one write; a streamed one
(a multipart subscription) still has its headers and each part on the wire within the turn
that wrote them. 64 KiB pending are handed over at once (the transport's flow control sees
large bodies as before). Closing the connection hands over what is pending first; aborting
it drops it, as the transport drops its own buffer. Everything else is uvicorn's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# pending bytes handed to the transport at once, without waiting for the end of the turn:
# what the transport's write buffer limits (flow control: `pause_writing`) should see
FLUSH_AT = 64 * 1024


class CoalescingTransport:
    """`transport`, whose `write`s within one loop turn go to it as one (see the module
    docstring); every other attribute is the transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._size = 0
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._size += len(data)
        if self._size >= FLUSH_AT:  # large: to the transport now (its flow control acts)
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Hand what was written to the transport (a no-op once it is closing: what it
        still had was written before `close`)."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        if self._transport.is_closing():
            return
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(p) for p in self._pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
