"""Redis clients (redis-py asyncio), one pool per process."""

from __future__ import annotations

from redis.asyncio import Redis

from puppies.settings import Settings


def create_redis(settings: Settings, *, decode_responses: bool = False) -> Redis:
    """The process's client. Every command has `redis_socket_timeout_seconds` for its reply
    and a new connection `redis_connect_timeout_seconds`: a frozen Redis fails a call with
    `redis.exceptions.TimeoutError` (a `RedisError`, as a refused connection is) instead
    of hanging it. Pub/sub reads pass a timeout of their own (`get_message(timeout=...)`),
    which wins over the socket timeout, so an idle subscription stays open."""
    if settings.redis_url is None:
        raise ValueError("REDIS_URL is not set")
    return Redis.from_url(
        settings.redis_url,
        decode_responses=decode_responses,
        socket_timeout=settings.redis_socket_timeout_seconds,
        socket_connect_timeout=settings.redis_connect_timeout_seconds,
        health_check_interval=30,
        socket_keepalive=True,
    )
