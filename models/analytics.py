"""The analytics schema: raw events (range-partitioned by day), dedup ledger, rollups.

- `events`: every accepted event, client-sent (trackEvents) or domain (outbox). Natively
  partitioned by RANGE (occurred_at), one partition per UTC day named `events_pYYYYMMDD`.
  Partitions are created ahead and dropped past retention (resolvers/analytics/partitions).
  No unique index lives here: a unique constraint on a partitioned table must include the
  partition key, which would let the same client id with another occurredAt through.
- `event_ids`: the dedup ledger. One row per accepted event id (a UUID derived from the
  actor and the client's id, or from the outbox event id), written in the same statement
  as the raw row, so a retried batch or a redelivered job is recorded exactly once.
- `rollup_queue`: accepted events not yet rolled up; written in the same statement as the
  raw rows and consumed (deleted) in the same transaction that adds them to the rollups,
  so every event is counted exactly once, late ones included.
- `posts`: this domain's projection of post authorship, fed by post.created/deleted events
  (other domains' tables are never read here).
- `post_hourly`, `post_daily`, `user_hourly`, `user_daily`: the rollups dashboards read.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Identity, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base

SCHEMA = "analytics"
# pg_notify channel: a statement trigger on `rollup_queue` notifies it (at commit), so the
# worker's roll-up runs when events were queued, not on a clock (workers/analytics.py).
ROLLUP_CHANNEL = "puppies_rollup"
PARTITION_PREFIX = "events_p"


class Event(Base):
    """One raw event. The table is partitioned (see the migration); the ORM key is nominal."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_analytics_events_occurred_at", "occurred_at", postgresql_using="brin"),
        {"schema": SCHEMA, "postgresql_partition_by": "RANGE (occurred_at)"},
    )
    __mapper_args__ = {"primary_key": ["event_id", "occurred_at"]}

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    type: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)  # "client" | "domain"
    client_event_id: Mapped[str] = mapped_column(Text, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    post_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)  # the user the event is about
    owner_id: Mapped[int | None] = mapped_column(BigInteger)  # the post's author, when known


class EventId(Base):
    __tablename__ = "event_ids"
    __table_args__ = (
        Index("ix_analytics_event_ids_received_at", "received_at", postgresql_using="brin"),
        {"schema": SCHEMA},
    )

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class RollupQueue(Base):
    __tablename__ = "rollup_queue"
    __table_args__ = {"schema": SCHEMA}

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    post_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    owner_id: Mapped[int | None] = mapped_column(BigInteger)


class PostAuthor(Base):
    """Who wrote which post, as told by post.created events (analytics' own projection)."""

    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_analytics_posts_author_id", "author_id"),
        {"schema": SCHEMA},
    )

    post_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    author_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _counter() -> Mapped[int]:
    return mapped_column(Integer, nullable=False, server_default=text("0"))


class PostHourly(Base):
    __tablename__ = "post_hourly"
    __table_args__ = (
        Index("ix_analytics_post_hourly_owner_bucket", "owner_id", "bucket"),
        Index("ix_analytics_post_hourly_bucket", "bucket"),
        {"schema": SCHEMA},
    )

    post_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    views: Mapped[int] = _counter()
    likes: Mapped[int] = _counter()  # net: likes minus unlikes in the bucket
    comments: Mapped[int] = _counter()
    shares: Mapped[int] = _counter()


class PostDaily(Base):
    __tablename__ = "post_daily"
    __table_args__ = (
        Index("ix_analytics_post_daily_owner_day", "owner_id", "day"),
        Index("ix_analytics_post_daily_day", "day"),
        {"schema": SCHEMA},
    )

    post_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    views: Mapped[int] = _counter()
    likes: Mapped[int] = _counter()
    comments: Mapped[int] = _counter()
    shares: Mapped[int] = _counter()


class UserHourly(Base):
    __tablename__ = "user_hourly"
    __table_args__ = (
        Index("ix_analytics_user_hourly_bucket", "bucket"),
        {"schema": SCHEMA},
    )

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    post_views: Mapped[int] = _counter()
    likes_received: Mapped[int] = _counter()
    comments_received: Mapped[int] = _counter()
    followers_gained: Mapped[int] = _counter()  # net: follows minus unfollows
    profile_views: Mapped[int] = _counter()


class UserDaily(Base):
    __tablename__ = "user_daily"
    __table_args__ = (
        Index("ix_analytics_user_daily_day", "day"),
        {"schema": SCHEMA},
    )

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    post_views: Mapped[int] = _counter()
    likes_received: Mapped[int] = _counter()
    comments_received: Mapped[int] = _counter()
    followers_gained: Mapped[int] = _counter()
    profile_views: Mapped[int] = _counter()


def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"
