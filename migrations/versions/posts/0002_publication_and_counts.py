"""Posts domain: publication (a post with media goes live when all its media are READY)
and per-author post counts.

- `posts.published_at`: when the post became visible; NULL while its media are not all
  READY. Defaults to now(), so text posts and bulk loads are published as written.
  Existing posts: published at their creation when every medium is READY (or they have
  none), unpublished otherwise.
- `posts.post_counts`: per author, posts published and not (yet) published, kept in the
  same transaction as every create, publish and delete.

Revision ID: posts_0002
Revises: posts_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "posts_0002"
down_revision: str | Sequence[str] | None = "posts_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE posts.posts ADD COLUMN published_at timestamptz DEFAULT now()")
    op.execute(
        """
        UPDATE posts.posts p SET published_at = CASE
            WHEN EXISTS (SELECT 1 FROM posts.media m
                         WHERE m.post_id = p.id AND m.status <> 'READY') THEN NULL
            ELSE p.created_at END
        """
    )
    op.execute(
        """
        CREATE TABLE posts.post_counts (
            author_id bigint NOT NULL,
            published integer NOT NULL DEFAULT 0,
            unpublished integer NOT NULL DEFAULT 0,
            CONSTRAINT pk_post_counts PRIMARY KEY (author_id)
        )
        """
    )
    op.execute(
        """
        INSERT INTO posts.post_counts (author_id, published, unpublished)
        SELECT author_id, count(*) FILTER (WHERE published_at IS NOT NULL),
               count(*) FILTER (WHERE published_at IS NULL)
        FROM posts.posts GROUP BY author_id
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE posts.post_counts")
    op.execute("ALTER TABLE posts.posts DROP COLUMN published_at")
