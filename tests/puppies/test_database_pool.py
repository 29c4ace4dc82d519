"""The connection pool keeps what a burst opened: the next burst opens no connection.

SQLAlchemy closes an overflow connection as soon as it is returned, so with overflow every
burst above the pool's size paid new PostgreSQL backends, asyncpg's type introspection and
every statement prepared again (bench/RESULTS.md, "PostgreSQL connections")."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import strawberry
from sqlalchemy import event, make_url, text

from models.db import Database
from puppies.embedded.base import free_port
from puppies.settings import Settings
from subgraphs.common import SubgraphSpec, build_schema, create_subgraph_app
from tests.support.servers import serve_asgi

HOLD = text("SELECT true AS slept FROM pg_sleep(0.05)")


def _connections_opened(db: Database) -> list[int]:
    """A counter (its one item) of the connections the pool opens from now on."""
    opened = [0]

    def count(*_: object) -> None:
        opened[0] += 1

    event.listen(db.engine.sync_engine, "connect", count)
    return opened


async def test_a_burst_s_connections_are_kept_for_the_next_burst(settings: Settings) -> None:
    defaults = Settings.model_fields
    size = defaults["db_pool_size"].default
    assert defaults["db_max_overflow"].default == 0
    db = Database(settings.model_copy(update={"db_pool_size": size, "db_max_overflow": 0}))
    opened = _connections_opened(db)
    try:

        async def burst() -> None:
            # more readers than connections: the rest wait for one instead of opening more
            answers = await asyncio.gather(*(db.rows(HOLD) for _ in range(size + 10)))
            assert [r.slept for rows in answers for r in rows] == [True] * (size + 10)

        await burst()
        assert 0 < opened[0] <= size
        first = opened[0]
        assert db.engine.pool.checkedin() == first  # type: ignore[attr-defined]
        await burst()
        assert opened[0] == first  # nothing was closed, nothing opened again
    finally:
        await db.dispose()


async def test_warm_opens_the_pool_to_its_size_and_a_burst_then_opens_nothing(
    settings: Settings,
) -> None:
    size = 6
    db = Database(settings.model_copy(update={"db_pool_size": size, "db_max_overflow": 0}))
    opened = _connections_opened(db)
    try:
        assert await db.warm() == size
        assert opened[0] == size
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        backends = await db.rows(
            text(
                "SELECT count(*) AS n FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        )
        assert backends[0].n >= size - 1  # PostgreSQL holds them (this one aside)
        answers = await asyncio.gather(*(db.rows(HOLD) for _ in range(size * 2)))
        assert len(answers) == size * 2
        assert opened[0] == size  # the burst found its connections open
        assert await db.warm() == size  # again: nothing more to open
        assert opened[0] == size
    finally:
        await db.dispose()


async def test_warm_is_best_effort_when_postgresql_does_not_answer(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert settings.database_url
    port = free_port()  # nothing listens there
    url = make_url(settings.database_url).set(port=port).render_as_string(hide_password=False)
    db = Database(settings.model_copy(update={"database_url": url, "db_pool_size": 3}))
    try:
        with caplog.at_level(logging.WARNING, logger="models.db"):
            assert await db.warm(timeout=5.0) == 0
        assert "opened 0 of 3 connections at start-up" in caplog.text
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await db.dispose()


@strawberry.type
class _Query:
    @strawberry.field
    def ok(self) -> bool:
        return True


async def test_a_subgraph_starts_with_its_pool_open_and_without_when_told_not_to(
    settings: Settings,
) -> None:
    spec = SubgraphSpec(
        name="pool", schema=build_schema(_Query), make_loaders=lambda resources, viewer: None
    )
    for prewarm, held in ((True, 4), (False, 0)):
        app = create_subgraph_app(
            spec, settings.model_copy(update={"db_pool_size": 4, "db_pool_prewarm": prewarm})
        )
        async with serve_asgi(app) as url, httpx.AsyncClient() as http:
            pool = app.state.resources.db.engine.pool
            assert pool.checkedin() == held
            r = await http.post(url + "/graphql", json={"query": "{ ok }"})
            assert r.json() == {"data": {"ok": True}}
