"""Password resets: one row per request for an existing account, the token stored hashed.

Revision ID: users_0007
Revises: users_0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "users_0007"
down_revision: str | Sequence[str] | None = "users_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE users.password_resets (
            id bigint NOT NULL DEFAULT public.next_id(),
            user_id bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            request_id text NOT NULL,
            token_hash text,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            mailed_at timestamptz,
            used_at timestamptz,
            CONSTRAINT pk_password_resets PRIMARY KEY (id)
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_users_password_resets_request_id "
        "ON users.password_resets (request_id)"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_users_password_resets_token_hash "
        "ON users.password_resets (token_hash)"
    )
    op.execute("CREATE INDEX ix_users_password_resets_user_id ON users.password_resets (user_id)")
    op.execute(
        "CREATE INDEX ix_users_password_resets_expires_at ON users.password_resets (expires_at)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS users.password_resets")
