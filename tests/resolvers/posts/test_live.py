"""The like broker over real Redis pub/sub: shared listener, bounded queues, slow drop."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from puppies.broker import SubscriberDropped
from puppies.embedded.redis import EmbeddedRedis
from resolvers.posts.live import LikeBroker, publish_like
from resolvers.posts.records import LikeChange, PostRecord


def _change(post_id: int, count: int) -> LikeChange:
    from datetime import UTC, datetime

    rec = PostRecord(
        id=post_id,
        author_id=1,
        text="t",
        like_count=0,
        comment_count=0,
        created_at=datetime.now(UTC),
        published_at=datetime.now(UTC),
    )
    return LikeChange(post=rec, like_count=count, liked=True, changed=True, user_id=count)


async def test_one_pubsub_connection_serves_every_subscriber(res):
    broker = LikeBroker(res.redis, queue_size=10)
    await broker.start()
    try:
        async with broker.subscribe(1) as a, broker.subscribe(1) as b, broker.subscribe(2) as c:
            assert await res.redis.pubsub_numsub("puppies:posts:likes") == [
                (b"puppies:posts:likes", 1)
            ]
            await publish_like(res.redis, _change(1, 5), time.time())
            ea = await asyncio.wait_for(anext(a.items()), 5)
            eb = await asyncio.wait_for(anext(b.items()), 5)
            assert ea.like_count == eb.like_count == 5
            assert c.queue.empty()
    finally:
        await broker.stop()
    assert broker.subscriber_count == 0


async def test_a_slow_subscriber_is_dropped_and_the_others_keep_up(res):
    broker = LikeBroker(res.redis, queue_size=3)
    await broker.start()
    try:
        async with broker.subscribe(1) as slow, broker.subscribe(1) as fast:
            got = []

            async def read_fast() -> None:
                async for e in fast.items():
                    got.append(e.like_count)
                    if len(got) == 10:
                        return

            reader = asyncio.create_task(read_fast())
            for i in range(10):
                await publish_like(res.redis, _change(1, i), time.time())
                await asyncio.sleep(0.01)
            await asyncio.wait_for(reader, 5)
            assert got == list(range(10))
            assert broker.dropped == 1
            with pytest.raises(SubscriberDropped):
                async for _ in slow.items():
                    pass
    finally:
        await broker.stop()


async def test_start_tries_redis_once_then_subscribes_in_the_background(tmp_path):
    """A process started while Redis is down is not held up waiting for it (start() used to
    wait 10 s, retrying): start() makes one try and returns; the listener subscribes by
    itself once Redis is up, and delivers."""
    tries = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal tries
        tries += 1
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    broker = LikeBroker(redis, queue_size=10)
    try:
        await broker.start()
        assert tries == 1  # one try, and start() returned: no waiting for Redis
        assert not broker.subscribed
        server.close()
        await server.wait_closed()
        real = EmbeddedRedis(tmp_path / "redis", port, persist=False)
        await asyncio.to_thread(real.start)
        try:
            for _ in range(600):  # (the listener retries at least once a second)
                if broker.subscribed:
                    break
                await asyncio.sleep(0.1)
            assert broker.subscribed
            async with broker.subscribe(1) as sub:
                await publish_like(redis, _change(1, 3), time.time())
                event = await asyncio.wait_for(anext(sub.items()), 30)
            assert event.like_count == 3
        finally:
            await asyncio.to_thread(real.stop)
    finally:
        await broker.stop()
        await redis.aclose()
