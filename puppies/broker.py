"""A Redis pub/sub channel fanned out in-process to subscribers keyed by an integer.

One per process and channel: ONE Redis pub/sub connection, one listener task, any number
of subscribers, each with a bounded queue. A subscriber whose queue is full is dropped (its
stream ends with `SubscriberDropped`) instead of making the listener, or the other
subscribers, wait for it. A lost Redis connection is re-established with backoff; messages
published meanwhile are lost (live delivery is best effort: the data stays in the
database, where lists read it). `start()` tries Redis once: a process started while Redis
is down serves at once and subscribes in the background when Redis comes up.

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
from redis.asyncio.client import PubSub

from puppies.errors import PuppiesError

log = logging.getLogger(__name__)

T = TypeVar("T")
_DROPPED = object()
# start() tries Redis once for at most this long (a Redis that accepts and never answers
# must not hold the process's start-up); after that the listener retries in the background
FIRST_TRY_SECONDS = 2.0
# The listener's retries back off from 0.2 s to this: events published between Redis
# coming back and the resubscription reach nobody, so the wait is kept short (it was 5 s)
MAX_RETRY_SECONDS = 1.0


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
        """Subscribe, trying Redis once (for at most FIRST_TRY_SECONDS), without waiting for
        it: when Redis answers, the subscription is registered before the process serves,
        so no event published after start() is missed; when it does not (down, refusing,
        not answering), the process starts at once (its readiness says why) and the
        listener keeps retrying in the background, delivering once Redis is up."""
        if self._task is not None:
            return
        pubsub: PubSub | None = None
        try:
            pubsub = await asyncio.wait_for(self._subscribe(), FIRST_TRY_SECONDS)
        except Exception as exc:  # (TimeoutError included) the listener retries
            log.warning(
                "pub/sub %s: Redis unavailable at start-up (%s); subscribing in the background",
                self.channel,
                str(exc) or type(exc).__name__,
            )
        self._task = asyncio.create_task(self._listen(pubsub), name=f"broker:{self.channel}")

    @property
    def subscribed(self) -> bool:
        """The Redis subscription is registered (events published now are delivered)."""
        return self._ready.is_set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _subscribe(self) -> PubSub:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise
        self._ready.set()
        return pubsub

    async def _listen(self, pubsub: PubSub | None) -> None:
        """`pubsub`: the subscription start() made, or None to make one (with backoff)."""
        delay = 0.2
        try:
            while True:
                try:
                    if pubsub is None:
                        pubsub = await self._subscribe()
                    delay = 0.2
                    while True:
                        msg = await pubsub.get_message(timeout=5.0)
                        if msg is None or msg.get("type") != "message":
                            continue
                        self._dispatch(msg["data"])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._ready.clear()
                    log.warning("pub/sub %s lost (%s); resubscribing", self.channel, exc)
                    await self._close(pubsub)
                    pubsub = None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_SECONDS)
        finally:
            self._ready.clear()
            await self._close(pubsub)

    @staticmethod
    async def _close(pubsub: PubSub | None) -> None:
        if pubsub is not None:
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
