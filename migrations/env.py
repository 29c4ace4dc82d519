"""Alembic environment: async engine from Settings; one version branch per domain."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import models
from models.analytics import PARTITION_PREFIX as ANALYTICS_PARTITION_PREFIX
from models.db import Base

config = context.config

# Import every models module so autogenerate sees all tables.
for mod in pkgutil.iter_modules(models.__path__):
    importlib.import_module(f"models.{mod.name}")

target_metadata = Base.metadata


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "schema":
        return name in {"users", "posts", "feed", "analytics", None, "public"}
    # The daily partitions of analytics.events are created and dropped at run time.
    analytics_partition = (
        type_ == "table"
        and isinstance(parent_names, dict)
        and parent_names.get("schema_name") == "analytics"
        and name is not None
        and name.startswith(ANALYTICS_PARTITION_PREFIX)
    )
    return not analytics_partition


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=_include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by puppies.migrate"
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
