"""Notifications: follows, likes, comments and replies, made by workers from outbox events.

Revision ID: users_0008
Revises: users_0007
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "users_0008"
down_revision: str | Sequence[str] | None = "users_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE users.notifications (
            id bigint NOT NULL DEFAULT public.next_id(),
            recipient_id bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            kind text NOT NULL,
            actor_id bigint NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
            post_id bigint,
            comment_id bigint,
            dedupe_key text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            read_at timestamptz,
            CONSTRAINT pk_notifications PRIMARY KEY (id),
            CONSTRAINT ck_notifications_kind
                CHECK (kind IN ('FOLLOW', 'LIKE', 'COMMENT', 'REPLY'))
        )
        """
    )
    for sql in (
        "CREATE UNIQUE INDEX uq_users_notifications_recipient_id_dedupe_key "
        "ON users.notifications (recipient_id, dedupe_key)",
        "CREATE INDEX ix_users_notifications_recipient_id_id "
        "ON users.notifications (recipient_id, id DESC)",
        "CREATE INDEX ix_users_notifications_unread ON users.notifications (recipient_id) "
        "WHERE read_at IS NULL",
        "CREATE INDEX ix_users_notifications_actor_id ON users.notifications (actor_id)",
        "CREATE INDEX ix_users_notifications_post_id ON users.notifications (post_id) "
        "WHERE post_id IS NOT NULL",
        "CREATE INDEX ix_users_notifications_comment_id ON users.notifications (comment_id) "
        "WHERE comment_id IS NOT NULL",
    ):
        op.execute(sql)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS users.notifications")
