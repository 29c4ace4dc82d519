"""The per-process handles every resolver needs: settings, database, Redis.

Opened once per process (a subgraph's lifespan, a worker's startup) and passed down.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from models.db import Database
from puppies.redis import create_redis
from puppies.settings import Settings


@dataclass
class Resources:
    settings: Settings
    db: Database
    redis: Redis

    @classmethod
    def open(cls, settings: Settings) -> Resources:
        return cls(settings=settings, db=Database(settings), redis=create_redis(settings))

    async def close(self) -> None:
        await self.redis.aclose()
        await self.db.dispose()
