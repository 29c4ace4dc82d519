"""The feed domain's tables (schema `feed`): inboxes, VIP tracking, fan-out progress.

- `inbox`: one row per (viewer, post) pushed by fan-out on write. The primary key is also the
  read index: a page is one backward range scan of `(viewer_id, post_id < cursor)`. Post IDs
  are time-ordered snowflakes, so no timestamp column is needed.
- `vip`: authors whose posts are merged at read time (fan-out on read). `state` makes the
  threshold crossing gap-free: while `promoting` or `demoting`, new posts are both fanned out
  and recorded in `vip_post`, so every follower sees them through one path or the other.
- `vip_follow`: the feed's own copy of "viewer follows this VIP", maintained from follow
  events, so the read-time merge is one query in this schema.
- `vip_post`: the recent posts of VIP authors (what a read merges in).
- `fanout`: one row per post: how far its fan-out got (`follower_cursor`), so a job killed
  mid-way resumes where it stopped; `state = 'deleted'` is the post's tombstone, which stops a
  late or retried fan-out from resurrecting it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base

SCHEMA = "feed"

VIP_STATES = ("promoting", "vip", "demoting")
FANOUT_STATES = ("running", "done", "vip", "deleted")


class InboxEntry(Base):
    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_post_id", "post_id"),
        {"schema": SCHEMA},
    )

    viewer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    post_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    author_id: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Vip(Base):
    __tablename__ = "vip"
    __table_args__ = (
        CheckConstraint(f"state IN {VIP_STATES!r}", name="state"),
        {"schema": SCHEMA},
    )

    author_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    follower_count: Mapped[int] = mapped_column(Integer, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class VipFollow(Base):
    __tablename__ = "vip_follow"
    __table_args__ = (
        Index("ix_vip_follow_vip_id", "vip_id"),
        {"schema": SCHEMA},
    )

    viewer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    vip_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class VipPost(Base):
    __tablename__ = "vip_post"
    __table_args__ = (
        Index("ix_vip_post_post_id", "post_id"),
        {"schema": SCHEMA},
    )

    author_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    post_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class Fanout(Base):
    __tablename__ = "fanout"
    __table_args__ = (
        CheckConstraint(f"state IN {FANOUT_STATES!r}", name="state"),
        Index("ix_fanout_running", "author_id", postgresql_where="state = 'running'"),
        {"schema": SCHEMA},
    )

    post_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    author_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    follower_cursor: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    rows_inserted: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # A running fan-out's worker renews this each batch; once it lapses, the worker is
    # presumed dead and the stalled-fan-out sweep hands the post to another worker.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
