"""The posts domain's privacy rules (docs/privacy.md), and the erasers that keep other
users' counters right and delete files before their rows.

Erasing a user, in order (each step in short transactions, idempotent):
1. their likes on any post: the rows go and each post's counter is recounted by the next
   like flush (the post is marked dirty; its cached live count dropped);
2. their comments on any post (with the replies under them, as deleteComment does): each
   affected post's `comment_count` is recounted from the rows;
3. their posts, a few at a time: the likes and comments on them, their media (the files
   first, under the rows' lock, then the rows), the posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import BigInteger

from resolvers.posts.likes import DIRTY, LIVE
from resolvers.posts.media import delete_objects
from resolvers.privacy.registry import PRIVACY
from resolvers.runtime import Resources

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
_UNCOMMENT = text(
    "DELETE FROM posts.comments WHERE id IN "
    "(SELECT id FROM posts.comments WHERE author_id = :u LIMIT :n) RETURNING post_id"
)
_RECOUNT_COMMENTS = text(
    "UPDATE posts.posts p SET comment_count = "
    "(SELECT count(*) FROM posts.comments c WHERE c.post_id = p.id) WHERE p.id = ANY(:ids)"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))
_POSTS_OF = text("SELECT id FROM posts.posts WHERE author_id = :u ORDER BY id LIMIT :n")
_IDS = bindparam("ids", type_=ARRAY(BigInteger))
_ON_POSTS = [
    text("DELETE FROM posts.likes WHERE post_id = ANY(:ids)").bindparams(_IDS),
    text("DELETE FROM posts.comments WHERE post_id = ANY(:ids)").bindparams(_IDS),
]
_MEDIA_LOCK = text(
    "SELECT object_key, stored_key, thumbnails FROM posts.media WHERE post_id = ANY(:ids) "
    "FOR UPDATE"
).bindparams(_IDS)
_DELETE_MEDIA = text("DELETE FROM posts.media WHERE post_id = ANY(:ids)").bindparams(_IDS)
_DELETE_POSTS = text("DELETE FROM posts.posts WHERE id = ANY(:ids)").bindparams(_IDS)


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
    while True:
        async with res.db.transaction() as session:
            posts = sorted(
                {r[0] for r in await session.execute(_UNCOMMENT, {"u": user_id, "n": BATCH})}
            )
            if posts:
                await session.execute(_RECOUNT_COMMENTS, {"ids": posts})
        if not posts:
            return


@PRIVACY.eraser("posts")
async def erase_posts(res: Resources, user_id: int) -> None:
    while True:
        async with res.db.session() as session:
            ids = [r[0] for r in await session.execute(_POSTS_OF, {"u": user_id, "n": POSTS_BATCH})]
        if not ids:
            return
        for statement in _ON_POSTS:
            async with res.db.transaction() as session:
                await session.execute(statement, {"ids": ids})
        async with res.db.transaction() as session:
            rows = (await session.execute(_MEDIA_LOCK, {"ids": ids})).all()
            await delete_objects(res, sorted({k for r in rows for k in _keys(r)}))
            await session.execute(_DELETE_MEDIA, {"ids": ids})
            await session.execute(_DELETE_POSTS, {"ids": ids})
        async with res.redis.pipeline(transaction=False) as pipe:
            pipe.delete(*[LIVE + str(p) for p in ids])
            pipe.srem(DIRTY, *[str(p) for p in ids])
            await pipe.execute()
