"""Live like events: published to Redis after commit, fanned out in-process to subscribers.

`publish_like` is called by the like/unlike resolvers after their transaction committed.
`LikeBroker` is one per process: the platform's keyed pub/sub broker (puppies/broker.py) on
the likes channel, keyed by post id. ONE Redis pub/sub connection subscribed to one channel,
shared by every subscriber of every post; each subscriber has a bounded queue, and a
subscriber whose queue is full is dropped (its stream ends with `SubscriberDropped`, code
`SUBSCRIBER_TOO_SLOW`) instead of making the broker, or the other subscribers, wait for it.
Without Redis the process still starts and serves reads; the broker keeps retrying and live
likes flow once Redis is back.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

from puppies.broker import KeyedBroker
from resolvers.posts.records import LikeChange, PostRecord

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


def _decode(data: bytes) -> tuple[int, LikeEvent]:
    m = orjson.loads(data)
    event = LikeEvent(
        post=PostRecord.from_snapshot(m["post"]),
        like_count=int(m["like_count"]),
        liked=bool(m["liked"]),
        user_id=int(m["user_id"]),
        published_at=float(m.get("at", 0.0)),
    )
    return event.post.id, event


class LikeBroker(KeyedBroker[LikeEvent]):
    """The likes channel's broker: ``subscribe(post_id)`` yields a subscriber whose
    ``items()`` are that post's `LikeEvent`s."""

    def __init__(self, redis: Redis, queue_size: int) -> None:
        super().__init__(redis, CHANNEL, _decode, queue_size)
