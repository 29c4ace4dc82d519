from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from puppies.settings import Settings
from tests.resolvers.feed.world import World


@pytest.fixture
async def world(clean: Settings) -> AsyncIterator[World]:
    w = World(clean.model_copy(update={"feed_vip_threshold": 3, "feed_trim_every": 1}))
    try:
        yield w
    finally:
        await w.close()
