"""A Redis pub/sub channel fanned out in-process to subscribers keyed by an integer.

One per process and channel: ONE Redis pub/sub connection, one listener task, any number
of subscribers, each with a bounded queue. A subscriber whose queue is full is dropped (its
stream ends with `SubscriberDropped`) instead of making the listener, or the other
subscribers, wait for it. A lost Redis connection is re-established with backoff; messages
published meanwhile are lost (live delivery is best effort: the data stays in the
database, where lists read it).

    broker = KeyedBroker(redis, "puppies:users:notifications", decode, queue_size=100)
    await broker.start()
    async with broker.subscribe(user_id) as sub:
        async for item in sub.items(): ...

`decode(bytes) -> (key, item)` turns a message into the key it is for and what the
subscribers of that key receive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis

from puppies.errors import PuppiesError

log = logging.getLogger(__name__)

T = TypeVar("T")
_DROPPED = object()


class SubscriberDropped(PuppiesError):
    """The subscriber fell too far behind and was closed; it should resubscribe."""

    code = "SUBSCRIBER_TOO_SLOW"


@dataclass(eq=False)
class KeyedSubscriber(Generic[T]):
    key: int
    queue: asyncio.Queue[Any]

    async def items(self) -> AsyncIterator[T]:
        while True:
            item = await self.queue.get()
            if item is _DROPPED:
                raise SubscriberDropped(
                    "this subscription fell too far behind and was closed; resubscribe"
                )
            yield item


@dataclass
class KeyedBroker(Generic[T]):
    redis: Redis
    channel: str
    decode: Callable[[bytes], tuple[int, T]]
    queue_size: int = 100
    delivered: int = 0
    dropped: int = 0
    _subs: dict[int, set[KeyedSubscriber[T]]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def start(self) -> None:
        """Subscribe, waiting up to 10 s for Redis; without Redis the process still starts
        (its readiness says why) and the listener keeps retrying in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name=f"broker:{self.channel}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                delay = 0.2
                while True:
                    msg = await pubsub.get_message(timeout=5.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    self._dispatch(msg["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("pub/sub %s lost (%s); resubscribing", self.channel, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _dispatch(self, data: bytes) -> None:
        try:
            key, item = self.decode(data)
        except Exception:
            log.warning("ignoring a malformed message on %s", self.channel)
            return
        for sub in list(self._subs.get(key, ())):
            try:
                sub.queue.put_nowait(item)
                self.delivered += 1
            except asyncio.QueueFull:
                self._drop(sub)

    def _drop(self, sub: KeyedSubscriber[T]) -> None:
        self.dropped += 1
        self._remove(sub)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(_DROPPED)

    def _remove(self, sub: KeyedSubscriber[T]) -> None:
        subs = self._subs.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.key]

    @contextlib.asynccontextmanager
    async def subscribe(self, key: int) -> AsyncIterator[KeyedSubscriber[T]]:
        sub: KeyedSubscriber[T] = KeyedSubscriber(key, asyncio.Queue(maxsize=self.queue_size))
        self._subs.setdefault(key, set()).add(sub)
        try:
            yield sub
        finally:
            self._remove(sub)
