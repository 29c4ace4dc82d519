"""Engine, sessions and the declarative base. One PostgreSQL schema per domain."""

from __future__ import annotations

import asyncio
import logging
from collections import namedtuple
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy.ext.asyncio
from sqlalchemy import Executable, MetaData, Row, TextClause, event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util import await_only, greenlet_spawn

from puppies.settings import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DOMAIN_SCHEMAS = ("users", "posts", "feed", "analytics")

log = logging.getLogger(__name__)


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


# `Database.rows` keeps this many compiled text statements (they are built once each; one
# built per call is compiled per call)
_PLAIN_STATEMENTS = 256


class _PlainStatement:
    """A `text()` statement as asyncpg takes it: SQL with `$n` placeholders, the bound
    names in their order with their types' bind processors, and a row class made from the
    first result's columns. `ok` is False for what needs SQLAlchemy's execution (expanding
    or literal parameters)."""

    def __init__(
        self,
        statement: TextClause,
        sql: str,
        names: Sequence[str],
        processors: Sequence[Any],
        ok: bool,
    ) -> None:
        self.statement = statement
        self.sql = sql
        self.names = tuple(names)
        self.processors = tuple(processors)
        self.ok = ok
        self.row: type[tuple[Any, ...]] | None = None

    @classmethod
    def of(cls, statement: TextClause, engine: AsyncEngine) -> _PlainStatement:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        names = list(compiled.positiontup or ())
        processors = [compiled.binds[n].type.bind_processor(dialect) for n in names]
        ok = not (compiled.post_compile_params or compiled.literal_execute_params)
        return cls(statement, compiled.string, names, processors, ok)

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = params[name]
            values.append(process(value) if process is not None and value is not None else value)
        return values

    def rows(self, records: Sequence[Any]) -> list[Any]:
        if not records:
            return []
        row = self.row
        if row is None:
            row = self.row = _row_class(tuple(records[0].keys()))
        return [row(*r) for r in records]


def _row_class(names: tuple[str, ...]) -> type[tuple[Any, ...]]:
    """A tuple with the columns as attributes and a `_mapping`, as SQLAlchemy's Row has."""
    base = namedtuple("Row", names, rename=True)  # type: ignore[misc]  # "?column?": by `_mapping`

    def mapping(self: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(names, self, strict=True))

    return type("Row", (base,), {"__slots__": (), "_mapping": property(mapping)})


