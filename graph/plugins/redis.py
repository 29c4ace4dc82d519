"""``redis``: the Redis the router shares between its processes, and its connections.

The shape is Apollo Router's ``redis`` block (``urls``, ``timeout``, ``namespace``), used
wherever a stage keeps state that every router process must see: API-key revocations,
rate limits and quotas, automatic persisted queries. The router talks to Redis with
redis-py directly (graph/ imports nothing of the platform's packages), except the rate
limits, which have a pipelined connection of their own (graph/rate_limits/connection.py).
"""

from __future__ import annotations

from pydantic import Field, field_validator
from redis.asyncio import Redis

from graph.plugins.base import Duration, StrictModel


class RedisConfig(StrictModel):
    """Where the shared state lives: ``urls`` (the first is used), ``timeout`` per command."""

    urls: list[str] = Field(min_length=1)
    timeout: Duration = 0.5
    namespace: str = "router"

    @field_validator("urls")
    @classmethod
    def _redis_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"{url!r} is not a redis://, rediss:// or unix:// URL")
        return urls


class RedisConnections:
    """One client per Redis URL for a pipeline (stages sharing a URL share the client)."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, float], Redis] = {}

    def client(self, config: RedisConfig) -> Redis:
        key = (config.urls[0], config.timeout)
        found = self._clients.get(key)
        if found is None:
            found = self._clients[key] = Redis.from_url(
                config.urls[0],
                socket_timeout=config.timeout,
                socket_connect_timeout=config.timeout,
                health_check_interval=30,
            )
        return found

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
