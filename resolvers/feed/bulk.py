"""Building every inbox at once, for `puppies seed --scale` (not used at run time).

What fan-out would have produced for a graph loaded in bulk: each viewer's inbox holds the
newest `feed_inbox_cap` posts of the ordinary (non-VIP) accounts they follow, plus their own;
VIP authors get their `vip`, `vip_follow` and `vip_post` rows instead. Follows and posts come
from the users/posts domains' bulk queries, composed into the feed's INSERT ... SELECTs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from sqlalchemy import BigInteger, Table, func, literal, select, text, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models.feed import InboxEntry, VipFollow, VipPost
from resolvers.posts.bulk_copy import all_posts
from resolvers.posts.feed_queries import recent_post_ids
from resolvers.runtime import Resources
from resolvers.users.bulk_copy import accounts_with_followers, edges_to, follow_edges

INBOX = cast(Table, InboxEntry.__table__)
VIP_FOLLOW = cast(Table, VipFollow.__table__)
VIP_POST = cast(Table, VipPost.__table__)

INBOX_INDEXES_DROP = (
    "ALTER TABLE feed.inbox DROP CONSTRAINT IF EXISTS pk_inbox",
    "DROP INDEX IF EXISTS feed.ix_inbox_post_id",
)
INBOX_INDEXES_CREATE = (
    "ALTER TABLE feed.inbox ADD CONSTRAINT pk_inbox PRIMARY KEY (viewer_id, post_id)",
    "CREATE INDEX ix_inbox_post_id ON feed.inbox (post_id)",
)


async def build_vips(res: Resources) -> list[tuple[int, int]]:
    """VIP rows for every account at or over the threshold; returns (id, followers)."""
    async with res.db.transaction() as session:
        vips = await accounts_with_followers(session, res.settings.feed_vip_threshold)
        for author_id, count in vips:
            await session.execute(
                text(
                    "INSERT INTO feed.vip (author_id, state, follower_count) "
                    "VALUES (:a, 'vip', :c) ON CONFLICT (author_id) DO UPDATE "
                    "SET state = 'vip', follower_count = :c"
                ),
                {"a": author_id, "c": count},
            )
            recent = recent_post_ids(author_id, res.settings.feed_inbox_cap).subquery("recent")
            await session.execute(
                pg_insert(VIP_POST)
                .from_select(
                    ["author_id", "post_id"],
                    select(literal(author_id, BigInteger), recent.c.post_id),
                )
                .on_conflict_do_nothing()
            )
        if vips:
            edges = edges_to([v for v, _ in vips]).subquery("e")
            await session.execute(
                pg_insert(VIP_FOLLOW)
                .from_select(
                    ["viewer_id", "vip_id"], select(edges.c.follower_id, edges.c.followee_id)
                )
                .on_conflict_do_nothing()
            )
    return vips


async def build_inbox_chunk(
    res: Resources, viewer_ids: Sequence[int], vip_ids: Sequence[int]
) -> int:
    """Fill the inboxes of `viewer_ids` (assumed empty); returns rows written."""
    ids = list(viewer_ids)
    edges = follow_edges(ids).subquery("e")
    ordinary = select(edges.c.follower_id, edges.c.followee_id)
    if vip_ids:
        ordinary = ordinary.where(edges.c.followee_id.not_in(list(vip_ids)))
    own = func.unnest(literal(ids, ARRAY(BigInteger)))
    pairs = union_all(ordinary, select(own.label("follower_id"), own.label("followee_id")))
    pairs_sq = pairs.subquery("pairs")
    posts = all_posts().subquery("p")
    ranked = (
        select(
            pairs_sq.c.follower_id.label("viewer_id"),
            posts.c.post_id,
            posts.c.author_id,
            func.row_number()
            .over(partition_by=pairs_sq.c.follower_id, order_by=posts.c.post_id.desc())
            .label("rn"),
        )
        .select_from(pairs_sq.join(posts, posts.c.author_id == pairs_sq.c.followee_id))
        .subquery("ranked")
    )
    async with res.db.transaction() as session:
        result = await session.execute(
            pg_insert(INBOX).from_select(
                ["viewer_id", "post_id", "author_id"],
                select(ranked.c.viewer_id, ranked.c.post_id, ranked.c.author_id).where(
                    ranked.c.rn <= res.settings.feed_inbox_cap
                ),
            )
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def build_inboxes(
    res: Resources,
    viewer_ids: Sequence[int],
    vip_ids: Sequence[int],
    *,
    chunk: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Every inbox, `chunk` viewers per statement, with the inbox indexes built at the end
    (much faster than maintaining them row by row). Returns rows written."""
    total = 0
    async with res.db.transaction() as session:
        await session.execute(text("TRUNCATE feed.inbox"))
        for sql in INBOX_INDEXES_DROP:
            await session.execute(text(sql))
    try:
        for start in range(0, len(viewer_ids), chunk):
            part = viewer_ids[start : start + chunk]
            n = await build_inbox_chunk(res, part, vip_ids)
            total += n
            if progress is not None:
                progress(len(part), n)
    finally:
        async with res.db.transaction() as session:
            await session.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
            for sql in INBOX_INDEXES_CREATE:
                await session.execute(text(sql))
        async with res.db.transaction() as session:
            await session.execute(text("ANALYZE feed.inbox"))
    return total
