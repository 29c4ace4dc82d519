"""Likes: idempotent rows, buffered counters, live counts, flush and reconcile.

Truth is `posts.likes` (primary key (post_id, user_id)). `posts.like_count` is a buffered
copy: a like never updates the post row (a hot post would serialise every like on that row
lock). Instead:

- ONE statement (data-modifying CTEs, atomic by itself) reads the post, inserts/deletes
  the row and, only when a row changed, writes the `post.liked`/`post.unliked` outbox row;
- the post id is added to the Redis set `DIRTY` before that statement (so a process dying
  right after its commit still leaves the post marked) and again after it;
- after commit one Lua script adjusts the live counter `LIVE:<post>` (if cached), marks
  the post dirty and publishes the change for `postLikeChanged`.

`flush_like_counts` (the worker, every LIKES_FLUSH_INTERVAL_SECONDS) atomically renames
`DIRTY` to `FLUSHING` (or resumes a `FLUSHING` left by a worker that died), and for each
batch of post ids sets `like_count` to `count(*)` of their rows in one UPDATE, refreshes the
live counters, and only then removes the batch from `FLUSHING`. A recount is idempotent,
so a worker killed at any point loses nothing: the next flush resumes the same set.
`reconcile_like_counts` recomputes every counter from the rows (hourly cron, or by hand).

A count read from the rows (by the flush, or cold when no counter is cached) is installed as
the live counter only when no like was in flight for that post from before the count until
the install: each like bumps `STATE:<post>` field `p` (in flight) before its statement and,
after it, drops `p` and bumps `g` (generation) in the same script that adjusts the counter.
Otherwise a like committed before the count but adjusted after the install would be counted
twice (or one committed after the count and adjusted before the install lost). A skipped
install leaves the post dirty, so the next flush installs it; the column is written either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import (
    BigInteger,
    String,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from models.outbox import producing
from models.posts import SCHEMA, Like, Post
from resolvers.errors import NotFound
from resolvers.posts.live import CHANNEL, COUNT_PLACEHOLDER, like_message, publish_like
from resolvers.posts.records import POST_COLUMNS, LikeChange, PostRecord
from resolvers.posts.visibility import hidden_sql
from resolvers.runtime import Resources

DIRTY = "puppies:posts:likes:dirty"
FLUSHING = "puppies:posts:likes:flushing"
# Posts whose install a racing like skipped: dirty again once this flush is over.
RETRY = "puppies:posts:likes:retry"
LIVE = "puppies:posts:likecount:"
LIVE_TTL_SECONDS = 24 * 3600
STATE = "puppies:posts:likestate:"
log = logging.getLogger(__name__)
# A like's in-flight mark outlives a stalled process by this long at most.
STATE_TTL_SECONDS = 60

# After commit, in one round trip: adjust the cached live counter (when cached), mark the
# post dirty, and publish the event with the new count filled in. Returns nil when the
# counter was not cached (the caller then loads it from the rows and publishes itself).
_AFTER_COMMIT = """
if tonumber(redis.call('HGET', KEYS[3], 'p') or '0') > 0 then
  redis.call('HINCRBY', KEYS[3], 'p', -1)
