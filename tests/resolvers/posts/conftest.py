from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from puppies.settings import Settings
from resolvers.runtime import Resources


@pytest.fixture
async def res(clean: Settings) -> AsyncIterator[Resources]:
    resources = Resources.open(clean)
    try:
        yield resources
    finally:
        await resources.close()
