"""The per-process handles every resolver takes: settings, database, Redis, S3.

The one resolver convention: every domain's public resolver functions take a `Resources`
as their first argument (`resolvers.posts.posts.create_post(res, ...)`,
`resolvers.feed.fanout.fan_out_post(res, ...)`, ...). It is opened once per process (a
subgraph's lifespan, the worker's startup, a CLI command) and passed down; helpers that
compose SQL into the caller's transaction take that `AsyncSession` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from models.db import Database
from puppies.redis import create_redis
from puppies.s3 import create_s3_client
from puppies.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class Resources:
    settings: Settings
    db: Database
    redis: Redis
    # boto3's client is made on first use: most processes never touch S3, and making one
    # loads botocore's service model (~100 ms).
    _s3: S3Client | None = field(default=None, repr=False)
    _owns_redis: bool = field(default=True, repr=False)

    @classmethod
    def open(
        cls, settings: Settings, *, redis: Redis | None = None, s3: S3Client | None = None
    ) -> Resources:
        """Open the process's handles. A `redis` passed in (e.g. arq's own connection in
        the worker) stays its owner's to close."""
        return cls(
            settings=settings,
            db=Database(settings),
            redis=redis if redis is not None else create_redis(settings),
            _s3=s3,
            _owns_redis=redis is None,
        )

    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
            self._s3 = create_s3_client(self.settings)
        return self._s3

    async def close(self) -> None:
        if self._owns_redis:
            await self.redis.aclose()
        await self.db.dispose()