end
redis.call('HINCRBY', KEYS[3], 'g', 1)
redis.call('EXPIRE', KEYS[3], ARGV[7])
local v = false
if redis.call('EXISTS', KEYS[1]) == 1 then
  v = redis.call('INCRBY', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
redis.call('SADD', KEYS[2], ARGV[3])
if v and ARGV[4] ~= '' then
  local msg = ARGV[5]
  local i, j = string.find(msg, ARGV[6], 1, true)
  redis.call('PUBLISH', ARGV[4], string.sub(msg, 1, i - 1) .. v .. string.sub(msg, j + 1))
end
return v
"""
# A like whose statement failed or changed nothing: no longer in flight.
_SETTLE = """
if tonumber(redis.call('HGET', KEYS[1], 'p') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'p', -1)
end
return 0
"""
# Install counts read from the rows: KEYS are state keys then live keys; ARGV the TTL, the
# dirty set, the live prefix's length, then (generation seen before the count, count) per
# post, count -1 for a deleted post. A post with a like in flight, or a like finished since
# the count began, is skipped and kept in the retry set if one is given (dirty again after
# this flush; a cold count gives none: the racing like marks the post dirty itself).
_INSTALL = """
local n = #KEYS / 2
local installed = {}
for i = 1, n do
  local g0 = ARGV[2 + 2 * i]
  local count = tonumber(ARGV[3 + 2 * i])
  local st = redis.call('HMGET', KEYS[i], 'p', 'g')
  local busy = tonumber(st[1] or '0') > 0 or (st[2] or '0') ~= g0
  if count < 0 then
    redis.call('DEL', KEYS[n + i])
    installed[i] = 1
  elseif busy then
    if ARGV[2] ~= '' then redis.call('SADD', ARGV[2], string.sub(KEYS[n + i], ARGV[3] + 1)) end
    installed[i] = 0
  else
    redis.call('SET', KEYS[n + i], count, 'EX', ARGV[1])
    installed[i] = 1
  end
end
return installed
"""


async def _generations(res: Resources, post_ids: list[int]) -> list[str]:
    """Each post's like generation, or "busy" if a like is in flight (one round trip)."""
    async with res.redis.pipeline(transaction=False) as pipe:
        for pid in post_ids:
            pipe.hmget(STATE + str(pid), ["p", "g"])
        states = await pipe.execute()
    out = []
    for p, g in states:
        busy = p is not None and int(p) > 0
        out.append("busy" if busy else (g.decode() if isinstance(g, bytes) else (g or "0")))
    return out


async def _install(
    res: Resources, generations: list[str], counts: dict[int, int | None], *, retry: str = ""
) -> None:
    """Install exact counts as live counters where no like raced them (see the module doc)."""
    ids = list(counts)
    args: list[str] = [str(LIVE_TTL_SECONDS), retry, str(len(LIVE))]
    for g0, pid in zip(generations, ids, strict=True):
        n = counts[pid]
        args += [g0, str(-1 if n is None else n)]
    keys = [STATE + str(p) for p in ids] + [LIVE + str(p) for p in ids]
    await res.redis.eval(_INSTALL, len(keys), *keys, *args)  # type: ignore[misc]


# At the end of a flush: the posts whose install was skipped are dirty again.
_REQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
  redis.call('DEL', KEYS[1])
end
return 0
"""
# Claim the dirty set for flushing: resume an unfinished flush, else take the dirty set.
_CLAIM = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  return 1
end
return 0
"""


async def _count_rows(res: Resources, post_id: int) -> int:
    async with res.db.read() as session:
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(Like).where(Like.post_id == post_id)
                )
            ).scalar_one()
        )


async def _cold_count(res: Resources, post_id: int) -> int:
    """The exact count from the rows, installed as the live counter unless a like raced it."""
    generations = await _generations(res, [post_id])
    exact = await _count_rows(res, post_id)
    await _install(res, generations, {post_id: exact})
    return exact


# One statement, so one round trip and atomic by itself (run in autocommit): read the post
# (if it is visible to the liker: not deleted, no block between them), insert (or delete)
# the like row, and write the outbox event only when a row changed, with the request's trace
# and request id as `emit` writes them (under the producer span `outbox <event type>`).
_LIKE_SQL = (
    """
WITH p AS (
  SELECT """
    + POST_COLUMNS
    + """
  FROM posts.posts WHERE id = :post_id AND deleted_at IS NULL
   AND (published_at IS NOT NULL OR author_id = :user_id)
   AND author_id NOT IN ("""
    + hidden_sql("user_id")
    + """)
), ch AS (
  {change}
), ev AS (
  INSERT INTO posts.outbox (event_type, aggregate_id, payload, traceparent, request_id)
  SELECT :event_type, ch.post_id, jsonb_build_object(
    'post_id', ch.post_id, 'user_id', ch.user_id, 'author_id', p.author_id),
    :traceparent, :request_id
  FROM ch CROSS JOIN p
  RETURNING id
)
SELECT p.*, EXISTS (SELECT 1 FROM ev) AS changed FROM p
"""
)
# Built once (run by `Database.rows`: compiled once, straight to asyncpg; a `text()` made
# per call went through SQLAlchemy's Core execution each time).
_LIKE_PARAMS = (
    bindparam("post_id", type_=BigInteger),
    bindparam("user_id", type_=BigInteger),
    bindparam("event_type", type_=String),
    bindparam("traceparent", type_=String),
    bindparam("request_id", type_=String),
)
_INSERT_LIKE = text(
    _LIKE_SQL.format(
        change=(
            "INSERT INTO posts.likes (post_id, user_id) SELECT id, :user_id FROM p "
            "ON CONFLICT DO NOTHING RETURNING post_id, user_id"
        )
    )
).bindparams(*_LIKE_PARAMS)
_DELETE_LIKE = text(
    _LIKE_SQL.format(
        change=(
            "DELETE FROM posts.likes WHERE post_id = (SELECT id FROM p) AND user_id = :user_id "
            "RETURNING post_id, user_id"
        )
    )
).bindparams(*_LIKE_PARAMS)

