"""Analytics: a NOTIFY when events are queued for the roll-up.

The worker's roll-up ran every 100 ms whether or not anything was queued (10 transactions a
second on an idle system). A statement trigger on `rollup_queue` now notifies
`puppies_rollup` (delivered at commit, one per transaction however many rows it queued) and
the worker rolls up when notified (workers/analytics.py).

Revision ID: analytics_0003
Revises: analytics_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "analytics_0003"
down_revision: str | Sequence[str] | None = "analytics_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION analytics.rollup_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('puppies_rollup', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER rollup_notify AFTER INSERT ON analytics.rollup_queue "
        "FOR EACH STATEMENT EXECUTE FUNCTION analytics.rollup_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS rollup_notify ON analytics.rollup_queue")
    op.execute("DROP FUNCTION IF EXISTS analytics.rollup_notify()")
