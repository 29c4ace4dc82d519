"""API keys belong to a client: the name of the partner integration whose persisted-query
safelist the router applies to the key (docs/partners.md). Set by an operator
(`puppies api-keys client`), never by the key's owner.

Revision ID: users_0004
Revises: users_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "users_0004"
down_revision: str | Sequence[str] | None = "users_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("client", sa.Text(), nullable=True), schema="users")


def downgrade() -> None:
    op.drop_column("api_keys", "client", schema="users")
