"""What the posts resolvers need from the process: settings, database, Redis, S3.

The posts subgraph builds one at start-up from its Resources plus an S3 client; the worker
builds one from its own resources. Resolvers take it as their first argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from models.db import Database
from puppies.s3 import create_s3_client
from puppies.settings import Settings


@dataclass
class PostsDeps:
    settings: Settings
    db: Database
    redis: Redis
    s3: Any

    @classmethod
    def build(cls, settings: Settings, db: Database, redis: Redis, s3: Any = None) -> PostsDeps:
        return cls(settings=settings, db=db, redis=redis, s3=s3 or create_s3_client(settings))
