"""End to end through the router: real router, subgraph and worker processes, the session's
shared stack (`running`, tests/support/shared_stack.py); each test makes its own accounts, so
tests never see each other's data. The client is tests/support/client.py's `Api`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.client import Api
from tests.support.stack import RunningStack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def api(running: RunningStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=60) as http:
        yield Api(running, http)
