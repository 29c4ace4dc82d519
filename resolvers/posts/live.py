"""Live like events: published to Redis after commit, fanned out in-process to subscribers.

`publish_like` is called by the like/unlike resolvers after their transaction committed.
`LikeBroker` is one per process: ONE Redis pub/sub connection subscribed to one channel,
shared by every subscriber of every post; each subscriber has a bounded queue, and a
subscriber whose queue is full is dropped (it gets `SubscriberTooSlow`) instead of making
the broker, or the other subscribers, wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis

from resolvers.posts.errors import SubscriberTooSlow
from resolvers.posts.records import LikeChange, PostRecord

log = logging.getLogger(__name__)

CHANNEL = "puppies:posts:likes"


@dataclass(frozen=True)
class LikeEvent:
    post: PostRecord
    like_count: int
    liked: bool
    user_id: int
    published_at: float  # time.time() at publish, for latency measurements


COUNT_PLACEHOLDER = '"__LIKE_COUNT__"'


def like_message(change: LikeChange, published_at: float, *, placeholder: bool = False) -> bytes:
    """The pub/sub message; with `placeholder` the count is left for a Lua script to fill."""
    message = {
        "post": change.post.snapshot(),
        "like_count": "__LIKE_COUNT__" if placeholder else change.like_count,
        "liked": change.liked,
        "user_id": change.user_id,
        "at": published_at,
    }
    return orjson.dumps(message)


async def publish_like(redis: Redis, change: LikeChange, published_at: float) -> None:
    await redis.publish(CHANNEL, like_message(change, published_at))


def _decode(data: bytes) -> LikeEvent:
    m = orjson.loads(data)
    return LikeEvent(
        post=PostRecord.from_snapshot(m["post"]),
        like_count=int(m["like_count"]),
        liked=bool(m["liked"]),
        user_id=int(m["user_id"]),
        published_at=float(m.get("at", 0.0)),
    )


_DROPPED = object()


@dataclass(eq=False)
class Subscriber:
    post_id: int
    queue: asyncio.Queue[Any]
    dropped: bool = False

    async def events(self) -> AsyncIterator[LikeEvent]:
        while True:
            item = await self.queue.get()
            if item is _DROPPED:
                raise SubscriberTooSlow(
                    "this subscription fell too far behind and was closed; resubscribe"
                )
            yield item


@dataclass
class LikeBroker:
    redis: Redis
    queue_size: int
    _subs: dict[int, set[Subscriber]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    delivered: int = 0
    dropped: int = 0

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="like-broker")
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
                await pubsub.subscribe(CHANNEL)
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
                log.warning("like pub/sub connection lost (%s); resubscribing", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _dispatch(self, data: bytes) -> None:
        try:
            event = _decode(data)
        except Exception:
            log.warning("ignoring a malformed like event")
            return
        subs = self._subs.get(event.post.id)
        if not subs:
            return
        for sub in list(subs):
            try:
                sub.queue.put_nowait(event)
                self.delivered += 1
            except asyncio.QueueFull:
                self._drop(sub)

    def _drop(self, sub: Subscriber) -> None:
        sub.dropped = True
        self.dropped += 1
        self._remove(sub)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(_DROPPED)

    def _remove(self, sub: Subscriber) -> None:
        subs = self._subs.get(sub.post_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.post_id]

    @contextlib.asynccontextmanager
    async def subscribe(self, post_id: int) -> AsyncIterator[Subscriber]:
        sub = Subscriber(post_id=post_id, queue=asyncio.Queue(maxsize=self.queue_size))
        self._subs.setdefault(post_id, set()).add(sub)
        try:
            yield sub
        finally:
            self._remove(sub)
