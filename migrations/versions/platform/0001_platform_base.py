"""Platform base: one schema per domain and the time-ordered ID generator.

`public.next_id()` returns a snowflake-style bigint: milliseconds since 2024-01-01 in the
high 41 bits, then 23 bits from a global sequence. IDs sort by creation time, so cursors
and feed order need no extra column, and `id >> 23` recovers the creation millisecond.

Revision ID: platform_0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "platform_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("platform",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for schema in ("users", "posts", "feed", "analytics"):
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    op.execute("CREATE SEQUENCE IF NOT EXISTS public.id_seq")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION public.next_id() RETURNS bigint
        LANGUAGE sql VOLATILE AS $$
            SELECT ((floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
                     - 1704067200000) << 23)
                   | (nextval('public.id_seq') % 8388608)
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS public.next_id()")
    op.execute("DROP SEQUENCE IF EXISTS public.id_seq")
    for schema in ("analytics", "feed", "posts", "users"):
        op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
