"""Fixtures for the analytics resolvers: a Database on the real, migrated PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from models.db import Database
from puppies.settings import Settings


@pytest.fixture
async def db(clean: Settings) -> AsyncIterator[Database]:
    database = Database(clean)
    try:
        yield database
    finally:
        await database.dispose()
