from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from models.db import Database
from puppies.redis import create_redis
from puppies.settings import Settings
from resolvers.posts.deps import PostsDeps


@pytest.fixture
async def deps(clean: Settings) -> AsyncIterator[PostsDeps]:
    db = Database(clean)
    redis = create_redis(clean)
    yield PostsDeps.build(clean, db, redis)
    await redis.aclose()
    await db.dispose()