LIKED = "post.liked"
UNLIKED = "post.unliked"


async def _change(res: Resources, user_id: int, post_id: int, like: bool) -> LikeChange:
    # Marked dirty before the write too: a process that dies right after its commit
    # still leaves the post for the flush (a mark without a change only costs a recount).
    # In flight from here until the counter is adjusted (see the module doc).
    state = STATE + str(post_id)
    async with res.redis.pipeline(transaction=False) as pipe:
        pipe.sadd(DIRTY, str(post_id))
        pipe.hincrby(state, "p", 1)
        pipe.expire(state, STATE_TTL_SECONDS)
        await pipe.execute()
    event_type = LIKED if like else UNLIKED
    try:
        # one statement, atomic alone: in autocommit (`Database.rows`); its outbox row as
        # `emit` writes it: under its producer span, with its trace fields
        with producing(SCHEMA, event_type) as trace:
            rows: Sequence[Any] = await res.db.rows(
                _INSERT_LIKE if like else _DELETE_LIKE,
                {"post_id": post_id, "user_id": user_id, "event_type": event_type, **trace},
            )
        row = rows[0] if rows else None
    except BaseException:
        await res.redis.eval(_SETTLE, 1, state)  # type: ignore[misc]
        raise
    changed = row is not None and bool(row[8])
    if not changed:
        await res.redis.eval(_SETTLE, 1, state)  # type: ignore[misc]
    if row is None:
        raise NotFound(f"post {post_id} does not exist", field="postId")
    record = PostRecord.from_row(row)
    change = LikeChange(post=record, like_count=0, liked=like, changed=changed, user_id=user_id)
    if not changed:
        cached = await res.redis.get(LIVE + str(post_id))
        count = int(cached) if cached is not None else await _cold_count(res, post_id)
        return replace(change, like_count=count)
    now = time.time()
    try:
        value = await _after_commit(res, post_id, state, like, change, now)
    except RedisError as exc:
        # Committed: the like stands (the row is the truth and the post was marked dirty
        # before the write). Only the live counter and the live event are missed; the
        # answer carries the count from the rows.
        log.warning("like on post %s committed; Redis unavailable after it: %r", post_id, exc)
        return replace(change, like_count=await _count_rows(res, post_id))
    if value is not None:
        return replace(change, like_count=int(value))
    change = replace(change, like_count=await _cold_count(res, post_id))
    await publish_like(res.redis, change, now)
    return change


async def _after_commit(
    res: Resources, post_id: int, state: str, like: bool, change: LikeChange, now: float
) -> int | None:
    """Adjust the live counter (when cached), mark the post dirty, publish the change: the
    new count, or None when no counter was cached."""
    value: int | None = await res.redis.eval(  # type: ignore[misc]
        _AFTER_COMMIT,
        3,
        LIVE + str(post_id),
        DIRTY,
        state,
        str(1 if like else -1),
        str(LIVE_TTL_SECONDS),
        str(post_id),
        CHANNEL,
        like_message(change, now, placeholder=True).decode(),
        COUNT_PLACEHOLDER,
        str(STATE_TTL_SECONDS),
    )
    return value


async def like_post(res: Resources, user_id: int, post_id: int) -> LikeChange:
    """Like a post; liking it again is a no-op (`changed` False, nothing published)."""
    return await _change(res, user_id, post_id, True)


async def unlike_post(res: Resources, user_id: int, post_id: int) -> LikeChange:
    """Unlike a post; unliking what was never liked is a no-op."""
    return await _change(res, user_id, post_id, False)


async def liked_by(res: Resources, user_id: int, post_ids: list[int]) -> set[int]:
    """Which of `post_ids` `user_id` likes (one statement, the primary key)."""
    if not post_ids:
        return set()
    rows = await res.db.rows(_LIKED_BY, {"user": user_id, "ids": list(post_ids)})
    return {r[0] for r in rows}


_LIKED_BY = text(
    "SELECT post_id FROM posts.likes WHERE user_id = :user AND post_id = ANY(:ids)"
).bindparams(bindparam("user", type_=BigInteger), bindparam("ids", type_=ARRAY(BigInteger)))


