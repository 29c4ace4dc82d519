"""The generic work over a table's privacy rule: the user's rows for an export, the rows
erased (in batches, each its own short transaction), and what is left.

Table and column names come from the registry (checked there against a strict pattern) and
are quoted here; the user id is always a bound parameter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.privacy.registry import Erase, TableRule
from resolvers.runtime import Resources

BATCH = 5000


def _table(rule: TableRule) -> str:
    schema, name = rule.table.split(".", 1)
    return f'"{schema}"."{name}"'


def _any(columns: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f'"{c}" = :u' for c in columns) + ")"


def mentions(column: str = "payload") -> str:
    """SQL: the JSON column names the user id `:u` as a whole number anywhere in it."""
    return f"{column}::text ~ ('(^|[^0-9])' || CAST(:u AS text) || '([^0-9]|$)')"


def naming_user(rule: TableRule) -> str:
    """SQL condition: the row names the user (bound as :u)."""
    if rule.erase is Erase.TRANSIENT:
        return f"({_any(rule.user_columns)} OR {mentions()})"
    return _any(rule.user_columns)


async def count_naming(session: AsyncSession, rule: TableRule, user_id: int) -> int:
    """Rows that still name the user (0 for a table holding nothing about users)."""
    if rule.erase is Erase.NONE or not rule.user_columns:
        return 0
    sql = f"SELECT count(*) FROM {_table(rule)} WHERE {naming_user(rule)}"
    return int((await session.execute(text(sql), {"u": user_id})).scalar_one())


async def export_rows(
    session: AsyncSession, rule: TableRule, user_id: int
) -> AsyncIterator[dict[str, Any]]:
    """The user's rows for the export (server-side cursor), without the omitted columns."""
    sql = f"SELECT * FROM {_table(rule)} WHERE {_any(rule.export_by)}"
    result = await session.stream(text(sql), {"u": user_id})
    async for row in result.mappings():
        yield {k: v for k, v in row.items() if k not in rule.omit}


async def erase_rows(res: Resources, rule: TableRule, user_id: int, batch: int = BATCH) -> int:
    """Apply the rule's generic erasure; returns the rows changed. Idempotent: a second run
    finds nothing. Rules erased last (FINAL) and NONE are left alone."""
    table = _table(rule)
    if rule.erase is Erase.DELETE:
        # (tableoid, ctid) names a row even in a partitioned table
        statements = [
            f"DELETE FROM {table} WHERE (tableoid, ctid) IN (SELECT tableoid, ctid FROM "
            f"{table} WHERE {_any(rule.user_columns)} LIMIT :n)"
        ]
    elif rule.erase is Erase.ANONYMISE:
        statements = [
            f'UPDATE {table} SET "{c}" = NULL WHERE (tableoid, ctid) IN (SELECT tableoid, '
            f'ctid FROM {table} WHERE "{c}" = :u LIMIT :n)'
            for c in rule.user_columns
        ]
    elif rule.erase is Erase.TRANSIENT:
        statements = [
            f"DELETE FROM {table} WHERE dispatched_at IS NOT NULL AND {naming_user(rule)}"
        ]
    else:
        return 0
    total = 0
    for sql in statements:
        while True:
            async with res.db.transaction() as session:
                result = await session.execute(text(sql), {"u": user_id, "n": batch})
            changed = int(getattr(result, "rowcount", 0) or 0)
            total += changed
            if changed < batch or rule.erase is Erase.TRANSIENT:
                break
    return total
