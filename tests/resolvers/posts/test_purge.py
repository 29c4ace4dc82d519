"""The clean-up after a deleted post, called as the worker calls it: in batches, resumable,
idempotent, and never on a live post."""

from __future__ import annotations

from sqlalchemy import text

from resolvers.posts import comments, likes, posts, purge
from resolvers.runtime import Resources


async def _counts(res: Resources, post_id: int) -> tuple[int, int, int]:
    async with res.db.session() as s:
        row = (
            await s.execute(
                text(
                    "SELECT (SELECT count(*) FROM posts.posts WHERE id = :p), "
                    "(SELECT count(*) FROM posts.likes WHERE post_id = :p), "
                    "(SELECT count(*) FROM posts.comments WHERE post_id = :p)"
                ),
                {"p": post_id},
            )
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def _busy_post(res: Resources) -> int:
    post = (await posts.create_post(res, 1, "popular", [])).post
    for user in range(10, 17):
        await likes.like_post(res, user, post.id)
    for user in range(20, 24):
        top = await comments.add_comment(res, user, post.id, "top")
        await comments.add_comment(res, user + 100, post.id, "reply", reply_to=top.id)
    return post.id


async def test_purge_in_small_batches_removes_everything(res: Resources):
    post_id = await _busy_post(res)
    other = await _busy_post(res)
    assert await _counts(res, post_id) == (1, 7, 8)

    refused = await purge.purge_post(res, post_id, batch=2)
    assert refused.state == "live" and await _counts(res, post_id) == (1, 7, 8)

    await posts.delete_post(res, 1, post_id)
    assert await _counts(res, post_id) == (1, 7, 8)  # deleting only hides it
    assert await posts.get_post(res, post_id) is None
    result = await purge.purge_post(res, post_id, ["uploads/gone-already"], batch=2)
    assert (result.state, result.likes, result.comments) == ("purged", 7, 8)
    assert await _counts(res, post_id) == (0, 0, 0)
    assert await _counts(res, other) == (1, 7, 8)  # the other post is untouched
    # a redelivery finds nothing left to do
    assert (await purge.purge_post(res, post_id, batch=2)).state == "gone"


async def test_an_interrupted_purge_resumes(res: Resources):
    post_id = await _busy_post(res)
    await posts.delete_post(res, 1, post_id)
    # a worker that died after its first batches: some likes gone, the rest still there
    async with res.db.transaction() as s:
        await s.execute(
            text(
                "DELETE FROM posts.likes WHERE post_id = :p AND user_id IN "
                "(SELECT user_id FROM posts.likes WHERE post_id = :p LIMIT 3)"
            ),
            {"p": post_id},
        )
    result = await purge.purge_post(res, post_id, batch=3)
    assert (result.state, result.likes, result.comments) == ("purged", 4, 8)
    assert await _counts(res, post_id) == (0, 0, 0)
