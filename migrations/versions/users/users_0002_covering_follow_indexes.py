"""Covering follow indexes: follower/following pages and feed fan-out batches become
index-only scans (each fan-out batch spent 50-65 ms in heap fetches without them).

Revision ID: users_0002
Revises: users_0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "users_0002"
down_revision: str | Sequence[str] | None = "users_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _swap(include: bool) -> None:
    for name, lead, other in (
        ("ix_users_follows_followee_id_id", "followee_id", "follower_id"),
        ("ix_users_follows_follower_id_id", "follower_id", "followee_id"),
    ):
        op.execute(f"DROP INDEX IF EXISTS users.{name}")
        extra = f" INCLUDE ({other})" if include else ""
        op.execute(f"CREATE INDEX {name} ON users.follows ({lead}, id DESC){extra}")


def upgrade() -> None:
    _swap(include=True)


def downgrade() -> None:
    _swap(include=False)
