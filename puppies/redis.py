"""Redis clients (redis-py asyncio), one pool per process."""

from __future__ import annotations

from redis.asyncio import Redis

from puppies.settings import Settings


def create_redis(settings: Settings, *, decode_responses: bool = False) -> Redis:
    if settings.redis_url is None:
        raise ValueError("REDIS_URL is not set")
    return Redis.from_url(
        settings.redis_url,
        decode_responses=decode_responses,
        health_check_interval=30,
        socket_keepalive=True,
    )