class Database:
    """An engine and its sessionmaker, owned by one process and closed at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessionmaker = create_sessionmaker(self.engine)
        # The same pool in autocommit: no BEGIN before and no ROLLBACK after a statement.
        self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.read_sessionmaker = create_sessionmaker(self.autocommit)
        # `rows`' text statements as asyncpg runs them, compiled once each
        self._plain: dict[int, _PlainStatement] = {}

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
        """The rows of ONE Core statement, in autocommit on a plain connection: `read()`
        without the ORM session around it. A write only when it is atomic alone and needs no
        transaction around it (the worker's notification INSERT, a domain event's analytics
        record: one statement each). For the per-request DataLoaders' reads,
        whose rows become records at once (a `text()` statement built once, its ids as one
        array: one prepared statement whatever their number; bench/RESULTS.md, session 19:
        0.74 ms of CPU per 20 posts, 1.82 ms through the ORM).

        A `text()` statement goes to asyncpg itself on a connection of the same pool
        (compiled once; rows with the same attributes and `_mapping`; `_fetch`): SQLAlchemy's
        execution (its greenlets, Core connection, cursor adapter, result and Row objects)
        cost more than the statement (bench/RESULTS.md, sessions 20 and 21). Not while
        something listens to the engine's statements (`models/sqlcount.py` in tests,
        OpenTelemetry's SQLAlchemy spans): then through SQLAlchemy, as other statements
        always go."""
        plain = None
        if isinstance(statement, TextClause) and not self._listened():
            plain = self._plain.get(id(statement))
            if plain is None or plain.statement is not statement:
                plain = _PlainStatement.of(statement, self.engine)
                if len(self._plain) < _PLAIN_STATEMENTS:
                    self._plain[id(statement)] = plain
        if plain is None or not plain.ok:
            async with self.autocommit.connect() as connection:
                return (await connection.execute(statement, params)).all()
        records = await greenlet_spawn(self._fetch, plain.sql, plain.arguments(params or {}))
        return plain.rows(records)

    def _fetch(self, sql: str, arguments: list[Any]) -> list[Any]:
        """In SQLAlchemy's greenlet (one spawn, where a Core connection costs three: checkout,
        raw connection, close): a pooled connection checked out as `raw_connection()` does
        (the pool's checkout events run: `_closed_by_the_server`, the feed's statement
        timeout on connect), the statement run by asyncpg outside any transaction
        (autocommit, as the `autocommit` engine's connections), the connection checked in
        (its reset rolls back nothing: the adapter began no transaction). asyncpg's errors
        as SQLAlchemy raises them (`_as_sqlalchemy_error`)."""
        pooled = self.engine.sync_engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None
            try:
                records: list[Any] = await_only(driver.fetch(sql, *arguments))
            except Exception as error:
                raise self._as_sqlalchemy_error(pooled, sql, arguments, error) from error
            return records
        finally:
            pooled.close()

    def _as_sqlalchemy_error(
        self, pooled: Any, sql: str, arguments: list[Any], error: Exception
    ) -> BaseException:
        """asyncpg's `error` as SQLAlchemy would have raised it for the same statement (what
        the resolvers catch and puppies/outages.py classifies): translated by SQLAlchemy's
        asyncpg adapter into its DBAPI error, wrapped in `DBAPIError` (OperationalError,
        IntegrityError, ...), the connection invalidated when it was lost."""
        dialect = self.engine.dialect
        dbapi_error = dialect.loaded_dbapi.Error
        adapted = pooled.dbapi_connection
        try:
            adapted._handle_exception(error)  # raises the adapter's translation
        except dbapi_error as translated:
            lost = dialect.is_disconnect(translated, adapted, None)
            if lost:
                pooled.invalidate(translated)
            return exc.DBAPIError.instance(
                sql,
                arguments,
                translated,
                dbapi_error,
                connection_invalidated=lost,
                dialect=dialect,
            )
        except Exception as other:  # not one of asyncpg's: as it is
            return other
        return error

    def _listened(self) -> bool:
        return bool(self.engine.sync_engine.dispatch.before_cursor_execute)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Raise unless PostgreSQL answers a trivial query (readiness checks)."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def warm(self, timeout: float = 5.0) -> int:
        """Open the pool to its size at start-up and give every connection back to it: a
        fixed-size pool (DB_POOL_PREWARM). The process then never opens a connection under
        a burst (a backend fork and asyncpg's type introspection on the request's path), and
        its PostgreSQL connection count is flat from the start, so a count that grows is a
        leak. Best effort: what PostgreSQL refuses or does not open within `timeout` seconds
        (down, at max_connections) is opened on demand later, as without warming. Returns the
        number of connections the pool holds."""
        pool = self.engine.pool
        wanted = max(pool.size() - pool.checkedin() - pool.checkedout(), 0)  # type: ignore[attr-defined]
        connections: list[sqlalchemy.ext.asyncio.AsyncConnection] = []
        failure: BaseException | None = None

        async def hold() -> None:
            connections.append(await self.engine.connect().start())

        try:
            async with asyncio.timeout(timeout):
                # all at once, so each takes a new connection instead of the one just returned
                outcomes = await asyncio.gather(
                    *(hold() for _ in range(wanted)), return_exceptions=True
                )
            failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        except TimeoutError as error:
            failure = error
        finally:
            for connection in connections:
                await connection.close()
        if failure is not None:
            log.warning(
                "database pool: opened %d of %d connections at start-up (%s: %s); "
                "the rest open on demand",
                len(connections),
                wanted,
                failure.__class__.__name__,
                failure,
            )
        return int(pool.checkedin())  # type: ignore[attr-defined]

    async def dispose(self) -> None:
        await self.engine.dispose()
