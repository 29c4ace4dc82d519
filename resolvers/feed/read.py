"""Reading a home feed page: one inbox range scan plus one VIP query, merged by post ID.

Both go to PostgreSQL as one statement (a UNION ALL of the two, each with its own LIMIT), so
a page is one round trip.

The inbox holds what fan-out on write delivered; `vip_post` holds the recent posts of VIP
authors, merged at read time for the viewer's VIP followees (`vip_follow`). Both queries
walk an index backwards from the cursor and stop after `first + 1` rows, so a page costs
the same whatever the viewer's follow count or the authors' follower counts. A post that
sits in both (an author crossing the VIP threshold) is returned once.

The cursor is the last post ID of the page (opaque, see puppies/pagination.py): the next
page is "IDs below it", so posts arriving between pages never shift or repeat a page.

Authors blocked either way or muted by the viewer are left out at read time (the users
domain's `feed_hidden_authors_sql`, composed into the same statement), so a block or a mute
applies at once, also to posts already delivered, and lifting a mute brings them back.

When the inbox read fails or exceeds `feed_read_timeout_ms`, the page is served from the
cached popular posts instead (see resolvers/feed/popular.py) with `degraded=True`, filtered
the same way; when even that filter cannot be read, the feed is unavailable rather than
unfiltered.
"""

from __future__ import annotations

import asyncio
import logging
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from redis.exceptions import RedisError
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from puppies.pagination import PageRequest
from resolvers.feed.errors import FeedUnavailable
from resolvers.feed.popular import cached_popular
from resolvers.posts.feed_queries import live_post_ids, live_post_sql
from resolvers.runtime import Resources
from resolvers.users.graph_queries import feed_hidden_authors_sql

log = logging.getLogger(__name__)

MAX_ID = 2**63 - 1

# Authors the viewer must not see here: blocked either way, or muted by the viewer (the
# users domain's query; an uncorrelated subquery, so PostgreSQL runs it once per branch).
# Deleted posts are left out by a primary-key probe of the posts domain's table
# (`live_post_sql`), so they leave every feed at once, before the clean-up job runs.
HIDDEN = feed_hidden_authors_sql("viewer")

# One round trip: the inbox range scan and the VIP merge query, each stopping at :n rows.
PAGE = text(
    "(SELECT post_id, author_id FROM feed.inbox "
    " WHERE viewer_id = :viewer AND post_id < :before "
    f" AND author_id NOT IN ({HIDDEN}) AND {live_post_sql('feed.inbox.post_id')} "
    " ORDER BY post_id DESC LIMIT :n) "
    "UNION ALL "
    "(SELECT p.post_id, p.author_id FROM feed.vip_follow f "
    " CROSS JOIN LATERAL ("
    "   SELECT v.post_id, v.author_id FROM feed.vip_post v "
    "   WHERE v.author_id = f.vip_id AND v.post_id < :before "
    f"  AND {live_post_sql('v.post_id')} "
    "   ORDER BY v.post_id DESC LIMIT :n"
    f" ) p WHERE f.viewer_id = :viewer AND f.vip_id NOT IN ({HIDDEN}) "
    " ORDER BY p.post_id DESC LIMIT :n)"
)
HIDDEN_AUTHORS = text(HIDDEN)
# The degraded page's filter (two small index reads) gets at least this long: the inbox read
# that timed out may have been slow for its own reasons (a lock, a long scan).
DEGRADED_FILTER_MS = 1000


def install_read_budget(res: Resources) -> None:
    """Give every connection of `db` a server-side `statement_timeout` of
    `feed_read_timeout_ms`, so a slow page is cancelled inside PostgreSQL too. For the feed
    subgraph's own engine (it runs nothing but page reads), installed at start-up."""
    ms = int(res.settings.feed_read_timeout_ms)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(lambda conn: conn.execute(f"SET statement_timeout = {ms}"))

    event.listen(res.db.engine.sync_engine, "connect", on_connect)


class FeedItem(NamedTuple):
    """A tuple: made for each of a page's posts, where a frozen dataclass's `__init__` costs
    three times as much."""

    post_id: int
    author_id: int | None


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    has_next_page: bool
    degraded: bool = False
    degraded_reason: str | None = None

    @property
    def keys(self) -> list[int]:
        return [i.post_id for i in self.items]


