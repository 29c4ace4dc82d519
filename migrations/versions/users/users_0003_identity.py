"""Identity: roles, OpenID Connect identities, accounts without a password, GDPR export and
deletion bookkeeping (docs/identity.md, docs/privacy.md).

Revision ID: users_0003
Revises: users_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "users_0003"
down_revision: str | Sequence[str] | None = "users_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE users.users ALTER COLUMN password_hash DROP NOT NULL")
    op.execute("ALTER TABLE users.users ADD COLUMN role text NOT NULL DEFAULT 'user'")
    op.execute(
        "ALTER TABLE users.users ADD CONSTRAINT ck_users_role "
        "CHECK (role IN ('user', 'moderator', 'admin'))"
    )
    op.execute("ALTER TABLE users.users ADD COLUMN email_verified_at timestamptz")
    op.execute("ALTER TABLE users.users ADD COLUMN disabled_at timestamptz")
    op.execute(
        """
        CREATE TABLE users.oidc_identities (
            id bigint NOT NULL DEFAULT public.next_id(),
            user_id bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            provider text NOT NULL,
            issuer text NOT NULL,
            subject text NOT NULL,
            email text,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_oidc_identities PRIMARY KEY (id)
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_users_oidc_identities_provider_subject "
        "ON users.oidc_identities (provider, subject)"
    )
    op.execute("CREATE INDEX ix_users_oidc_identities_user_id ON users.oidc_identities (user_id)")
    op.execute(
        """
        CREATE TABLE users.data_exports (
            id bigint NOT NULL DEFAULT public.next_id(),
            user_id bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            status text NOT NULL DEFAULT 'PENDING',
            object_key text,
            byte_size bigint,
            error text,
            requested_at timestamptz NOT NULL DEFAULT now(),
            completed_at timestamptz,
            expires_at timestamptz,
            CONSTRAINT pk_data_exports PRIMARY KEY (id),
            CONSTRAINT ck_data_exports_status
                CHECK (status IN ('PENDING', 'RUNNING', 'READY', 'FAILED', 'EXPIRED'))
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_users_data_exports_user_id_id ON users.data_exports (user_id, id DESC)"
    )
    op.execute(
        """
        CREATE TABLE users.account_deletions (
            user_id bigint NOT NULL,
            requested_at timestamptz NOT NULL DEFAULT now(),
            done text[] NOT NULL DEFAULT '{}'::text[],
            attempts integer NOT NULL DEFAULT 0,
            last_attempt_at timestamptz,
            CONSTRAINT pk_account_deletions PRIMARY KEY (user_id)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS users.account_deletions")
    op.execute("DROP TABLE IF EXISTS users.data_exports")
    op.execute("DROP TABLE IF EXISTS users.oidc_identities")
    op.execute("ALTER TABLE users.users DROP COLUMN IF EXISTS disabled_at")
    op.execute("ALTER TABLE users.users DROP COLUMN IF EXISTS email_verified_at")
    op.execute("ALTER TABLE users.users DROP CONSTRAINT IF EXISTS ck_users_role")
    op.execute("ALTER TABLE users.users DROP COLUMN IF EXISTS role")
    op.execute("UPDATE users.users SET password_hash = '!' WHERE password_hash IS NULL")
    op.execute("ALTER TABLE users.users ALTER COLUMN password_hash SET NOT NULL")
