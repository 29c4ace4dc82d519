"""VIP authors: fan-out on read above `feed_vip_threshold` followers, and the crossing itself.

Readers always merge inbox rows with `vip_post` rows of their `vip_follow` authors, each post
once. A crossing never leaves a window where a follower can see a post through neither path:

Promotion (followers >= threshold):
  1. `vip.state = 'promoting'`; the author's recent posts are copied into `vip_post`. From
     now on a new post goes to `vip_post` AND is still fanned out.
  2. every follower gets a `vip_follow` row (batches of `feed_fanout_batch`; follows that
     happen meanwhile add their own row, see follows.py).
  3. `state = 'vip'`: new posts stop being fanned out. Old inbox rows age out by the cap.

Demotion (followers < threshold):
  1. `state = 'demoting'` (waits for posts that saw `vip` to land in `vip_post`). From now
     on a new post is fanned out again, and still recorded in `vip_post`.
  2. every follower's inbox gets the author's newest `feed_follow_backfill` VIP posts,
     exactly what a fresh follow would give them.
  3. once no fan-out of the author is still running, the `vip_follow`/`vip_post` rows and
     the `vip` row go, in one transaction.

Every step is idempotent; a crossing interrupted half-way is finished by the next
`reconcile_vip` (the follow consumers and a periodic sweep call it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from sqlalchemy import BigInteger, Table, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models.feed import InboxEntry, VipFollow, VipPost
from resolvers.feed.locks import author_exclusive, author_shared
from resolvers.posts.feed_queries import recent_post_ids
from resolvers.runtime import Resources
from resolvers.users.graph_queries import follower_count, follower_ids_after

log = logging.getLogger(__name__)

INBOX = cast(Table, InboxEntry.__table__)
VIP_FOLLOW = cast(Table, VipFollow.__table__)
VIP_POST = cast(Table, VipPost.__table__)
LOCK_PREFIX = "feed:vip-lock:"


async def vip_state(res: Resources, author_id: int) -> str | None:
    async with res.db.session() as session:
        return (
            await session.execute(
                text("SELECT state FROM feed.vip WHERE author_id = :a"), {"a": author_id}
            )
        ).scalar_one_or_none()


async def _each_follower_batch(res: Resources, author_id: int, write: str) -> int:
    """Run one INSERT per batch of followers: `write` is "vip_follow" or "inbox"."""
    after, total = 0, 0
    while True:
        async with res.db.transaction() as session:
            await author_shared(session, author_id)
            batch = follower_ids_after(author_id, after, res.settings.feed_fanout_batch).cte(
                "batch"
            )
            f = batch.c.follower_id
            if write == "vip_follow":
                ins = (
                    pg_insert(VIP_FOLLOW)
                    .from_select(["viewer_id", "vip_id"], select(f, literal(author_id, BigInteger)))
                    .on_conflict_do_nothing()
                    .returning(VIP_FOLLOW.c.viewer_id)
                    .cte("ins")
                )
            else:
                recent = (
                    select(VIP_POST.c.post_id)
                    .where(VIP_POST.c.author_id == author_id)
                    .order_by(VIP_POST.c.post_id.desc())
                    .limit(res.settings.feed_follow_backfill)
                    .cte("recent")
                )
                ins = (
                    pg_insert(INBOX)
                    .from_select(
                        ["viewer_id", "post_id", "author_id"],
                        select(f, recent.c.post_id, literal(author_id, BigInteger)).select_from(
                            batch.join(recent, literal(True))
                        ),
                    )
                    .on_conflict_do_nothing()
                    .returning(INBOX.c.viewer_id)
                    .cte("ins")
                )
            last, n, inserted = (
                await session.execute(
                    select(
                        select(func.max(batch.c.cursor)).scalar_subquery(),
                        select(func.count()).select_from(batch).scalar_subquery(),
                        select(func.count()).select_from(ins).scalar_subquery(),
                    )
                )
            ).one()
        total += int(inserted)
        if int(n) < res.settings.feed_fanout_batch or last is None:
            return total
        after = int(last)


async def promote(res: Resources, author_id: int, followers: int) -> None:
    async with res.db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO feed.vip (author_id, state, follower_count) "
                "VALUES (:a, 'promoting', :c) ON CONFLICT (author_id) DO UPDATE "
                "SET state = 'promoting', follower_count = :c, changed_at = now()"
            ),
            {"a": author_id, "c": followers},
        )
        recent = recent_post_ids(author_id, res.settings.feed_inbox_cap).subquery("recent")
        await session.execute(
            pg_insert(VIP_POST)
            .from_select(
                ["author_id", "post_id"],
                select(literal(author_id, BigInteger), recent.c.post_id).where(
                    text(
                        "NOT EXISTS (SELECT 1 FROM feed.fanout t WHERE t.post_id = recent.post_id "
                        "AND t.state = 'deleted')"
                    )
                ),
            )
            .on_conflict_do_nothing()
        )
    await _each_follower_batch(res, author_id, "vip_follow")
    async with res.db.transaction() as session:
        await session.execute(
            text(
                "UPDATE feed.vip SET state = 'vip', changed_at = now() "
                "WHERE author_id = :a AND state = 'promoting'"
            ),
            {"a": author_id},
        )
    log.info("author %s is a VIP (%s followers)", author_id, followers)


async def demote(
    res: Resources, author_id: int, followers: int, wait_seconds: float = 30.0
) -> bool:
    """Returns False when running fan-outs kept step 3 from finishing (retried later)."""
    async with res.db.transaction() as session:
        await session.execute(
            text(
                "UPDATE feed.vip SET state = 'demoting', follower_count = :c, "
                "changed_at = now() WHERE author_id = :a"
            ),
            {"a": author_id, "c": followers},
        )
    await _each_follower_batch(res, author_id, "inbox")
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        async with res.db.transaction() as session:
            await author_exclusive(session, author_id)
            running = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM feed.fanout WHERE state = 'running' "
                        "AND author_id = :a"
                    ),
                    {"a": author_id},
                )
            ).scalar_one()
            if running == 0:
                state = (
                    await session.execute(
                        text("SELECT state FROM feed.vip WHERE author_id = :a FOR UPDATE"),
                        {"a": author_id},
                    )
                ).scalar_one_or_none()
                if state != "demoting":
                    return True  # promoted again meanwhile: leave it to that transition
                for sql in (
                    "DELETE FROM feed.vip_follow WHERE vip_id = :a",
                    "DELETE FROM feed.vip_post WHERE author_id = :a",
                    "DELETE FROM feed.vip WHERE author_id = :a",
                ):
                    await session.execute(text(sql), {"a": author_id})
                log.info("author %s is no longer a VIP (%s followers)", author_id, followers)
                return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.2)


async def reconcile_vip(res: Resources, author_id: int) -> str:
    """Bring the author's VIP status in line with their follower count; returns the state.

    One reconciler per author at a time (a Redis lock); it re-reads the count after each
    transition, so a count that moved meanwhile is not missed.
    """
    # Most authors are far from the threshold and were never VIPs: then there is nothing to
    # reconcile, and no lock to take (two Redis round trips) nor session to open (BEGIN,
    # ROLLBACK). Anything else goes the locked way below. A transition another reconciler
    # runs meanwhile re-reads the count after it (see above), as when this one found the
    # lock taken ("busy").
    async with res.db.read() as session:
        count = await follower_count(session, author_id)
        state = (
            await session.execute(
                text("SELECT state FROM feed.vip WHERE author_id = :a"), {"a": author_id}
            )
        ).scalar_one_or_none()
    if state is None and count < res.settings.feed_vip_threshold:
        return "ordinary"
    lock = res.redis.lock(LOCK_PREFIX + str(author_id), timeout=900, blocking=False)
    if not await lock.acquire():
        return "busy"
    try:
        for _ in range(4):
            async with res.db.session() as session:
                count = await follower_count(session, author_id)
            state = await vip_state(res, author_id)
            vip = count >= res.settings.feed_vip_threshold
            if vip and state != "vip":
                await promote(res, author_id, count)
            elif not vip and state is not None:
                if not await demote(res, author_id, count):
                    return "demoting"
            else:
                if state == "vip":
                    async with res.db.transaction() as session:
                        await session.execute(
                            text("UPDATE feed.vip SET follower_count = :c WHERE author_id = :a"),
                            {"a": author_id, "c": count},
                        )
                return state or "ordinary"
        return await vip_state(res, author_id) or "ordinary"
    finally:
        await lock.release()


async def vip_authors(res: Resources) -> list[int]:
    async with res.db.session() as session:
        return [
            int(r[0])
            for r in await session.execute(
                text("SELECT author_id FROM feed.vip ORDER BY author_id")
            )
        ]
