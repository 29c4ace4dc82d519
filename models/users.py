"""The users domain's tables (schema `users`): accounts, follows, refresh tokens, API keys,
and its outbox.

- `users`: `username` and `email` are unique case-insensitively (indexes on lower()).
  `follower_count` / `following_count` change in the same statement that inserts or deletes
  a `follows` row (resolvers/users/follows.py), so they are exact under concurrency.
- `follows`: primary key (follower_id, followee_id): following twice is one edge. `id` is a
  time-ordered bigint used as the pagination cursor of both follower and following lists.
- `refresh_tokens`: stored as SHA-256 of the opaque token. Every rotation inserts a new
  row in the same `family_id` and stamps `rotated_at` on the old one; presenting a rotated
  token again revokes the whole family.
- `api_keys`: `prefix` (clear, unique) finds the row, `secret_hash` (SHA-256) proves it.
- `users.role`: `user`, `moderator` or `admin` (docs/identity.md); `users.password_hash` is
  NULL for an account made by an OpenID Connect sign-in that never set a password;
  `users.email_verified_at` is when an OpenID Connect provider vouched for the address;
  `users.disabled_at` is set when the account's deletion starts (nothing works for it from
  then on).
- `oidc_identities`: (provider, subject) of an OpenID Connect identity linked to an account.
- `data_exports`: GDPR data export jobs and their archive in S3.
- `account_deletions`: a deletion in progress and the domains that have finished it; the row
  goes with the account at the end.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base
from models.outbox import outbox_table, processed_table

SCHEMA = "users"
NEXT_ID = text("public.next_id()")
PLANS = ("free", "pro", "enterprise")
ROLES = ("user", "moderator", "admin")
EXPORT_STATUSES = ("PENDING", "RUNNING", "READY", "FAILED", "EXPIRED")

OUTBOX = outbox_table(SCHEMA)
PROCESSED = processed_table(SCHEMA)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_users_username_lower", text("lower(username)"), unique=True),
        Index("uq_users_users_email_lower", text("lower(email)"), unique=True),
        # searchUsers: username prefixes (LIKE 'abc%') and display-name word prefixes
        Index("ix_users_users_username_prefix", text("lower(username) text_pattern_ops")),
        Index(
            "ix_users_users_display_name_words",
            text("to_tsvector('simple', display_name)"),
            postgresql_using="gin",
        ),
        CheckConstraint("plan IN ('free', 'pro', 'enterprise')", name="plan"),
        CheckConstraint("role IN ('user', 'moderator', 'admin')", name="role"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    username: Mapped[str] = mapped_column(Text, nullable=False)
    email: Mapped[str] = mapped_column(Text, nullable=False)
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text, nullable=False, server_default="user")
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    display_name: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    bio: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    plan: Mapped[str] = mapped_column(Text, nullable=False, server_default="free")
    follower_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    following_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint("follower_id <> followee_id", name="not_self"),
        Index("uq_users_follows_id", "id", unique=True),
        # INCLUDE makes follower/following pages and fan-out batches index-only scans.
        Index(
            "ix_users_follows_followee_id_id",
            "followee_id",
            text("id DESC"),
            postgresql_include=["follower_id"],
        ),
        Index(
            "ix_users_follows_follower_id_id",
            "follower_id",
            text("id DESC"),
            postgresql_include=["followee_id"],
        ),
        {"schema": SCHEMA},
    )

    follower_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), primary_key=True
    )
    followee_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=NEXT_ID)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("uq_users_refresh_tokens_token_hash", "token_hash", unique=True),
        Index("ix_users_refresh_tokens_family_id", "family_id"),
        Index("ix_users_refresh_tokens_user_id", "user_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), nullable=False
    )
    family_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    token_hash: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        Index("uq_users_api_keys_prefix", "prefix", unique=True),
        Index("ix_users_api_keys_user_id", "user_id"),
        CheckConstraint("tier IN ('free', 'pro', 'enterprise')", name="tier"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    prefix: Mapped[str] = mapped_column(Text, nullable=False)
    secret_hash: Mapped[str] = mapped_column(Text, nullable=False)
    tier: Mapped[str] = mapped_column(Text, nullable=False)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The partner integration the key belongs to (its persisted-query safelist at the
    # router); set by an operator (`puppies api-keys client`), never by the key's owner.
    client: Mapped[str | None] = mapped_column(Text)


class OidcIdentity(Base):
    __tablename__ = "oidc_identities"
    __table_args__ = (
        Index("uq_users_oidc_identities_provider_subject", "provider", "subject", unique=True),
        Index("ix_users_oidc_identities_user_id", "user_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), nullable=False
    )
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    issuer: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    email: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_used_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class DataExport(Base):
    __tablename__ = "data_exports"
    __table_args__ = (
        Index("ix_users_data_exports_user_id_id", "user_id", text("id DESC")),
        CheckConstraint(
            "status IN ('PENDING', 'RUNNING', 'READY', 'FAILED', 'EXPIRED')", name="status"
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="PENDING")
    object_key: Mapped[str | None] = mapped_column(Text)
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccountDeletion(Base):
    __tablename__ = "account_deletions"
    __table_args__ = ({"schema": SCHEMA},)

    # no foreign key: the row outlives the account's row by one statement at the very end
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    done: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Block(Base):
    """`blocker_id` blocks `blocked_id`: neither sees the other's posts, comments or likes,
    neither can follow the other (docs/social.md). The primary key makes blocking twice one
    row; the reverse index answers "who blocks me"."""

    __tablename__ = "blocks"
    __table_args__ = (
        CheckConstraint("blocker_id <> blocked_id", name="not_self"),
        Index("ix_users_blocks_blocked_id", "blocked_id", "blocker_id"),
        Index(
            "ix_users_blocks_blocker_id_id",
            "blocker_id",
            text("id DESC"),
            postgresql_include=["blocked_id"],
        ),
        {"schema": SCHEMA},
    )

    blocker_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=NEXT_ID)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class Mute(Base):
    """`muter_id` mutes `muted_id`: the muted account's posts leave the muter's home feed
    and its actions stop notifying the muter. Nothing else changes (follows stay)."""

    __tablename__ = "mutes"
    __table_args__ = (
        CheckConstraint("muter_id <> muted_id", name="not_self"),
        Index(
            "ix_users_mutes_muter_id_id",
            "muter_id",
            text("id DESC"),
            postgresql_include=["muted_id"],
        ),
        {"schema": SCHEMA},
    )

    muter_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), primary_key=True
    )
    muted_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=NEXT_ID)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class PasswordReset(Base):
    """One password-reset request for an existing account (docs/social.md, "Passwords").

    Made by the worker that mails the link, keyed by the request's outbox event
    (`request_id`), so a redelivered job finds its row. The token itself is never stored:
    `token_hash` is its SHA-256, replaced if the mail has to be sent again (then only the
    newest link works). `used_at` makes it single-use; a successful reset also closes every
    other open request of the account.
    """

    __tablename__ = "password_resets"
    __table_args__ = (
        Index("uq_users_password_resets_request_id", "request_id", unique=True),
        Index("uq_users_password_resets_token_hash", "token_hash", unique=True),
        Index("ix_users_password_resets_user_id", "user_id"),
        Index("ix_users_password_resets_expires_at", "expires_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), nullable=False
    )
    request_id: Mapped[str] = mapped_column(Text, nullable=False)
    token_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    mailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


NOTIFICATION_KINDS = ("FOLLOW", "LIKE", "COMMENT", "REPLY")


class Notification(Base):
    """Something that happened to `recipient_id`, made by a worker from another domain's
    outbox event (docs/social.md, "Notifications"). `dedupe_key` names what it is about
    (`follow:<actor>`, `like:<post>:<actor>`, `comment:<id>`, `reply:<id>`): with the
    recipient it is unique, so a redelivered event, or a like after an unlike, notifies
    once. `read_at` is set by markNotificationsRead."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("kind IN ('FOLLOW', 'LIKE', 'COMMENT', 'REPLY')", name="kind"),
        Index(
            "uq_users_notifications_recipient_id_dedupe_key",
            "recipient_id",
            "dedupe_key",
            unique=True,
        ),
        Index("ix_users_notifications_recipient_id_id", "recipient_id", text("id DESC")),
        Index(
            "ix_users_notifications_unread",
            "recipient_id",
            postgresql_where=text("read_at IS NULL"),
        ),
        Index("ix_users_notifications_actor_id", "actor_id"),
        Index(
            "ix_users_notifications_post_id",
            "post_id",
            postgresql_where=text("post_id IS NOT NULL"),
        ),
        Index(
            "ix_users_notifications_comment_id",
            "comment_id",
            postgresql_where=text("comment_id IS NOT NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=NEXT_ID)
    recipient_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    actor_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), nullable=False
    )
    post_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    comment_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
