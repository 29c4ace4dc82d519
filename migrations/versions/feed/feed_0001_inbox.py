"""Feed: inboxes, VIP tracking, fan-out progress.

Revision ID: feed_0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "feed_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("feed",)
depends_on: str | Sequence[str] | None = "platform_0001"


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("viewer_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("viewer_id", "post_id", name="pk_inbox"),
        schema="feed",
    )
    op.create_index("ix_inbox_post_id", "inbox", ["post_id"], schema="feed")
    op.create_table(
        "vip",
        sa.Column("author_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("follower_count", sa.Integer(), nullable=False),
        _ts("changed_at"),
        sa.PrimaryKeyConstraint("author_id", name="pk_vip"),
        sa.CheckConstraint("state IN ('promoting', 'vip', 'demoting')", name="state"),
        schema="feed",
    )
    op.create_table(
        "vip_follow",
        sa.Column("viewer_id", sa.BigInteger(), nullable=False),
        sa.Column("vip_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("viewer_id", "vip_id", name="pk_vip_follow"),
        schema="feed",
    )
    op.create_index("ix_vip_follow_vip_id", "vip_follow", ["vip_id"], schema="feed")
    op.create_table(
        "vip_post",
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("author_id", "post_id", name="pk_vip_post"),
        schema="feed",
    )
    op.create_index("ix_vip_post_post_id", "vip_post", ["post_id"], schema="feed")
    op.create_table(
        "fanout",
        sa.Column("post_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("follower_cursor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("rows_inserted", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        _ts("started_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("post_id", name="pk_fanout"),
        sa.CheckConstraint("state IN ('running', 'done', 'vip', 'deleted')", name="state"),
        schema="feed",
    )
    op.create_index(
        "ix_fanout_running",
        "fanout",
        ["author_id"],
        schema="feed",
        postgresql_where=sa.text("state = 'running'"),
    )


def downgrade() -> None:
    for table in ("fanout", "vip_post", "vip_follow", "vip", "inbox"):
        op.drop_table(table, schema="feed")
