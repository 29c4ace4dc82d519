"""A process's database pool after PostgreSQL closed its connections (a restart, a fail-over,
`pg_terminate_backend`): no request is handed a dead connection.

PostgreSQL closing a connection tells the client (asyncpg marks it closed); the pool checks
that local state at each checkout and replaces a closed connection, so even the first
requests after a restart succeed, with no round trip per checkout (models/db.py;
bench.faults' postgres-restarted measures it under load).
"""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import text

from models.db import Database
from puppies.settings import Settings


async def _pooled_backends(db: Database, n: int) -> list[int]:
    """Check out `n` connections at once (the pool keeps them), their backends' pids."""
    gate = asyncio.Event()
    pids: list[int] = []

    async def hold() -> None:
        async with db.engine.connect() as conn:
            pids.append(int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()))
            if len(pids) == n:
                gate.set()
            await gate.wait()

    await asyncio.wait_for(asyncio.gather(*(hold() for _ in range(n))), 30)
    return pids


async def test_connections_postgres_closed_are_replaced_before_use(settings: Settings):
    assert settings.database_url
    db = Database(settings)
    n = 4
    try:
        pids = await _pooled_backends(db, n)
        assert db.engine.pool.checkedin() == n  # type: ignore[attr-defined]
        admin = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
        try:
            killed = await admin.fetchval(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM "
                "unnest($1::int[]) AS pid) t",
                pids,
            )
            assert killed == n
            for _ in range(200):  # until the backends have exited (their sockets closed)
                if not await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids
                ):
                    break
                await asyncio.sleep(0.05)
        finally:
            await admin.close()
        await asyncio.sleep(0.2)  # this loop reads each pooled connection's end of stream

        async def one() -> int:
            async with db.read() as session:
                return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())

        # as many requests at once as there are dead connections in the pool: each one
        # would be handed a dead connection
        fresh = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
        failed = [r for r in fresh if isinstance(r, BaseException)]
        assert failed == [], failed
        assert not set(fresh) & set(pids)
    finally:
        await db.dispose()
