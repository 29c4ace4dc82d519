"""Test fixtures: real PostgreSQL, Redis and S3 (SeaweedFS).

The same switch as `puppies dev`: with DATABASE_URL / REDIS_URL / S3_ENDPOINT_URL set the
tests use those servers (point them at disposable ones: tests truncate tables and flush
Redis); each one unset is started here as a real embedded server on an ephemeral port,
with its data in a temporary directory, once per test session.

The whole stack of processes the end-to-end packages share (`running`, with `smtp` and
`provider`) is in tests/support/shared_stack.py; the tests that use it run last, so that it
starts once (per pytest-xdist worker) and no test truncates tables, flushes Redis or queues
jobs under its processes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from puppies import migrate
from puppies.embedded import free_port
from puppies.s3 import create_s3_client, ensure_bucket
from puppies.services import RunningServices, start_services
from puppies.settings import Settings, load_settings
from tests.support.shared_stack import provider, running, smtp
from tests.support.tmp import private_tmp_dir

__all__ = ["provider", "running", "smtp"]  # the shared stack's session fixtures, for every package


def _on_shared_stack(item: pytest.Item) -> bool:
    return "running" in getattr(item, "fixturenames", ())


def _work_unit(item: pytest.Item) -> str:
    """What one worker of `make test` (pytest-xdist, `--dist loadgroup`) runs as a whole: a
    module (its module-scoped fixtures start once), tests/browser (a package-scoped stack),
    and a module's tests on the shared stack apart from its others (they run last)."""
    module = item.nodeid.split("::", 1)[0]
    if module.startswith("tests/browser/"):
        return "tests/browser"
    return f"{module}+shared-stack" if _on_shared_stack(item) else module


@pytest.hookimpl(tryfirst=True)  # before xdist names each test's group in its node id
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests on the shared stack last (in their order): module docstring.

    Under pytest-xdist (`make test`: two workers, `--dist loadgroup --no-loadscope-reorder`)
    each worker has its own session, so its own services and, if it runs any of them, its
    own shared stack; work units (`_work_unit`) are handed out in this order, so on each
    worker too the shared stack's tests run after every other test it runs."""
    items.sort(key=_on_shared_stack)
    if config.getoption("loadgroup", False):  # set on each worker by `--dist loadgroup`
        for item in items:
            item.add_marker(pytest.mark.xdist_group(_work_unit(item)))


@pytest.fixture(scope="session")
def services() -> Iterator[RunningServices]:
    data_dir = private_tmp_dir("services")
    base = load_settings(
        environment="test",
        data_dir=data_dir,
        jwt_keys_dir=data_dir / "keys",
        s3_bucket="puppies-test",
        # hundreds of apps and workers start in one test run: their pools open on demand
        # (tests/puppies/test_database_pool.py opens one to its size)
        db_pool_prewarm=False,
    )
    running = start_services(
        base, data_dir=data_dir, ports=(free_port(), free_port(), free_port()), throwaway=True
    )
    try:
        migrate.upgrade(running.settings)
        ensure_bucket(create_s3_client(running.settings), running.settings.s3_bucket)
        yield running
    finally:
        running.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(services: RunningServices) -> Settings:
    return services.settings


@pytest.fixture(scope="session")
def service_env(services: RunningServices) -> dict[str, str]:
    """Environment for child processes (subgraphs, workers) started by a test."""
    s = services.settings
    return {
        **os.environ,
        **services.env(),
        "ENVIRONMENT": "test",
        "S3_BUCKET": s.s3_bucket,
        "JWT_KEYS_DIR": str(s.keys_dir),
        "PYTHONUNBUFFERED": "1",
        "WORKER_PORT": "0",  # several workers may run at once: each on a free port
        "DB_POOL_PREWARM": "false",
    }


DOMAIN_SCHEMAS = ("users", "posts", "feed", "analytics")


async def _truncate_all(settings: Settings) -> None:
    import asyncpg

    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])",
            list(DOMAIN_SCHEMAS),
        )
        # Partitions are truncated through their parent.
        parts = {
            (r["schemaname"], r["relname"])
            for r in await conn.fetch(
                "SELECT n.nspname AS schemaname, c.relname FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace"
            )
        }
        names = [
            f'"{r["schemaname"]}"."{r["tablename"]}"'
            for r in rows
            if (r["schemaname"], r["tablename"]) not in parts
        ]
        if names:
            await conn.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


async def _flush_redis(settings: Settings) -> None:
    from puppies.redis import create_redis

    redis = create_redis(settings)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


@pytest.fixture
async def clean(settings: Settings) -> AsyncIterator[Settings]:
    """Empty every domain table and Redis before the test; yields the settings."""
    await asyncio.gather(_truncate_all(settings), _flush_redis(settings))
    yield settings


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