async def live_counts(res: Resources, posts: list[PostRecord]) -> list[int]:
    """The freshest like count per post: the live counter when cached, else the column."""
    live = await cached_live_counts(res, [p.id for p in posts])
    return [live_count(p, live) for p in posts]


async def cached_live_counts(res: Resources, post_ids: list[int]) -> dict[int, int] | None:
    """The live counters cached for these posts (a post without one is left out); None when
    Redis cannot be reached (logged): the database's (flushed) counts, a little behind, are
    then served (`live_count`)."""
    if not post_ids:
        return {}
    try:
        cached = await res.redis.mget([LIVE + str(i) for i in post_ids])
    except RedisError as exc:
        log.warning("live like counts unavailable (%r); serving the stored counts", exc)
        return None
    return {i: int(c) for i, c in zip(post_ids, cached, strict=True) if c is not None}


def live_count(post: PostRecord, live: dict[int, int] | None) -> int:
    """A post's freshest like count from `cached_live_counts`' answer."""
    return post.like_count if live is None else live.get(post.id, post.like_count)


# Built once (a prepared statement whatever the number of ids): the ORM statement with a
# VALUES list was compiled anew at every flush, most of a flush's CPU (bench/RESULTS.md).
_RECOUNT = text(
    "UPDATE posts.posts AS p SET like_count = c.n "
    "FROM (SELECT d.pid, count(l.user_id)::int AS n "
    "FROM unnest(:ids) AS d(pid) LEFT JOIN posts.likes AS l ON l.post_id = d.pid "
    "GROUP BY d.pid) AS c "
    "WHERE p.id = c.pid RETURNING p.id, p.like_count"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


async def _recount(res: Resources, post_ids: list[int]) -> dict[int, int]:
    """Set like_count = count(rows) for these posts in one statement; returns the counts."""
    async with res.db.autocommit.connect() as connection:  # one statement: atomic alone
        rows = (await connection.execute(_RECOUNT, {"ids": list(post_ids)})).all()
    return {int(r[0]): int(r[1]) for r in rows}


async def flush_like_counts(res: Resources, *, max_batches: int | None = None) -> int:
    """Write buffered counters of dirty posts to the database; returns posts flushed."""
    batch = res.settings.likes_flush_batch_size
    flushed = 0
    batches = 0
    while await res.redis.eval(_CLAIM, 2, DIRTY, FLUSHING):  # type: ignore[misc]
        while True:
            raw = await res.redis.srandmember(FLUSHING, batch)  # type: ignore[misc]
            if not raw:
                break
            ids = sorted({int(x) for x in raw})
            generations = await _generations(res, ids)
            counts = await _recount(res, ids)
            # A post missing from `counts` was deleted: its counter goes.
            await _install(res, generations, {pid: counts.get(pid) for pid in ids}, retry=RETRY)
            await res.redis.srem(FLUSHING, *ids)  # type: ignore[misc]
            flushed += len(ids)
            batches += 1
            if max_batches is not None and batches >= max_batches:
                return flushed
    await res.redis.eval(_REQUEUE, 2, RETRY, DIRTY)  # type: ignore[misc]
    return flushed


async def pending_flush(res: Resources) -> int:
    """Posts waiting for a flush (dirty, mid-flush or to retry; mid-flush one may be in two)."""
    pipe = res.redis.pipeline(transaction=False)
    pipe.scard(DIRTY)
    pipe.scard(FLUSHING)
    pipe.scard(RETRY)
    a, b, c = await pipe.execute()
    return int(a) + int(b) + int(c)


async def reconcile_like_counts(res: Resources, *, chunk: int = 1000) -> int:
    """Recompute every post's like_count from the rows; returns the counters corrected."""
    corrected = 0
    after = 0
    while True:
        async with res.db.session() as session:
            ids = list(
                (
                    await session.execute(
                        select(Post.id).where(Post.id > after).order_by(Post.id).limit(chunk)
                    )
                ).scalars()
            )
            if not ids:
                return corrected
            wrong = list(
                (
                    await session.execute(
                        text(
                            "SELECT p.id FROM posts.posts p LEFT JOIN LATERAL "
                            "(SELECT count(*) AS n FROM posts.likes l WHERE l.post_id = p.id) c "
                            "ON true "
                            "WHERE p.id = ANY(:ids) AND p.like_count <> c.n"
                        ),
                        {"ids": ids},
                    )
                ).scalars()
            )
        if wrong:
            await _recount(res, wrong)
            await res.redis.delete(*[LIVE + str(i) for i in wrong])
            corrected += len(wrong)
        after = ids[-1]
