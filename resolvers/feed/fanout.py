"""Fan-out on write: a new post goes into every follower's inbox, 10,000 followers a statement.

`start_fanout` records the post in `feed.fanout` (state `running`, or `vip` when the author
is a VIP: then the post only goes to `vip_post` and is merged at read time) and puts it in
the author's own inbox. `run_fanout` then walks the followers in ascending ID order, one
batch per transaction:

    INSERT INTO feed.inbox SELECT follower, post, author FROM <next followers>
    ON CONFLICT DO NOTHING

and in the same transaction moves `fanout.follower_cursor` past the batch's last follower.
A worker killed mid fan-out leaves the progress of its last committed batch; whoever runs
the post next (a retry, or the stalled-fan-out sweep once the lease lapses) continues from
there. A batch replayed after a crash inserts nothing twice (primary key + DO NOTHING).
The followers come from the users domain (resolvers/users/graph_queries.py), composed into
the INSERT as a subquery so each batch is one statement and one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Float,
    Select,
    Table,
    bindparam,
    case,
    func,
    literal,
    null,
    select,
    text,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.feed import Fanout, InboxEntry
from puppies.settings import Settings
from resolvers.feed.locks import SHARED_OF_FANOUT_ASYNC_COMMIT, author_exclusive
from resolvers.feed.trim import TRIM_MANY, sample_condition, trim_inboxes
from resolvers.runtime import Resources
from resolvers.users.graph_queries import follower_ids_after

INBOX = cast(Table, InboxEntry.__table__)
FANOUT = cast(Table, Fanout.__table__)
TRIM_CHUNK = 1000
# The post's fan-out record and the author's VIP state in ONE statement (it was two, three
# on a redelivery): the VIP row locked FOR SHARE (a demotion waits until posts that saw
# "vip" are in vip_post), the record inserted unless it exists, and the existing record's
# state when it does. With :claim a `running` record is inserted with the fan-out's lease
# already taken (no separate claim statement). `existing` is read in the statement's
# snapshot: NULL together with `inserted` when a concurrent insert won the conflict after
# it was taken (then read again).
_START = text(
    "WITH v AS (SELECT state FROM feed.vip WHERE author_id = :a FOR SHARE), "
    "s AS (SELECT CASE WHEN (SELECT state FROM v) = 'vip' THEN 'vip' ELSE 'running' END AS s), "
    "ins AS ("
    " INSERT INTO feed.fanout (post_id, author_id, state, lease_until)"
    " SELECT :p, :a, s.s, CASE WHEN :claim AND s.s = 'running'"
    "  THEN now() + make_interval(secs => :l) END FROM s"
    " ON CONFLICT (post_id) DO NOTHING RETURNING state) "
    "SELECT (SELECT state FROM v) AS vip_state, (SELECT state FROM ins) AS inserted, "
    "(SELECT state FROM feed.fanout WHERE post_id = :p) AS existing"
)
VIP_POST_TRIM = text(
    "DELETE FROM feed.vip_post WHERE author_id = :a AND post_id <= ("
    " SELECT post_id FROM feed.vip_post WHERE author_id = :a "
    " ORDER BY post_id DESC OFFSET :cap LIMIT 1)"
)


@dataclass
class FanoutResult:
    post_id: int
    state: str
    batches: int = 0
    rows_inserted: int = 0


async def start_fanout(res: Resources, post_id: int, author_id: int) -> str:
    """Record the post for fan-out; returns its state (`running`, `vip`, `done`, `deleted`)."""
    state, _ = await _start(res, post_id, author_id, claim=False)
    return state


async def _start(res: Resources, post_id: int, author_id: int, *, claim: bool) -> tuple[str, bool]:
    """`start_fanout`; with `claim`, a `running` record it creates has the fan-out's lease
    taken: (state, True) then, and the caller runs it without claiming it again."""
    lease = float(res.settings.feed_fanout_lease_seconds)
    async with res.db.transaction() as session:
        row = (
            await session.execute(
                _START, {"p": post_id, "a": author_id, "claim": claim, "l": lease}
            )
        ).one()
        vip_state = row.vip_state
        state = row.inserted or row.existing
        if state is None:  # a concurrent start committed the record after our snapshot
            state = (
                await session.execute(
                    text("SELECT state FROM feed.fanout WHERE post_id = :p"), {"p": post_id}
                )
            ).scalar_one()
        claimed = claim and row.inserted == "running"
        if state == "deleted":
            return state, False
        if vip_state is not None:
            await session.execute(
                text(
                    "INSERT INTO feed.vip_post (author_id, post_id) VALUES (:a, :p) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"a": author_id, "p": post_id},
            )
            # A VIP's merged posts are capped like an inbox.
            await session.execute(
                VIP_POST_TRIM, {"a": author_id, "cap": res.settings.feed_inbox_cap}
            )
        # The author sees their own post; their inbox is trimmed on the same sample as
        # every other delivery (trim.py), not on every post.
        sampled = (
            await session.execute(
                _OWN_INBOX, {"a": author_id, "p": post_id, "n": res.settings.feed_trim_every}
            )
        ).scalar_one()
        if sampled:
            await trim_inboxes(session, [author_id], res.settings.feed_inbox_cap)
    return str(state), claimed


async def _claim(res: Resources, post_id: int, lease_seconds: float) -> bool:
    async with res.db.autocommit.connect() as session:  # one statement: atomic alone
        row = (
            await session.execute(
                text(
                    "UPDATE feed.fanout SET lease_until = now() + make_interval(secs => :l) "
                    "WHERE post_id = :p AND state = 'running' "
                    "AND (lease_until IS NULL OR lease_until < now()) RETURNING post_id"
                ),
                {"p": post_id, "l": lease_seconds},
            )
        ).first()
    return row is not None


# The author's own inbox entry, and whether it is in the trim sample (trim.py's
# `sample_condition`; `% 1` is always 0: every delivery trims with FEED_TRIM_EVERY=1), as
# `insert_sampled` does for a built insert: one prepared text, not a statement built per post.
_OWN_INBOX = text(
    "WITH ins AS (INSERT INTO feed.inbox (viewer_id, post_id, author_id) "
    "VALUES (:a, :p, :a) ON CONFLICT DO NOTHING RETURNING viewer_id, post_id) "
    "SELECT EXISTS (SELECT 1 FROM ins "
    "WHERE (hashint8(ins.viewer_id # ins.post_id) & 2147483647) % CAST(:n AS int) = 0)"
)

# Built once per (record, sampled) with bound parameters (`_batch_statement`): building the
# statement for every batch (its CTEs, the INSERT ... FROM SELECT, the UPDATE) was most of
# a small fan-out's CPU.
_BATCH_STATEMENTS: dict[tuple[bool, bool], Select[Any]] = {}


def _batch_statement(record: bool, sampled: bool) -> Select[Any]:
    key = (record, sampled)
    stmt = _BATCH_STATEMENTS.get(key)
    if stmt is not None:
        return stmt
    post = bindparam("fb_post", type_=BigInteger)
    author = bindparam("fb_author", type_=BigInteger)
    limit = bindparam("fb_limit", type_=BigInteger)
    batch = follower_ids_after(
        cast(int, author), cast(int, bindparam("fb_after", type_=BigInteger)), cast(int, limit)
    ).cte("batch")
    follower = batch.c.follower_id
    ins = (
        pg_insert(INBOX)
        .from_select(
            ["viewer_id", "post_id", "author_id"],
            # In key order: the primary-key leaves are visited once each, left to right.
            select(follower, post, author).order_by(follower),
        )
        .on_conflict_do_nothing()
        .returning(INBOX.c.viewer_id)
        .cte("ins")
    )
    condition = (
        sample_condition("batch.follower_id", "CAST(:fb_post AS bigint)", 2)
        if sampled
        else literal(True)
    )
    last_q = select(func.max(batch.c.cursor)).scalar_subquery()
    n_q = select(func.count()).select_from(batch).scalar_subquery()
    inserted_q = select(func.count()).select_from(ins).scalar_subquery()
    columns: list[Any] = [
        last_q,
        n_q,
        inserted_q,
        select(func.array_agg(follower)).where(condition).scalar_subquery(),  # type: ignore[arg-type]
    ]
    if record:
        done = n_q < limit
        lease = bindparam("fb_lease", type_=Float)
        upd = (
            sql_update(FANOUT)
            .where(FANOUT.c.post_id == post)
            .values(
                follower_cursor=func.coalesce(last_q, FANOUT.c.follower_cursor),
                rows_inserted=FANOUT.c.rows_inserted + inserted_q,
                updated_at=func.now(),
                state=case((done, "done"), else_=FANOUT.c.state),
                lease_until=case(
                    (done, null()),
                    else_=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, lease),
                ),
            )
            .returning(FANOUT.c.post_id)
            .cte("upd")
        )
        # referenced, so rendered (and run: PostgreSQL runs a data-modifying CTE anyway)
        columns.append(select(func.count()).select_from(upd).scalar_subquery())
    stmt = select(*columns)
    _BATCH_STATEMENTS[key] = stmt
    return stmt


async def fanout_batch(
    session: AsyncSession,
    settings: Settings,
    post_id: int,
    author_id: int,
    after: int,
    *,
    record: bool = False,
) -> tuple[int | None, int, int, list[int]]:
    """One batch: (follower cursor after it, followers in batch, rows inserted, sampled
    viewers to trim).

    With `record`, the same statement also records the batch in the post's `feed.fanout`
    row (locked by the caller): the cursor past the batch, the rows inserted, and `done`
    (lease dropped) when the batch was the last, else the lease renewed. One round trip
    where the batch and its record were two."""
    every = settings.feed_trim_every
    params: dict[str, Any] = {
        "fb_post": post_id,
        "fb_author": author_id,
        "fb_after": after,
        "fb_limit": settings.feed_fanout_batch,
        "sample_every": every,
    }
    if record:
        params["fb_lease"] = float(settings.feed_fanout_lease_seconds)
    stmt = _batch_statement(record, every > 1)
    row = (await session.execute(stmt, params)).one()
    last, n, inserted, sample = row[0], row[1], row[2], row[3]
    return last, int(n), int(inserted), list(sample or [])


async def run_fanout(res: Resources, post_id: int, *, claimed: bool = False) -> FanoutResult:
    """Deliver a `running` post to the followers not reached yet; resumable, idempotent.
    Then trim the sampled inboxes it touched. `claimed`: the caller holds the fan-out's
    lease already (`_start` took it with the record)."""
    lease = float(res.settings.feed_fanout_lease_seconds)
    result = FanoutResult(post_id=post_id, state="running")
    to_trim: list[int] = []
    if not claimed and not await _claim(res, post_id, lease):
        async with res.db.session() as session:
            state = (
                await session.execute(
                    text("SELECT state FROM feed.fanout WHERE post_id = :p"), {"p": post_id}
                )
            ).scalar_one_or_none()
        result.state = str(state) if state else "missing"
        return result
    while True:
        async with res.db.transaction() as session:
            # No WAL flush wait: the `running` row was committed durably by start_fanout, so
            # a batch lost in a database crash is redone by the stalled-fan-out sweep. And
            # the author's lock before the row's, as delete_post takes them (locks.py): one
            # statement.
            await session.execute(SHARED_OF_FANOUT_ASYNC_COMMIT, {"p": post_id})
            row = (
                await session.execute(
                    text(
                        "SELECT author_id, state, follower_cursor FROM feed.fanout "
                        "WHERE post_id = :p FOR UPDATE"
                    ),
                    {"p": post_id},
                )
            ).one()
            if row.state != "running":
                result.state = row.state
                return result
            # the batch and its record (cursor, count, done or lease renewed): one statement
            _, n, inserted, sample = await fanout_batch(
                session, res.settings, post_id, row.author_id, row.follower_cursor, record=True
            )
            to_trim += sample
            done = n < res.settings.feed_fanout_batch
        result.batches += 1
        result.rows_inserted += inserted
        if done:
            result.state = "done"
            break
    # Trim after the deliveries committed, so trimming never delays a post becoming visible.
    # (If the worker dies first, these inboxes are trimmed when next sampled.) One statement
    # in autocommit per chunk: a trim is atomic alone.
    cap = res.settings.feed_inbox_cap
    for start in range(0, len(to_trim), TRIM_CHUNK):
        async with res.db.autocommit.connect() as connection:
            await connection.execute(
                TRIM_MANY, {"viewers": to_trim[start : start + TRIM_CHUNK], "cap": cap}
            )
    return result


async def fan_out_post(res: Resources, post_id: int, author_id: int) -> FanoutResult:
    """The whole `post.published` effect: record, own inbox, then followers (if not a VIP)."""
    state, claimed = await _start(res, post_id, author_id, claim=True)
    if state != "running":
        return FanoutResult(post_id=post_id, state=state)
    return await run_fanout(res, post_id, claimed=claimed)


async def stalled_fanouts(res: Resources, limit: int = 100) -> list[int]:
    """Posts whose fan-out is unfinished and whose lease lapsed (its worker died)."""
    async with res.db.session() as session:
        rows = await session.execute(
            text(
                "SELECT post_id FROM feed.fanout WHERE state = 'running' "
                "AND (lease_until IS NULL OR lease_until < now()) "
                "ORDER BY post_id LIMIT :n"
            ),
            {"n": limit},
        )
        return [int(r[0]) for r in rows]


async def delete_post(res: Resources, post_id: int, author_id: int | None) -> int:
    """Remove a post from every inbox and from the VIP posts; leaves a tombstone so a late
    or retried fan-out of it does nothing. Returns inbox rows removed."""
    async with res.db.transaction() as session:
        if author_id is None:
            author_id = (
                await session.execute(
                    text("SELECT author_id FROM feed.fanout WHERE post_id = :p"), {"p": post_id}
                )
            ).scalar_one_or_none()
        if author_id is not None:
            await author_exclusive(session, author_id)
        await session.execute(
            text(
                "INSERT INTO feed.fanout (post_id, author_id, state) VALUES (:p, :a, 'deleted') "
                "ON CONFLICT (post_id) DO UPDATE SET state = 'deleted', lease_until = NULL, "
                "updated_at = now()"
            ),
            {"p": post_id, "a": author_id or 0},
        )
        result = await session.execute(
            text("DELETE FROM feed.inbox WHERE post_id = :p"), {"p": post_id}
        )
        await session.execute(text("DELETE FROM feed.vip_post WHERE post_id = :p"), {"p": post_id})
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_finished(res: Resources, older_than_days: int = 7) -> int:
    """Forget finished fan-outs and tombstones older than any redelivery can be (the outbox
    keeps events a day; arq retries within minutes). Returns rows removed."""
    async with res.db.transaction() as session:
        result = await session.execute(
            text(
                "DELETE FROM feed.fanout WHERE state <> 'running' "
                "AND updated_at < now() - make_interval(days => :d)"
            ),
            {"d": older_than_days},
        )
    return int(getattr(result, "rowcount", 0) or 0)
