"""Users domain: accounts, follows, refresh tokens, API keys, and the users outbox.

Revision ID: users_0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from models.outbox import outbox_ddl, outbox_drop_ddl

revision: str = "users_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("users",)
depends_on: str | Sequence[str] | None = "platform_0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE users.users (
            id bigint NOT NULL DEFAULT public.next_id(),
            username text NOT NULL,
            email text NOT NULL,
            password_hash text NOT NULL,
            display_name text NOT NULL DEFAULT '',
            bio text NOT NULL DEFAULT '',
            plan text NOT NULL DEFAULT 'free',
            follower_count integer NOT NULL DEFAULT 0,
            following_count integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_users PRIMARY KEY (id),
            CONSTRAINT ck_users_plan CHECK (plan IN ('free', 'pro', 'enterprise'))
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX uq_users_users_username_lower ON users.users (lower(username))")
    op.execute("CREATE UNIQUE INDEX uq_users_users_email_lower ON users.users (lower(email))")
    op.execute(
        """
        CREATE TABLE users.follows (
            follower_id bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            followee_id bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            id bigint NOT NULL DEFAULT public.next_id(),
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_follows PRIMARY KEY (follower_id, followee_id),
            CONSTRAINT ck_follows_not_self CHECK (follower_id <> followee_id)
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX uq_users_follows_id ON users.follows (id)")
    op.execute(
        "CREATE INDEX ix_users_follows_followee_id_id ON users.follows (followee_id, id DESC)"
    )
    op.execute(
        "CREATE INDEX ix_users_follows_follower_id_id ON users.follows (follower_id, id DESC)"
    )
    op.execute(
        """
        CREATE TABLE users.refresh_tokens (
            id bigint NOT NULL DEFAULT public.next_id(),
            user_id bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            family_id bigint NOT NULL,
            token_hash text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            rotated_at timestamptz,
            revoked_at timestamptz,
            CONSTRAINT pk_refresh_tokens PRIMARY KEY (id)
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_users_refresh_tokens_token_hash "
        "ON users.refresh_tokens (token_hash)"
    )
    op.execute("CREATE INDEX ix_users_refresh_tokens_family_id ON users.refresh_tokens (family_id)")
    op.execute("CREATE INDEX ix_users_refresh_tokens_user_id ON users.refresh_tokens (user_id)")
    op.execute(
        """
        CREATE TABLE users.api_keys (
            id bigint NOT NULL DEFAULT public.next_id(),
            user_id bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            name text NOT NULL,
            prefix text NOT NULL,
            secret_hash text NOT NULL,
            tier text NOT NULL,
            scopes text[] NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz,
            CONSTRAINT pk_api_keys PRIMARY KEY (id),
            CONSTRAINT ck_api_keys_tier CHECK (tier IN ('free', 'pro', 'enterprise'))
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX uq_users_api_keys_prefix ON users.api_keys (prefix)")
    op.execute("CREATE INDEX ix_users_api_keys_user_id ON users.api_keys (user_id)")
    for sql in outbox_ddl("users"):
        op.execute(sql)


def downgrade() -> None:
    for sql in outbox_drop_ddl("users"):
        op.execute(sql)
    for table in ("api_keys", "refresh_tokens", "follows", "users"):
        op.execute(f"DROP TABLE IF EXISTS users.{table}")
