"""The rate limiter's own connection to Redis: one pipelined connection per router process.

Why not redis-py's asyncio client (which the other stages use): per command it takes the
pool's lock, checks the pooled connection with a non-blocking read, wraps the send in
``asyncio.wait_for`` (a new task per command) and the read in a timeout. Measured on this
machine's quiet hours (bench/RESULTS.md, "Rate limits"): a PING through it costs 95-99 µs,
the same PING over a plain asyncio protocol 23-25 µs. The limiter makes one call per
request, so that difference is most of what rate limiting added to a request.

This connection is an ``asyncio.Protocol`` that writes each command as soon as it is asked
(so concurrent requests' commands share the connection, pipelined, without waiting for each
other) and matches replies to callers in order; replies are parsed by ``hiredis``. The
command encoding is RESP's (``*<n>`` then ``$<len>`` per argument). A call that has no reply
within ``timeout`` fails with ``TimeoutError`` and closes the connection (every call still
waiting on it fails too, so nobody waits twice); the next call connects again.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any, cast

import hiredis
from redis.connection import parse_url

from graph.deadline import Deadline


class RedisReplyError(Exception):
    """Redis answered a command with an error (``-ERR ...``, ``-NOSCRIPT ...``)."""


def encode(*args: bytes | str | int) -> bytes:
    """One command in RESP."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they are one
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            reply = self.reader.gets()
            if reply is False:
                return
            if not self.waiting:  # pragma: no cover - Redis never answers unasked
                continue
            future = self.waiting.popleft()
            if future.done():  # its caller gave up (the connection is closing anyway)
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(RedisReplyError(str(reply)))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionError("the connection to Redis closed")
        self.transport = None
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(ConnectionError(f"the connection to Redis closed: {exc}"))


class LimiterConnection:
    """Pipelined calls to one Redis (``redis://``, ``rediss://`` or ``unix://`` URL)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        options = parse_url(url)
        self._host: str = options.get("host") or "localhost"
        self._port: int = int(options.get("port") or 6379)
        self._path: str | None = options.get("path")
        self._tls = url.startswith("rediss://")
        self._db = int(options.get("db") or 0)
        self._username: str | None = options.get("username")
        self._password: str | None = options.get("password")
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        self.on_connect: list[bytes] = []  # commands sent first on every new connection

    async def call(self, *args: bytes | str | int) -> Any:
        return await self.send(encode(*args))

    async def send(self, command: bytes) -> Any:
        """Send one encoded command (``encode``) and wait for its reply: connecting (when
        needed) and the reply within ``timeout`` together."""
        protocol: _Protocol | None = None
        try:
            # asyncio.timeout's semantics at half its cost (graph/deadline.py)
            with Deadline(self.timeout):
                protocol = self._protocol
                if protocol is None or protocol.transport is None:
                    protocol = await self._connect()
                assert protocol.transport is not None
                future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                protocol.waiting.append(future)
                protocol.transport.write(command)
                return await future
        except TimeoutError:
            if protocol is not None:
                self._drop(protocol)
            raise

    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            protocol = self._protocol
            if protocol is not None and protocol.transport is not None:
                return protocol
            loop = asyncio.get_running_loop()
            # bounded by the caller's timeout (send)
            if self._path is not None:
                _, protocol = await loop.create_unix_connection(_Protocol, self._path)
            else:
                context = ssl.create_default_context() if self._tls else None
                _, protocol = await loop.create_connection(
                    _Protocol, self._host, self._port, ssl=context
                )
            try:
                for command in self._handshake():
                    assert protocol.transport is not None
                    future: asyncio.Future[Any] = loop.create_future()
                    protocol.waiting.append(future)
                    protocol.transport.write(command)
                    await future
            except BaseException:
                self._drop(protocol)
                raise
            self._protocol = protocol
            return protocol

    def _handshake(self) -> list[bytes]:
        commands = []
        if self._password is not None:
            if self._username:
                commands.append(encode("AUTH", self._username, self._password))
            else:
                commands.append(encode("AUTH", self._password))
        if self._db:
            commands.append(encode("SELECT", self._db))
        return commands + self.on_connect

    def _drop(self, protocol: _Protocol) -> None:
        if protocol.transport is not None:
            protocol.transport.abort()  # connection_lost fails whoever still waits
        if self._protocol is protocol:
            self._protocol = None

    async def aclose(self) -> None:
        if self._protocol is not None:
            self._drop(self._protocol)
