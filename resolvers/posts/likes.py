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
"""

from __future__ import annotations

import time
from dataclasses import replace

from sqlalchemy import BigInteger, Column, Integer, func, select, text, update, values

from models.posts import Like, Post
from resolvers.errors import NotFound
from resolvers.posts.live import CHANNEL, COUNT_PLACEHOLDER, like_message, publish_like
from resolvers.posts.records import LikeChange, PostRecord
from resolvers.runtime import Resources

DIRTY = "puppies:posts:likes:dirty"
FLUSHING = "puppies:posts:likes:flushing"
LIVE = "puppies:posts:likecount:"
LIVE_TTL_SECONDS = 24 * 3600

# After commit, in one round trip: adjust the cached live counter (when cached), mark the
# post dirty, and publish the event with the new count filled in. Returns nil when the
# counter was not cached (the caller then loads it from the rows and publishes itself).
_AFTER_COMMIT = """
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
    """The exact count from the rows, cached as the live counter if nobody cached one."""
    exact = await _count_rows(res, post_id)
    if await res.redis.set(LIVE + str(post_id), exact, ex=LIVE_TTL_SECONDS, nx=True):
        return exact
    cached = await res.redis.get(LIVE + str(post_id))
    return int(cached) if cached is not None else exact


# One statement, so one round trip and atomic by itself (run in autocommit): read the post,
# insert (or delete) the like row, and write the outbox event only when a row changed.
_LIKE_SQL = """
WITH p AS (
  SELECT id, author_id, text, like_count, comment_count, created_at, published_at
  FROM posts.posts
  WHERE id = :post_id AND (published_at IS NOT NULL OR author_id = :user_id)
), ch AS (
  {change}
), ev AS (
  INSERT INTO posts.outbox (event_type, aggregate_id, payload)
  SELECT :event_type, ch.post_id, jsonb_build_object(
    'post_id', ch.post_id, 'user_id', ch.user_id, 'author_id', p.author_id)
  FROM ch CROSS JOIN p
  RETURNING id
)
SELECT p.*, EXISTS (SELECT 1 FROM ev) AS changed FROM p
"""
_INSERT_LIKE = _LIKE_SQL.format(
    change=(
        "INSERT INTO posts.likes (post_id, user_id) SELECT id, :user_id FROM p "
        "ON CONFLICT DO NOTHING RETURNING post_id, user_id"
    )
)
_DELETE_LIKE = _LIKE_SQL.format(
    change=(
        "DELETE FROM posts.likes WHERE post_id = (SELECT id FROM p) AND user_id = :user_id "
        "RETURNING post_id, user_id"
    )
)


async def _change(res: Resources, user_id: int, post_id: int, like: bool) -> LikeChange:
    # Marked dirty before the write too: a process that dies right after its commit
    # still leaves the post for the flush (a mark without a change only costs a recount).
    await res.redis.sadd(DIRTY, str(post_id))  # type: ignore[misc]
    async with res.db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        row = (
            await auto.execute(
                text(_INSERT_LIKE if like else _DELETE_LIKE),
                {
                    "post_id": post_id,
                    "user_id": user_id,
                    "event_type": "post.liked" if like else "post.unliked",
                },
            )
        ).first()
    if row is None:
        raise NotFound(f"post {post_id} does not exist", field="postId")
    changed = bool(row.changed)
    record = PostRecord(
        id=row.id,
        author_id=row.author_id,
        text=row.text,
        like_count=row.like_count,
        comment_count=row.comment_count,
        created_at=row.created_at,
        published_at=row.published_at,
    )
    change = LikeChange(post=record, like_count=0, liked=like, changed=changed, user_id=user_id)
    if not changed:
        cached = await res.redis.get(LIVE + str(post_id))
        count = int(cached) if cached is not None else await _cold_count(res, post_id)
        return replace(change, like_count=count)
    now = time.time()
    value = await res.redis.eval(  # type: ignore[misc]
        _AFTER_COMMIT,
        2,
        LIVE + str(post_id),
        DIRTY,
        str(1 if like else -1),
        str(LIVE_TTL_SECONDS),
        str(post_id),
        CHANNEL,
        like_message(change, now, placeholder=True).decode(),
        COUNT_PLACEHOLDER,
    )
    if value is not None:
        return replace(change, like_count=int(value))
    change = replace(change, like_count=await _cold_count(res, post_id))
    await publish_like(res.redis, change, now)
    return change


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
    async with res.db.read() as session:
        rows = await session.execute(
            select(Like.post_id).where(Like.user_id == user_id, Like.post_id.in_(post_ids))
        )
    return {r[0] for r in rows}


async def live_counts(res: Resources, posts: list[PostRecord]) -> list[int]:
    """The freshest like count per post: the live counter when cached, else the column."""
    if not posts:
        return []
    cached = await res.redis.mget([LIVE + str(p.id) for p in posts])
    return [int(c) if c is not None else p.like_count for p, c in zip(posts, cached, strict=True)]


async def _recount(res: Resources, post_ids: list[int]) -> dict[int, int]:
    """Set like_count = count(rows) for these posts in one statement; returns the counts."""
    ids = values(Column("pid", BigInteger), name="d").data([(i,) for i in post_ids])
    counts = (
        select(ids.c.pid, func.count(Like.user_id).cast(Integer).label("n"))
        .select_from(ids.outerjoin(Like, Like.post_id == ids.c.pid))
        .group_by(ids.c.pid)
        .subquery("c")
    )
    stmt = (
        update(Post)
        .where(Post.id == counts.c.pid)
        .values(like_count=counts.c.n)
        .returning(Post.id, Post.like_count)
        .execution_options(synchronize_session=False)
    )
    async with res.db.transaction() as session:
        rows = (await session.execute(stmt)).all()
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
            counts = await _recount(res, ids)
            async with res.redis.pipeline(transaction=False) as pipe:
                for pid in ids:
                    if pid in counts:
                        pipe.set(LIVE + str(pid), counts[pid], ex=LIVE_TTL_SECONDS)
                    else:  # the post was deleted
                        pipe.delete(LIVE + str(pid))
                pipe.srem(FLUSHING, *ids)
                await pipe.execute()
            flushed += len(ids)
            batches += 1
            if max_batches is not None and batches >= max_batches:
                return flushed
    return flushed


async def pending_flush(res: Resources) -> int:
    """Posts waiting for a flush (dirty or mid-flush)."""
    pipe = res.redis.pipeline(transaction=False)
    pipe.scard(DIRTY)
    pipe.scard(FLUSHING)
    a, b = await pipe.execute()
    return int(a) + int(b)


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
