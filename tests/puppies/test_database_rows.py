"""`Database.rows`: a text statement run by asyncpg itself answers as SQLAlchemy does."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest
from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

from models.db import Database
from models.sqlcount import count_statements
from puppies.settings import Settings

STATEMENT = text(
    "SELECT g AS id, g * 2 AS twice, :label AS label, NULL::bigint AS nothing, "
    "g = ANY(:ids) AS picked FROM unnest(:ids) g WHERE g <> :skip ORDER BY g"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)), bindparam("skip", type_=BigInteger))


async def test_text_rows_through_asyncpg_are_sqlalchemy_s_rows(settings: Settings) -> None:
    db = Database(settings)
    try:
        # a tuple: the ARRAY type's bind processor makes it a list, as SQLAlchemy does
        params = {"ids": (3, 1, 2), "skip": 2, "label": "x"}
        fast = await db.rows(STATEMENT, params)
        with count_statements() as counter:  # something listens: through SQLAlchemy
            slow = await db.rows(STATEMENT, params)
        assert len(counter.queries()) == 1
        assert (
            [tuple(r) for r in fast]
            == [tuple(r) for r in slow]
            == [
                (1, 2, "x", None, True),
                (3, 6, "x", None, True),
            ]
        )
        assert [dict(r._mapping) for r in fast] == [dict(r._mapping) for r in slow]
        assert [(r.id, r.twice, r.nothing) for r in fast] == [(1, 2, None), (3, 6, None)]
        assert await db.rows(STATEMENT, {**params, "ids": []}) == []
        assert await db.rows(STATEMENT, {**params, "skip": None}) == []
        # what asyncpg cannot take as it is (an expanding IN) goes through SQLAlchemy
        expanding = text("SELECT g FROM generate_series(1, 5) g WHERE g IN :xs").bindparams(
            bindparam("xs", expanding=True)
        )
        assert [r.g for r in await db.rows(expanding, {"xs": [2, 4]})] == [2, 4]
        # a column without a usable name is in `_mapping`, as with SQLAlchemy
        unnamed = text("SELECT 1, 2 AS two")
        fast = await db.rows(unnamed)
        with count_statements():
            slow = await db.rows(unnamed)
        assert [dict(r._mapping) for r in fast] == [dict(r._mapping) for r in slow]
        assert (fast[0].two, fast[0]._mapping["?column?"]) == (2, 1)
        # a statement made for one call is compiled for that call
        for n in (1, 2):
            once = text(f"SELECT {n} AS n")
            assert [r.n for r in await db.rows(once)] == [n]
    finally:
        await db.dispose()


async def test_text_rows_after_postgres_closed_the_pool_s_connections(settings: Settings):
    """The pool still replaces a connection PostgreSQL closed before handing it to asyncpg
    (as for SQLAlchemy's own statements: tests/operations/test_pool_recovery.py)."""
    assert settings.database_url
    db = Database(settings)
    pid = text("SELECT pg_backend_pid() AS pid")
    try:
        pids = {(await db.rows(pid))[0].pid}
        admin = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
        try:
            await admin.fetchval("SELECT pg_terminate_backend($1::int)", next(iter(pids)))
            for _ in range(200):
                if not await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                    list(pids),
                ):
                    break
                await asyncio.sleep(0.05)
        finally:
            await admin.close()
        await asyncio.sleep(0.2)
        again = (await db.rows(pid))[0].pid
        assert again not in pids
    finally:
        await db.dispose()


async def test_text_rows_fail_with_sqlalchemy_s_errors(settings: Settings) -> None:
    """What the resolvers catch (DBAPIError and its kinds, with asyncpg's error as `orig`'s
    cause) is what SQLAlchemy raised for the same failure."""
    db = Database(settings)
    bad = text("SELECT 1 / :zero AS x")
    two = text("SELECT 1; SELECT 2")  # refused: two commands in a prepared statement
    try:
        for statement, params in ((bad, {"zero": 0}), (two, {})):
            fast = slow = None
            try:
                await db.rows(statement, params)
            except DBAPIError as error:
                fast = error
            with count_statements():
                try:
                    await db.rows(statement, params)
                except DBAPIError as error:
                    slow = error
            assert fast is not None and slow is not None
            assert type(fast) is type(slow)
            assert type(fast.orig) is type(slow.orig)
            assert str(fast.orig) == str(slow.orig)
            assert fast.connection_invalidated is slow.connection_invalidated is False
        # the connection is still good
        assert [r.n for r in await db.rows(text("SELECT 7 AS n"))] == [7]
    finally:
        await db.dispose()


async def test_a_connection_lost_during_a_statement_fails_as_sqlalchemy_fails(
    settings: Settings,
) -> None:
    """A backend terminated while its statement runs: the same error both ways (its kind,
    whether the connection was invalidated), and the next read gets a working connection."""
    assert settings.database_url
    db = Database(settings)
    sleep = text("SELECT pg_sleep(:s) AS x -- lost probe")
    admin = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        errors: list[DBAPIError] = []
        for listened in (False, True):
            with count_statements() if listened else contextlib.nullcontext():
                read = asyncio.create_task(db.rows(sleep, {"s": 30}))
                pid = None
                for _ in range(400):
                    pid = await admin.fetchval(
                        "SELECT pid FROM pg_stat_activity WHERE query LIKE '%lost probe'"
                        " AND pid <> pg_backend_pid() AND state = 'active'"
                    )
                    if pid is not None:
                        break
                    await asyncio.sleep(0.05)
                assert pid is not None
                await admin.fetchval("SELECT pg_terminate_backend($1::int)", pid)
                with pytest.raises(DBAPIError) as caught:
                    await asyncio.wait_for(read, 60)
                errors.append(caught.value)
            assert [r.n for r in await db.rows(text("SELECT 7 AS n"))] == [7]
        fast, slow = errors
        assert type(fast) is type(slow)
        assert type(fast.orig) is type(slow.orig)
        assert fast.connection_invalidated is slow.connection_invalidated
    finally:
        await admin.close()
        await db.dispose()
