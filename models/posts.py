"""The posts domain's tables (schema `posts`): posts, media, likes, comments, and its outbox.

- `posts`: `like_count` is a buffered counter: likes write rows in `likes`, the worker
  recomputes `like_count` from those rows for the posts marked dirty in Redis (see
  resolvers/posts/likes.py); `comment_count` is kept in the comment's transaction.
  `published_at` is when the post became visible: at once for a text post, when its last
  medium became READY otherwise; NULL until then (resolvers/posts/publication.py).
- `post_counts`: per author, published and unpublished posts, kept with every change.
- `media`: one row per attachment; `status` walks PENDING_UPLOAD -> PROCESSING -> READY or
  FAILED. `byte_size`/`content_type` are what the client declared (the presigned upload is
  bound to them); `width`, `height`, `stored_bytes` are what processing found.
- `likes`: primary key (post_id, user_id): liking twice is one like. `id` is time-ordered,
  the cursor of `Post.likedBy`.
- `comments`: top-level comments (newest first by id) and replies to them (`parent_id`, one
  level deep, oldest first); `reply_count` is kept in the reply's transaction.
- `posts.deleted_at`: a deleted post is hidden at once; the `posts.purge_post` job removes
  its likes, comments, media and files, then the row (docs/social.md). `search` is a
  stored tsvector of the text (English), GIN-indexed, for `searchPosts`.
- `reports`: a user's report of a post (one per user and post) until a moderator resolves
  it; they go with the post.
- `moderation_actions`: what moderators did (a post removed, reports dismissed), kept after
  the post is gone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base
from models.outbox import outbox_table, processed_table

SCHEMA = "posts"

MEDIA_STATUSES = ("PENDING_UPLOAD", "PROCESSING", "READY", "FAILED")
REPORT_REASONS = ("SPAM", "HARASSMENT", "HATE", "VIOLENCE", "NUDITY", "MISINFORMATION", "OTHER")
MODERATION_ACTIONS = ("REMOVED", "DISMISSED")

OUTBOX = outbox_table(SCHEMA)
PROCESSED = processed_table(SCHEMA)

NEXT_ID = text("public.next_id()")


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_posts_author_id_id", "author_id", text("id DESC")),
        Index("ix_posts_posts_search", "search", postgresql_using="gin"),
        Index(
            "ix_posts_posts_deleted",
            "deleted_at",
            postgresql_where=text("deleted_at IS NOT NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    author_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    like_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    comment_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    published_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, server_default=func.now()
    )
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('english'::regconfig, text)", persisted=True),
        deferred=True,
    )


class PostCount(Base):
    __tablename__ = "post_counts"
    __table_args__ = ({"schema": SCHEMA},)

    author_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    published: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    unpublished: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class Media(Base):
    __tablename__ = "media"
    __table_args__ = (
        CheckConstraint(
            "status IN ('PENDING_UPLOAD', 'PROCESSING', 'READY', 'FAILED')", name="status"
        ),
        Index("ix_posts_media_post_id_position", "post_id", "position"),
        Index(
            "ix_posts_media_unfinished",
            "updated_at",
            postgresql_where=text("status IN ('PENDING_UPLOAD', 'PROCESSING')"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    post_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("posts.posts.id", ondelete="CASCADE"), nullable=False
    )
    author_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    position: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="PENDING_UPLOAD")
    content_type: Mapped[str] = mapped_column(Text, nullable=False)
    byte_size: Mapped[int] = mapped_column(Integer, nullable=False)
    object_key: Mapped[str] = mapped_column(Text, nullable=False)
    stored_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    stored_content_type: Mapped[str | None] = mapped_column(Text, nullable=True)
    stored_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    thumbnails: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class Like(Base):
    __tablename__ = "likes"
    __table_args__ = (
        Index(
            "ix_posts_likes_post_id_id",
            "post_id",
            text("id DESC"),
            postgresql_include=["user_id"],
        ),
        {"schema": SCHEMA},
    )

    post_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("posts.posts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=NEXT_ID)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        Index(
            "ix_posts_comments_post_id_id",
            "post_id",
            text("id DESC"),
            postgresql_where=text("parent_id IS NULL"),
        ),
        Index(
            "ix_posts_comments_parent_id_id",
            "parent_id",
            "id",
            postgresql_where=text("parent_id IS NOT NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    post_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("posts.posts.id", ondelete="CASCADE"), nullable=False
    )
    author_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    parent_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("posts.comments.id", ondelete="CASCADE"), nullable=True
    )
    reply_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("uq_posts_reports_post_id_reporter_id", "post_id", "reporter_id", unique=True),
        Index("ix_posts_reports_open", "id", postgresql_where=text("resolved_at IS NULL")),
        Index("ix_posts_reports_reporter_id", "reporter_id"),
        CheckConstraint(f"reason IN {REPORT_REASONS!r}", name="reason"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    post_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("posts.posts.id", ondelete="CASCADE"), nullable=False
    )
    reporter_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ModerationAction(Base):
    __tablename__ = "moderation_actions"
    __table_args__ = (
        Index("ix_posts_moderation_actions_author_id", "author_id"),
        Index("ix_posts_moderation_actions_moderator_id", "moderator_id"),
        CheckConstraint(f"action IN {MODERATION_ACTIONS!r}", name="action"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    post_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # may be gone
    author_id: Mapped[int | None] = mapped_column(BigInteger)
    moderator_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    reports: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
