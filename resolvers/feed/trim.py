"""Keeping each inbox at its cap (`feed_inbox_cap`, default 800 newest entries).

Trimming one inbox is one backward index scan to the (cap+1)-th newest entry and a range
delete below it. Fan-out trims the inboxes it touches on a deterministic sample (1 in
`feed_trim_every` per (viewer, post)), after the post's deliveries committed, so an inbox
overshoots the cap by about that many entries on average, a fan-out does not pay a trim per
follower per post, and trimming never delays a post becoming visible.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

TRIM_MANY = text(
    "DELETE FROM feed.inbox i USING ("
    "  SELECT v.viewer_id, ("
    "    SELECT x.post_id FROM feed.inbox x WHERE x.viewer_id = v.viewer_id "
    "    ORDER BY x.post_id DESC OFFSET :cap LIMIT 1"
    "  ) AS edge FROM unnest(CAST(:viewers AS bigint[])) AS v(viewer_id)"
    ") t WHERE i.viewer_id = t.viewer_id AND i.post_id <= t.edge"
)


async def trim_inboxes(session: AsyncSession, viewer_ids: Sequence[int], cap: int) -> int:
    """Delete all but the newest `cap` entries of each inbox; returns rows deleted."""
    if not viewer_ids:
        return 0
    result = await session.execute(TRIM_MANY, {"viewers": list(viewer_ids), "cap": cap})
    return int(getattr(result, "rowcount", 0) or 0)
