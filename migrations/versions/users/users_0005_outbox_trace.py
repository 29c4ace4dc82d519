"""The users outbox records the trace and request id of the work that wrote each event,
so the worker job an event becomes continues the writer's trace (docs/operations.md).

Revision ID: users_0005
Revises: users_0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from models.outbox import outbox_trace_ddl, outbox_trace_drop_ddl

revision: str = "users_0005"
down_revision: str | Sequence[str] | None = "users_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for sql in outbox_trace_ddl("users"):
        op.execute(sql)


def downgrade() -> None:
    for sql in outbox_trace_drop_ddl("users"):
        op.execute(sql)
