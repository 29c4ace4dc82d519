"""Social features of posts: edits, deletion by events, full-text search, likedBy pages,
comment replies (docs/social.md).

- posts: `edited_at`, `deleted_at` (a deleted post is hidden at once; the
  `posts.purge_post` job removes its likes, comments, media and files, then the row),
  `search` (a stored tsvector of the text, English stemming) with a GIN index;
- likes: a time-ordered `id`, the cursor of `Post.likedBy` (newest like first);
- comments: `parent_id` (a reply to a top-level comment, one level deep) and `reply_count`.

Revision ID: posts_0005
Revises: posts_0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "posts_0005"
down_revision: str | Sequence[str] | None = "posts_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE posts.posts ADD COLUMN edited_at timestamptz")
    op.execute("ALTER TABLE posts.posts ADD COLUMN deleted_at timestamptz")
    op.execute(
        "ALTER TABLE posts.posts ADD COLUMN search tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED"
    )
    op.execute("CREATE INDEX ix_posts_posts_search ON posts.posts USING gin (search)")
    op.execute(
        "CREATE INDEX ix_posts_posts_deleted ON posts.posts (deleted_at) "
        "WHERE deleted_at IS NOT NULL"
    )
    # existing likes get ids in no particular order; new ones are time-ordered
    op.execute("ALTER TABLE posts.likes ADD COLUMN id bigint NOT NULL DEFAULT public.next_id()")
    op.execute(
        "CREATE INDEX ix_posts_likes_post_id_id ON posts.likes (post_id, id DESC) INCLUDE (user_id)"
    )
    op.execute(
        "ALTER TABLE posts.comments ADD COLUMN parent_id bigint "
        "CONSTRAINT fk_comments_parent_id_comments REFERENCES posts.comments (id) "
        "ON DELETE CASCADE"
    )
    op.execute("ALTER TABLE posts.comments ADD COLUMN reply_count integer NOT NULL DEFAULT 0")
    op.execute("DROP INDEX IF EXISTS posts.ix_posts_comments_post_id_id")
    op.execute(
        "CREATE INDEX ix_posts_comments_post_id_id ON posts.comments (post_id, id DESC) "
        "WHERE parent_id IS NULL"
    )
    op.execute(
        "CREATE INDEX ix_posts_comments_parent_id_id ON posts.comments (parent_id, id) "
        "WHERE parent_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS posts.ix_posts_comments_parent_id_id")
    op.execute("DROP INDEX IF EXISTS posts.ix_posts_comments_post_id_id")
    op.execute("DELETE FROM posts.comments WHERE parent_id IS NOT NULL")
    op.execute("ALTER TABLE posts.comments DROP COLUMN reply_count")
    op.execute("ALTER TABLE posts.comments DROP COLUMN parent_id")
    op.execute("CREATE INDEX ix_posts_comments_post_id_id ON posts.comments (post_id, id DESC)")
    op.execute("DROP INDEX IF EXISTS posts.ix_posts_likes_post_id_id")
    op.execute("ALTER TABLE posts.likes DROP COLUMN id")
    op.execute("DROP INDEX IF EXISTS posts.ix_posts_posts_deleted")
    op.execute("DROP INDEX IF EXISTS posts.ix_posts_posts_search")
    op.execute("ALTER TABLE posts.posts DROP COLUMN search")
    op.execute("ALTER TABLE posts.posts DROP COLUMN deleted_at")
    op.execute("ALTER TABLE posts.posts DROP COLUMN edited_at")
