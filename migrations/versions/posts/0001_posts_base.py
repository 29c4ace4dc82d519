"""Posts domain: posts, media, likes, comments, and the posts outbox.

Revision ID: posts_0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from models.outbox import outbox_ddl, outbox_drop_ddl

revision: str = "posts_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("posts",)
depends_on: str | Sequence[str] | None = "platform_0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE posts.posts (
            id bigint NOT NULL DEFAULT public.next_id(),
            author_id bigint NOT NULL,
            text text NOT NULL,
            like_count integer NOT NULL DEFAULT 0,
            comment_count integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_posts PRIMARY KEY (id)
        )
        """
    )
    op.execute("CREATE INDEX ix_posts_posts_author_id_id ON posts.posts (author_id, id DESC)")
    op.execute(
        """
        CREATE TABLE posts.media (
            id bigint NOT NULL DEFAULT public.next_id(),
            post_id bigint NOT NULL,
            author_id bigint NOT NULL,
            position smallint NOT NULL,
            status text NOT NULL DEFAULT 'PENDING_UPLOAD',
            content_type text NOT NULL,
            byte_size integer NOT NULL,
            object_key text NOT NULL,
            stored_key text,
            stored_content_type text,
            stored_bytes integer,
            width integer,
            height integer,
            thumbnails jsonb NOT NULL DEFAULT '[]'::jsonb,
            failure_reason text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_media PRIMARY KEY (id),
            CONSTRAINT fk_media_post_id_posts FOREIGN KEY (post_id)
                REFERENCES posts.posts (id) ON DELETE CASCADE,
            CONSTRAINT ck_media_status
                CHECK (status IN ('PENDING_UPLOAD', 'PROCESSING', 'READY', 'FAILED'))
        )
        """
    )
    op.execute("CREATE INDEX ix_posts_media_post_id_position ON posts.media (post_id, position)")
    op.execute(
        "CREATE INDEX ix_posts_media_unfinished ON posts.media (updated_at) "
        "WHERE status IN ('PENDING_UPLOAD', 'PROCESSING')"
    )
    op.execute(
        """
        CREATE TABLE posts.likes (
            post_id bigint NOT NULL,
            user_id bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_likes PRIMARY KEY (post_id, user_id),
            CONSTRAINT fk_likes_post_id_posts FOREIGN KEY (post_id)
                REFERENCES posts.posts (id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        """
        CREATE TABLE posts.comments (
            id bigint NOT NULL DEFAULT public.next_id(),
            post_id bigint NOT NULL,
            author_id bigint NOT NULL,
            text text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_comments PRIMARY KEY (id),
            CONSTRAINT fk_comments_post_id_posts FOREIGN KEY (post_id)
                REFERENCES posts.posts (id) ON DELETE CASCADE
        )
        """
    )
    op.execute("CREATE INDEX ix_posts_comments_post_id_id ON posts.comments (post_id, id DESC)")
    for sql in outbox_ddl("posts"):
        op.execute(sql)


def downgrade() -> None:
    for sql in outbox_drop_ddl("posts"):
        op.execute(sql)
    for table in ("comments", "likes", "media", "posts"):
        op.execute(f"DROP TABLE IF EXISTS posts.{table}")