def merge(first: int, *sources: Sequence[tuple[int, int | None]]) -> tuple[list[FeedItem], bool]:
    """Merge rows (post_id, author_id) newest first, each post once; (page, has_next)."""
    seen: dict[int, int | None] = {}
    for rows in sources:
        for post_id, author_id in rows:
            seen.setdefault(post_id, author_id)
    ordered = sorted(seen.items(), key=itemgetter(0), reverse=True)
    make = FeedItem._make
    return [make(kv) for kv in ordered[:first]], len(ordered) > first


async def read_inbox_page(res: Resources, viewer_id: int, request: PageRequest) -> FeedPage:
    """The normal path: one statement, one round trip. Raises on a database error or timeout.

    The hot path of the product: a Core connection in autocommit (no BEGIN/ROLLBACK round
    trips for a single read) rather than an ORM session, about 0.6 ms CPU less a page.
    """
    before = request.after if request.after is not None else MAX_ID
    params = {"viewer": viewer_id, "before": before, "n": request.first + 1}
    # each row is a tuple (post_id, author_id), as `merge` takes them
    rows = typing.cast(Sequence[tuple[int, int]], await res.db.rows(PAGE, params))
    items, has_next = merge(request.first, rows)
    return FeedPage(items=items, has_next_page=has_next)


async def read_feed(res: Resources, viewer_id: int, request: PageRequest) -> FeedPage:
    """A page of the viewer's home feed, or the degraded popular page if the inbox fails."""
    if request.first == 0:
        return FeedPage(items=[], has_next_page=False)
    # Client-side budget: covers waiting for a pooled connection or a dead server, and
    # engines without `install_read_budget`.
    budget = res.settings.feed_read_timeout_ms / 1000 + 0.05
    try:
        async with asyncio.timeout(budget):
            return await read_inbox_page(res, viewer_id, request)
    except TimeoutError:
        reason = "TIMEOUT"
    except DBAPIError as exc:
        reason = "TIMEOUT" if "statement timeout" in str(exc.orig) else "INBOX_UNAVAILABLE"
        log.warning("feed inbox read failed for viewer %s: %s", viewer_id, exc.orig)
    except (SQLAlchemyError, OSError) as exc:
        reason = "INBOX_UNAVAILABLE"
        log.warning("feed inbox read failed for viewer %s: %s", viewer_id, exc)
    return await degraded_page(res, request, reason, viewer_id)


async def _filters(
    res: Resources, viewer_id: int | None, post_ids: list[int]
) -> tuple[set[int], set[int]]:
    """(authors hidden from the viewer, the posts among `post_ids` still live) for the
    degraded page; FeedUnavailable when they cannot be read (the popular posts are never
    served unfiltered)."""
    try:
        async with asyncio.timeout(
            max(res.settings.feed_read_timeout_ms, DEGRADED_FILTER_MS) / 1000
        ):
            async with res.db.session() as session:
                hidden: set[int] = set()
                if viewer_id is not None:
                    rows = await session.execute(HIDDEN_AUTHORS, {"viewer": viewer_id})
                    hidden = {int(r[0]) for r in rows}
                return hidden, await live_post_ids(session, post_ids)
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        raise FeedUnavailable("the feed is temporarily unavailable; retry shortly") from exc


async def degraded_page(
    res: Resources, request: PageRequest, reason: str, viewer_id: int | None = None
) -> FeedPage:
    try:
        popular = await cached_popular(res)
    except RedisError as exc:
        raise FeedUnavailable("the feed is temporarily unavailable; retry shortly") from exc
    if popular is None:
        raise FeedUnavailable("the feed is temporarily unavailable; retry shortly")
    before = request.after if request.after is not None else MAX_ID
    hidden, live = await _filters(res, viewer_id, [p for p, _ in popular if p < before])
    rows = [(p, a) for p, a in popular if p < before and a not in hidden and p in live]
    items, has_next = merge(request.first, rows)
    return FeedPage(items=items, has_next_page=has_next, degraded=True, degraded_reason=reason)
