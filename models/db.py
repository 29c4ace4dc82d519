"""Engine, sessions and the declarative base. One PostgreSQL schema per domain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy.ext.asyncio
from sqlalchemy import Executable, MetaData, Row, event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from puppies.settings import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DOMAIN_SCHEMAS = ("users", "posts", "feed", "analytics")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.database_url is None:
        raise ValueError("DATABASE_URL is not set")
    # looked up at call time: with tracing on, OpenTelemetry's instrumentation has wrapped
    # it (puppies/observability/tracing.py) and the engine's SQL gets spans
    engine = sqlalchemy.ext.asyncio.create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # no round trip per checkout: `_closed_by_the_server` catches what a restart closes
        pool_pre_ping=False,
        echo=settings.db_echo,
    )
    event.listen(engine.sync_engine, "checkout", _closed_by_the_server)
    return engine


def _closed_by_the_server(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection PostgreSQL has closed (a restart, a fail-over, a terminated
    backend) is replaced before it is handed out. PostgreSQL says goodbye on the socket and
    asyncpg marks the connection closed, so this is a look at local state, not the round
    trip `pool_pre_ping` costs on every checkout (bench/RESULTS.md, "Faults"). Without it
    the pool learnt of each dead connection by failing a request with it. A connection that
    died silently (a network partition) is still found by its first failed use, which
    invalidates the whole pool (SQLAlchemy's disconnect handling)."""
    connection = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(connection, "is_closed", None)
    if is_closed is not None and is_closed():
        raise exc.DisconnectionError("PostgreSQL closed this pooled connection")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class Database:
    """An engine and its sessionmaker, owned by one process and closed at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessionmaker = create_sessionmaker(self.engine)
        # The same pool in autocommit: no BEGIN before and no ROLLBACK after a statement.
        self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.read_sessionmaker = create_sessionmaker(self.autocommit)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for ONE read-only statement, in autocommit: a statement sees one
        snapshot anyway, and this saves the two round trips (BEGIN, ROLLBACK) a session
        spends around it, in the process and in PostgreSQL (bench/RESULTS.md, "Mixed
        workload"). Never for writes or for several statements that must agree."""
        async with self.read_sessionmaker() as session:
            yield session

    async def rows(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        """The rows of ONE read-only Core statement, in autocommit on a plain connection:
        `read()` without the ORM session around it. For the per-request DataLoaders' reads,
        whose rows become records at once (a `text()` statement built once, its ids as one
        array: one prepared statement whatever their number; bench/RESULTS.md, session 19:
        0.74 ms of CPU per 20 posts, 1.82 ms through the ORM)."""
        async with self.autocommit.connect() as connection:
            return (await connection.execute(statement, params)).all()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Raise unless PostgreSQL answers a trivial query (readiness checks)."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
