"""Publication: a post with media goes live once, when its last medium is READY, with its
event and counters in the same transaction; media finishing at the same time publish it
exactly once."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from models.posts import Media, Post
from resolvers.posts import purge
from resolvers.posts.posts import MediaSpec, create_post, delete_post
from resolvers.posts.publication import post_counts, publish_if_ready
from resolvers.runtime import Resources


async def _scalar(res: Resources, sql: str, **params: object) -> object:
    async with res.db.session() as s:
        return (await s.execute(text(sql), params)).scalar()


async def _ready(res: Resources, post_id: int, media_id: int, gate: asyncio.Event) -> bool:
    """What process_media does when a medium is done: lock the post, mark it READY, and
    publish the post if it was the last."""
    async with res.db.transaction() as session:
        post = await session.get(Post, post_id, with_for_update=True)
        assert post is not None
        media = await session.get(Media, media_id, with_for_update=True)
        assert media is not None
        media.status = "READY"
        await session.flush()
        await gate.wait()
        return await publish_if_ready(session, post)


async def test_two_media_finishing_together_publish_the_post_once(res: Resources) -> None:
    created = await create_post(
        res, 5, "two pictures", [MediaSpec("image/png", 10), MediaSpec("image/png", 20)]
    )
    post_id = created.post.id
    assert created.post.published_at is None
    assert await post_counts(res, [5]) == {5: (0, 1)}
    assert await _scalar(res, "SELECT count(*) FROM posts.outbox") == 0
    gate = asyncio.Event()
    first, second = (u.media_id for u in created.uploads)
    runs = [asyncio.create_task(_ready(res, post_id, m, gate)) for m in (first, second)]
    await asyncio.sleep(0.2)  # both started; the second waits for the post's row lock
    gate.set()
    assert sorted(await asyncio.gather(*runs)) == [False, True]
    assert await _scalar(
        res, "SELECT published_at IS NOT NULL FROM posts.posts WHERE id = :p", p=post_id
    )
    assert (
        await _scalar(res, "SELECT count(*) FROM posts.outbox WHERE event_type = 'post.published'")
        == 1
    )
    assert await post_counts(res, [5]) == {5: (1, 0)}
    await delete_post(res, 5, post_id)
    assert await post_counts(res, [5]) == {5: (0, 0)}


async def test_a_text_post_is_published_and_counted_at_once(res: Resources) -> None:
    created = await create_post(res, 6, "words", [])
    assert created.post.published_at is not None
    assert await post_counts(res, [6, 7]) == {6: (1, 0)}
    assert (
        await _scalar(res, "SELECT count(*) FROM posts.outbox WHERE event_type = 'post.published'")
        == 1
    )


async def test_a_post_deleted_while_its_media_process_is_never_published(res: Resources) -> None:
    """deletePost takes the post out of the counts at once; a medium that finishes after
    it publishes nothing (no event, no count), and the purge leaves the counts alone."""
    created = await create_post(res, 8, "soon gone", [MediaSpec("image/png", 10)])
    post_id = created.post.id
    assert await post_counts(res, [8]) == {8: (0, 1)}
    await delete_post(res, 8, post_id)
    assert await post_counts(res, [8]) == {8: (0, 0)}
    gate = asyncio.Event()
    gate.set()
    assert await _ready(res, post_id, created.uploads[0].media_id, gate) is False
    assert (
        await _scalar(res, "SELECT published_at FROM posts.posts WHERE id = :p", p=post_id) is None
    )
    assert (
        await _scalar(res, "SELECT count(*) FROM posts.outbox WHERE event_type = 'post.published'")
        == 0
    )
    await purge.purge_post(res, post_id)
    assert await _scalar(res, "SELECT count(*) FROM posts.posts WHERE id = :p", p=post_id) == 0
    assert await post_counts(res, [8]) == {8: (0, 0)}
