"""Blocks, mutes, and the indexes of searchUsers (docs/social.md).

Revision ID: users_0006
Revises: users_0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "users_0006"
down_revision: str | Sequence[str] | None = "users_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _relation(table: str, actor: str, target: str) -> None:
    op.execute(
        f"""
        CREATE TABLE users.{table} (
            {actor} bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            {target} bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            id bigint NOT NULL DEFAULT public.next_id(),
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_{table} PRIMARY KEY ({actor}, {target}),
            CONSTRAINT ck_{table}_not_self CHECK ({actor} <> {target})
        )
        """
    )
    op.execute(
        f"CREATE INDEX ix_users_{table}_{actor}_id ON users.{table} ({actor}, id DESC) "
        f"INCLUDE ({target})"
    )


def upgrade() -> None:
    _relation("blocks", "blocker_id", "blocked_id")
    op.execute("CREATE INDEX ix_users_blocks_blocked_id ON users.blocks (blocked_id, blocker_id)")
    _relation("mutes", "muter_id", "muted_id")
    op.execute(
        "CREATE INDEX ix_users_users_username_prefix ON users.users "
        "(lower(username) text_pattern_ops)"
    )
    op.execute(
        "CREATE INDEX ix_users_users_display_name_words ON users.users "
        "USING gin (to_tsvector('simple', display_name))"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS users.ix_users_users_display_name_words")
    op.execute("DROP INDEX IF EXISTS users.ix_users_users_username_prefix")
    op.execute("DROP TABLE IF EXISTS users.mutes")
    op.execute("DROP TABLE IF EXISTS users.blocks")
