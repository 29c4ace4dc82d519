"""The posts domain's privacy rules (docs/privacy.md), and the erasers that keep other
users' counters right and delete files before their rows.

Erasing a user, in order (each step in short transactions, idempotent):
1. their likes on any post: the rows go and each post's counter is recounted by the next
   like flush (the post is marked dirty; its cached live count dropped);
2. their comments on any post (with the replies under them, as deleteComment does): each
   affected post's `comment_count`, and each other thread's `reply_count`, is recounted
   from the rows; the notifications about those comments are forgotten;
3. their posts, a few at a time, through `purge_post` (resolvers/posts/purge.py), the path
   every deleted post takes: the likes and comments on them, their media (the files first,
   under the rows' lock, then the rows), the posts; then the notifications about them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import BigInteger

from resolvers.posts.likes import DIRTY, LIVE
from resolvers.posts.purge import purge_post
from resolvers.privacy.registry import PRIVACY
from resolvers.runtime import Resources
from resolvers.users.notifications import on_comments_deleted, on_post_deleted

BATCH = 2000
POSTS_BATCH = 50

PRIVACY.owned("posts.posts", "author_id")
PRIVACY.owned("posts.media", "author_id")
PRIVACY.owned("posts.likes", "user_id")
PRIVACY.owned("posts.comments", "author_id")
PRIVACY.owned("posts.reports", "reporter_id")
PRIVACY.derived("posts.post_counts", "author_id", reason="the author's post counts")
PRIVACY.anonymised(
    "posts.moderation_actions",
    "author_id",
    "moderator_id",
    export_by=("author_id", "moderator_id"),
    reason="the moderation log outlives the posts and the accounts it names",
)
PRIVACY.outbox("posts")

_MEDIA_OF = text("SELECT object_key, stored_key, thumbnails FROM posts.media WHERE author_id = :u")


def _keys(row: Any, *, thumbnails: bool = True, upload: bool = True) -> list[str]:
    keys = [row.object_key] if upload else []
    if row.stored_key:
        keys.append(row.stored_key)
    if thumbnails:
        keys += [str(t["key"]) for t in row.thumbnails or () if t.get("key")]
    return keys


async def _media_keys(res: Resources, user_id: int, **which: bool) -> list[str]:
    async with res.db.session() as session:
        rows = (await session.execute(_MEDIA_OF, {"u": user_id})).all()
    return sorted({k for r in rows for k in _keys(r, **which)})


async def stored_media_keys(res: Resources, user_id: int) -> list[str]:
    """The user's processed files and their thumbnails."""
    return [k for k in await _media_keys(res, user_id, upload=False) if k.startswith("media/")]


async def original_media_keys(res: Resources, user_id: int) -> list[str]:
    """The user's processed files, without thumbnails: what an export includes."""
    return await _media_keys(res, user_id, thumbnails=False, upload=False)


async def upload_keys(res: Resources, user_id: int) -> list[str]:
    return [k for k in await _media_keys(res, user_id) if k.startswith("uploads/")]


PRIVACY.objects_under(
    "media/",
    "posts",
    keys=stored_media_keys,
    export_keys=original_media_keys,
    reason="the user's photos as stored (metadata stripped) and their thumbnails; an export "
    "takes the photos, not the thumbnails",
)
PRIVACY.objects_under(
    "uploads/",
    "posts",
    keys=upload_keys,
    export=False,
    reason="uploads waiting to be checked; each becomes a file under media/ or is deleted",
)

