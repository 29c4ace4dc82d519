"""Moderation: users' reports of posts, and the log of what moderators did
(docs/identity.md, "Moderation").

Revision ID: posts_0003
Revises: posts_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "posts_0003"
down_revision: str | Sequence[str] | None = "posts_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE posts.reports (
            id bigint NOT NULL DEFAULT public.next_id(),
            post_id bigint NOT NULL REFERENCES posts.posts (id) ON DELETE CASCADE,
            reporter_id bigint NOT NULL,
            reason text NOT NULL,
            details text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            resolved_at timestamptz,
            CONSTRAINT pk_reports PRIMARY KEY (id),
            CONSTRAINT ck_reports_reason CHECK (reason IN ('SPAM', 'HARASSMENT', 'HATE',
                'VIOLENCE', 'NUDITY', 'MISINFORMATION', 'OTHER'))
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_posts_reports_post_id_reporter_id "
        "ON posts.reports (post_id, reporter_id)"
    )
    op.execute("CREATE INDEX ix_posts_reports_open ON posts.reports (id) WHERE resolved_at IS NULL")
    op.execute("CREATE INDEX ix_posts_reports_reporter_id ON posts.reports (reporter_id)")
    op.execute(
        """
        CREATE TABLE posts.moderation_actions (
            id bigint NOT NULL DEFAULT public.next_id(),
            post_id bigint NOT NULL,
            author_id bigint,
            moderator_id bigint,
            action text NOT NULL,
            reason text NOT NULL DEFAULT '',
            reports integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_moderation_actions PRIMARY KEY (id),
            CONSTRAINT ck_moderation_actions_action CHECK (action IN ('REMOVED', 'DISMISSED'))
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_posts_moderation_actions_author_id ON posts.moderation_actions (author_id)"
    )
    op.execute(
        "CREATE INDEX ix_posts_moderation_actions_moderator_id "
        "ON posts.moderation_actions (moderator_id)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS posts.moderation_actions")
    op.execute("DROP TABLE IF EXISTS posts.reports")
