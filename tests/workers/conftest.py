"""Fixtures shared by the worker tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from puppies.settings import Settings


@pytest.fixture
async def pool(clean: Settings) -> AsyncIterator[ArqRedis]:
    """An arq connection to the test Redis (emptied by `clean`)."""
    assert clean.redis_url
    redis = await create_pool(RedisSettings.from_dsn(clean.redis_url))
    yield redis
    await redis.aclose()
