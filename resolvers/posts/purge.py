"""Cleaning up after a deleted post: the `posts.purge_post` job's work (docs/social.md).

`deletePost` only marks the post (`deleted_at`) and emits `post.deleted`, so the request
stays one short transaction whatever the post has gathered. This job then removes, in
bounded steps, each its own short transaction:

  1. its likes, `PURGE_BATCH` rows a statement;
  2. its comments and replies, the same way;
  3. its media: the rows are locked, their files (and the keys the event carried) deleted
     from S3, then the rows; media processing that finishes meanwhile waits on the lock,
     then finds its row gone and deletes what it wrote (resolvers/posts/processing.py);
  4. the post row itself, and its live like counter in Redis.

Every step is idempotent and the job may stop anywhere (a crash, a retry): the next run
finds what is left. It refuses a post that is not marked deleted, so a stray event can
never purge a live post.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, text

from models.posts import Media, Post
from resolvers.posts.likes import LIVE
from resolvers.posts.media import delete_objects
from resolvers.posts.posts import media_keys
from resolvers.runtime import Resources

log = logging.getLogger(__name__)

PURGE_BATCH = 5000

_DELETE_LIKES = text(
    "DELETE FROM posts.likes WHERE post_id = :p AND user_id IN "
    "(SELECT user_id FROM posts.likes WHERE post_id = :p LIMIT :n)"
)
# replies before the comments they answer, so no delete cascades past the batch size
_DELETE_COMMENTS = text(
    "DELETE FROM posts.comments WHERE id IN "
    "(SELECT id FROM posts.comments WHERE post_id = :p "
    " ORDER BY parent_id IS NULL, id LIMIT :n)"
)


@dataclass(frozen=True)
class PurgeResult:
    state: str  # "purged", "gone" (already purged) or "live" (not deleted: refused)
    likes: int = 0
    comments: int = 0
    files: int = 0


async def _in_batches(res: Resources, statement: object, post_id: int, batch: int) -> int:
    total = 0
    while True:
        async with res.db.transaction() as session:
            result = await session.execute(statement, {"p": post_id, "n": batch})  # type: ignore[call-overload]
        n = int(getattr(result, "rowcount", 0) or 0)
        total += n
        if n == 0:
            return total


async def purge_post(
    res: Resources, post_id: int, event_keys: Sequence[str] = (), *, batch: int = PURGE_BATCH
) -> PurgeResult:
    async with res.db.session() as session:
        deleted_at = (
            await session.execute(select(Post.deleted_at).where(Post.id == post_id))
        ).first()
    if deleted_at is None:
        # already purged; the files the event named may still be there after a crash
        await delete_objects(res, list(event_keys))
        return PurgeResult("gone", files=len(event_keys))
    if deleted_at[0] is None:
        log.warning("post %s is not deleted; refusing to purge it", post_id)
        return PurgeResult("live")
    likes = await _in_batches(res, _DELETE_LIKES, post_id, batch)
    comments = await _in_batches(res, _DELETE_COMMENTS, post_id, batch)
    async with res.db.transaction() as session:
        rows = (
            await session.execute(
                select(Media.object_key, Media.stored_key, Media.thumbnails)
                .where(Media.post_id == post_id)
                .with_for_update()
            )
        ).all()
        keys = sorted({*event_keys, *(k for r in rows for k in media_keys(r))})
        await delete_objects(res, keys)
        await session.execute(delete(Media).where(Media.post_id == post_id))
        await session.execute(delete(Post).where(Post.id == post_id))
    await res.redis.delete(LIVE + str(post_id))
    return PurgeResult("purged", likes=likes, comments=comments, files=len(keys))
