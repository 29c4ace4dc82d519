"""The analytics domain's privacy rules (docs/privacy.md): the user's own events are
exported; every event and rollup naming the user (as actor, subject or post owner) is
deleted with the account."""

from __future__ import annotations

from resolvers.privacy.registry import PRIVACY

PRIVACY.owned("analytics.events", "actor_id", "user_id", "owner_id", export_by=("actor_id",))
PRIVACY.not_personal(
    "analytics.event_ids",
    reason="the de-duplication ledger: one-way ids of accepted events and when they came, "
    "dropped after the ingestion window",
)
PRIVACY.derived(
    "analytics.rollup_queue", "user_id", "owner_id", reason="events waiting to be rolled up"
)
PRIVACY.derived("analytics.posts", "author_id", reason="analytics' copy of who wrote which post")
PRIVACY.derived("analytics.post_hourly", "owner_id", reason="rollups of the user's posts")
PRIVACY.derived("analytics.post_daily", "owner_id", reason="rollups of the user's posts")
PRIVACY.derived("analytics.user_hourly", "user_id", reason="rollups about the user")
PRIVACY.derived("analytics.user_daily", "user_id", reason="rollups about the user")