_UNLIKE = text(
    "DELETE FROM posts.likes WHERE (post_id, user_id) IN "
    "(SELECT post_id, user_id FROM posts.likes WHERE user_id = :u LIMIT :n) RETURNING post_id"
)
# A batch of the user's comments: top-level ones first, so that their threads (other
# users' replies included) go with them, as deleteComment does.
_COMMENTS_OF = text(
    "SELECT id FROM posts.comments WHERE author_id = :u ORDER BY parent_id IS NOT NULL, id LIMIT :n"
)
_IDS = bindparam("ids", type_=ARRAY(BigInteger))
_DELETE_THREADS = text(
    "DELETE FROM posts.comments WHERE parent_id = ANY(:ids) RETURNING id, post_id, parent_id"
).bindparams(_IDS)
_DELETE_COMMENTS = text(
    "DELETE FROM posts.comments WHERE id = ANY(:ids) RETURNING id, post_id, parent_id"
).bindparams(_IDS)
_RECOUNT_COMMENTS = text(
    "UPDATE posts.posts p SET comment_count = "
    "(SELECT count(*) FROM posts.comments c WHERE c.post_id = p.id) WHERE p.id = ANY(:ids)"
).bindparams(_IDS)
# the threads the user's replies leave: other users' top-level comments
_RECOUNT_REPLIES = text(
    "UPDATE posts.comments t SET reply_count = "
    "(SELECT count(*) FROM posts.comments r WHERE r.parent_id = t.id) WHERE t.id = ANY(:ids)"
).bindparams(_IDS)
_POSTS_OF = text("SELECT id FROM posts.posts WHERE author_id = :u ORDER BY id LIMIT :n")
_HIDE_POSTS = text(
    "UPDATE posts.posts SET deleted_at = now() WHERE id = ANY(:ids) AND deleted_at IS NULL"
).bindparams(_IDS)


async def _forget_counts(res: Resources, post_ids: Sequence[int]) -> None:
    """The like flush recounts these posts from the rows; their live counts start afresh."""
    if post_ids:
        async with res.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(DIRTY, *[str(p) for p in post_ids])
            pipe.delete(*[LIVE + str(p) for p in post_ids])
            await pipe.execute()


@PRIVACY.eraser("posts")
async def erase_likes(res: Resources, user_id: int) -> None:
    while True:
        async with res.db.transaction() as session:
            posts = sorted(
                {r[0] for r in await session.execute(_UNLIKE, {"u": user_id, "n": BATCH})}
            )
        await _forget_counts(res, posts)
        if not posts:
            return


@PRIVACY.eraser("posts")
async def erase_comments(res: Resources, user_id: int) -> None:
    """The user's comments with the replies under them; every post's `comment_count` and
    every other thread's `reply_count` they were in is recounted from the rows in the same
    transaction, and the notifications about the removed comments are forgotten."""
    while True:
        async with res.db.transaction() as session:
            ids = [r[0] for r in await session.execute(_COMMENTS_OF, {"u": user_id, "n": BATCH})]
            if not ids:
                return
            gone = [
                *(await session.execute(_DELETE_THREADS, {"ids": ids})).all(),
                *(await session.execute(_DELETE_COMMENTS, {"ids": ids})).all(),
            ]
            removed = {r.id for r in gone}
            posts = sorted({r.post_id for r in gone})
            threads = sorted({r.parent_id for r in gone if r.parent_id is not None} - removed)
            await session.execute(_RECOUNT_COMMENTS, {"ids": posts})
            if threads:
                await session.execute(_RECOUNT_REPLIES, {"ids": threads})
        await on_comments_deleted(res, sorted(removed))


@PRIVACY.eraser("posts")
async def erase_posts(res: Resources, user_id: int) -> None:
    """The user's posts go the way a deleted post goes: marked deleted (hidden at once,
    no event: nothing of the erasure names the user in an outbox), then `purge_post`, the
    one path that removes a post's likes, comments, media rows and files and its live
    counter; then the notifications about it are forgotten, as the `post.deleted`
    consumer does."""
    while True:
        async with res.db.session() as session:
            ids = [r[0] for r in await session.execute(_POSTS_OF, {"u": user_id, "n": POSTS_BATCH})]
        if not ids:
            return
        async with res.db.transaction() as session:
            await session.execute(_HIDE_POSTS, {"ids": ids})
        for post_id in ids:
            result = await purge_post(res, post_id)
            if result.state == "live":  # cannot happen: it was marked in the line above
                raise RuntimeError(f"post {post_id} of user {user_id} was not purged")
            await on_post_deleted(res, post_id)
