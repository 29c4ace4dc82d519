"""What the GDPR tests look at: every table of the domain schemas as the database lists it
(information_schema, partitions left out: they are read through their parent), and every
object in the bucket. Nothing here comes from the privacy registry, so a table or prefix
the registry does not know is still seen.

Every id in Puppies comes from one sequence (`public.next_id()`), so a user's id appears
in a row only where that row refers to that user: `rows_naming` looks for it in every
integer column, and for it and the user's names in every text and JSON column.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from puppies.settings import Settings

DOMAIN_SCHEMAS = ("users", "posts", "feed", "analytics")
INTEGER_TYPES = ("bigint", "integer", "smallint")
TEXT_TYPES = ("text", "character varying", "jsonb", "json", "ARRAY")


async def connect(settings: Settings) -> asyncpg.Connection:
    assert settings.database_url
    return await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))


async def domain_tables(conn: asyncpg.Connection) -> list[str]:
    """`schema.table` of every table (partitioned parents included, partitions not)."""
    rows = await conn.fetch(
        """
        SELECT t.table_schema || '.' || t.table_name AS name
          FROM information_schema.tables t
          JOIN pg_class c ON c.relname = t.table_name
          JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = t.table_schema
         WHERE t.table_schema = ANY($1::text[]) AND t.table_type = 'BASE TABLE'
           AND NOT c.relispartition
         ORDER BY 1
        """,
        list(DOMAIN_SCHEMAS),
    )
    return [r["name"] for r in rows]


async def columns(conn: asyncpg.Connection, table: str) -> dict[str, str]:
    schema, name = table.split(".", 1)
    rows = await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = $1 AND table_name = $2",
        schema,
        name,
    )
    return {r["column_name"]: r["data_type"] for r in rows}


async def rows_naming(
    conn: asyncpg.Connection, user_id: int, words: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every row, in every domain table, with the user's id in an integer column, or the
    id or one of `words` (username, email) in a text or JSON column."""
    found: dict[str, list[dict[str, Any]]] = {}
    for table in await domain_tables(conn):
        conditions = []
        texts = False
        for column, kind in (await columns(conn, table)).items():
            if kind in INTEGER_TYPES:
                conditions.append(f'"{column}" = $1::text::bigint')
            elif kind in TEXT_TYPES or kind.endswith("[]"):
                texts = True
                conditions.append(
                    f"\"{column}\"::text ~ ('(^|[^0-9])' || $1::text || '([^0-9]|$)')"
                )
                for i, _ in enumerate(words):
                    conditions.append(f'"{column}"::text ILIKE ${i + 2}')
        if not conditions:
            continue
        schema, name = table.split(".", 1)
        rows = await conn.fetch(
            f'SELECT * FROM "{schema}"."{name}" WHERE {" OR ".join(conditions)} LIMIT 20',
            str(user_id),
            *([f"%{w}%" for w in words] if texts else []),
        )
        if rows:
            found[table] = [dict(r) for r in rows]
    return found


def bucket_keys(s3: Any, bucket: str) -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.update(str(o["Key"]) for o in page.get("Contents", []))
    return keys


def prefix_of(key: str) -> str:
    return key.split("/", 1)[0] + "/"
