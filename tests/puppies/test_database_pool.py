"""The connection pool keeps what a burst opened: the next burst opens no connection.

SQLAlchemy closes an overflow connection as soon as it is returned, so with overflow every
burst above the pool's size paid new PostgreSQL backends, asyncpg's type introspection and
every statement prepared again (bench/RESULTS.md, "PostgreSQL connections")."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, text

from models.db import Database
from puppies.settings import Settings

HOLD = text("SELECT true AS slept FROM pg_sleep(0.05)")


async def test_a_burst_s_connections_are_kept_for_the_next_burst(settings: Settings) -> None:
    defaults = Settings.model_fields
    size = defaults["db_pool_size"].default
    assert defaults["db_max_overflow"].default == 0
    db = Database(settings.model_copy(update={"db_pool_size": size, "db_max_overflow": 0}))
    opened = 0

    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(db.engine.sync_engine, "connect", count)
    try:

        async def burst() -> None:
            # more readers than connections: the rest wait for one instead of opening more
            answers = await asyncio.gather(*(db.rows(HOLD) for _ in range(size + 10)))
            assert [r.slept for rows in answers for r in rows] == [True] * (size + 10)

        await burst()
        assert 0 < opened <= size
        first = opened
        assert db.engine.pool.checkedin() == first  # type: ignore[attr-defined]
        await burst()
        assert opened == first  # nothing was closed, nothing opened again
    finally:
        await db.dispose()
