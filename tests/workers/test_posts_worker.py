"""The real worker process: killed in the middle of a like-counter flush, nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from puppies.settings import Settings
from resolvers.posts import likes, posts
from resolvers.posts.likes import DIRTY, FLUSHING
from resolvers.runtime import Resources
from tests.support.servers import run_cli


@pytest.fixture
async def res(clean: Settings) -> AsyncIterator[Resources]:
    resources = Resources.open(clean)
    yield resources
    await resources.close()


async def _mismatches(res: Resources) -> list[tuple[int, int, int]]:
    async with res.db.session() as s:
        rows = await s.execute(
            text(
                "SELECT p.id, p.like_count, (SELECT count(*) FROM posts.likes l "
                "WHERE l.post_id = p.id) FROM posts.posts p"
            )
        )
        return [(r[0], r[1], r[2]) for r in rows if r[1] != r[2]]


async def test_worker_killed_mid_flush_then_restarted_gives_exact_counts(res, service_env):
    n_posts = 300
    ids = [(await posts.create_post(res, 1, f"p{i}", [])).post.id for i in range(n_posts)]

    async def like_all(i: int, pid: int) -> None:
        for u in range(1 + i % 4):
            await likes.like_post(res, 10 + u, pid)

    await asyncio.gather(*(like_all(i, pid) for i, pid in enumerate(ids)))
    assert await res.redis.scard(DIRTY) == n_posts
    assert len(await _mismatches(res)) == n_posts  # nothing flushed yet

    # One post per batch, so the flush takes long enough to be caught in the middle.
    env = {**service_env, "LIKES_FLUSH_BATCH_SIZE": "1", "LIKES_FLUSH_INTERVAL_SECONDS": "0.2"}
    killed_with = None
    with run_cli(["worker"], env) as proc:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = await res.redis.scard(FLUSHING)
            if 0 < left < n_posts - 20:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
                killed_with = left
                break
            await asyncio.sleep(0.005)
    assert killed_with is not None, "the flush was never observed in progress"
    remaining = await res.redis.scard(FLUSHING)
    assert remaining > 0, "the kill should have interrupted the flush"
    wrong = await _mismatches(res)
    assert 0 < len(wrong) <= remaining  # some flushed, the rest still marked

    # Likes keep arriving while no worker runs.
    await likes.like_post(res, 999, ids[0])
    await likes.unlike_post(res, 10, ids[1])

    with run_cli(["worker"], {**service_env, "LIKES_FLUSH_INTERVAL_SECONDS": "0.2"}):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and await likes.pending_flush(res):
            await asyncio.sleep(0.1)
        assert await likes.pending_flush(res) == 0
    assert await _mismatches(res) == []
    async with res.db.session() as s:
        total = (await s.execute(text("SELECT sum(like_count) FROM posts.posts"))).scalar_one()
    assert total == sum(1 + i % 4 for i in range(n_posts)) + 1 - 1


async def test_relay_survives_a_kill_between_commit_and_dispatch(res, service_env):
    """Rows committed while no worker runs are relayed by the next one (media processing)."""
    from tests.subgraphs.posts.images import photo

    body = photo(1280, 960, "PNG")  # wider than both thumbnail widths
    from resolvers.posts.posts import MediaSpec

    created = await posts.create_post(res, 1, "x", [MediaSpec("image/png", len(body))])
    media_id = created.uploads[0].media_id
    await asyncio.to_thread(
        res.s3.put_object,
        Bucket=res.settings.s3_bucket,
        Key=f"uploads/{media_id}",
        Body=body,
        ContentType="image/png",
    )
    from resolvers.posts.media import complete_media_upload

    assert (await complete_media_upload(res, 1, media_id)).status == "PROCESSING"
    with run_cli(["worker"], service_env):
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            async with res.db.session() as s:
                status = (
                    await s.execute(
                        text("SELECT status FROM posts.media WHERE id = :i"), {"i": media_id}
                    )
                ).scalar_one()
            if status in ("READY", "FAILED"):
                break
            await asyncio.sleep(0.1)
        assert status == "READY"

        def keys() -> list[str]:
            listing = res.s3.list_objects_v2(
                Bucket=res.settings.s3_bucket, Prefix=f"media/{media_id}/"
            )
            return sorted(o["Key"] for o in listing.get("Contents", []))

        assert keys() == [
            f"media/{media_id}/original.png",
            f"media/{media_id}/w1080.webp",
            f"media/{media_id}/w320.webp",
        ]
        # Deleting the post removes its files (the post.deleted consumer).
        await posts.delete_post(res, 1, created.post.id)
        deadline = time.monotonic() + 30
        left = keys()
        while left and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            left = keys()
        assert left == []
    async with res.db.session() as s:
        undispatched = (
            await s.execute(text("SELECT count(*) FROM posts.outbox WHERE dispatched_at IS NULL"))
        ).scalar_one()
    assert undispatched == 0
