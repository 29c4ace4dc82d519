"""Analytics: time indexes on the per-user rollups.

Rebuilding a period and pruning hourly rollups past retention delete by time; without
these, each such statement scanned the whole per-user rollup (measured: 11 s per day
rebuilt with 10,000,000 raw events).

Revision ID: analytics_0002
Revises: analytics_0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "analytics_0002"
down_revision: str | Sequence[str] | None = "analytics_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_analytics_user_hourly_bucket ON analytics.user_hourly (bucket)")
    op.execute("CREATE INDEX ix_analytics_user_daily_day ON analytics.user_daily (day)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS analytics.ix_analytics_user_daily_day")
    op.execute("DROP INDEX IF EXISTS analytics.ix_analytics_user_hourly_bucket")
