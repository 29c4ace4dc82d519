"""The upload sweep and media URLs against real PostgreSQL and moto's S3 server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from resolvers.posts import media, posts
from resolvers.posts.posts import MediaSpec


async def _status(deps, media_id):
    async with deps.db.session() as s:
        return tuple(
            (
                await s.execute(
                    text("SELECT status, failure_reason FROM posts.media WHERE id = :i"),
                    {"i": media_id},
                )
            ).one()
        )


async def _events(deps):
    async with deps.db.session() as s:
        return (
            await s.execute(
                text("SELECT count(*) FROM posts.outbox WHERE event_type = 'media.uploaded'")
            )
        ).scalar_one()


async def test_sweep_queues_arrived_uploads_and_fails_expired_ones(deps):
    created = await posts.create_post(
        deps,
        1,
        "x",
        [MediaSpec("image/png", 5), MediaSpec("image/png", 5), MediaSpec("image/png", 5)],
    )
    arrived, missing, wrong_size = (u.media_id for u in created.uploads)
    for mid, body in ((arrived, b"12345"), (wrong_size, b"123")):
        await asyncio.to_thread(
            deps.s3.put_object,
            Bucket=deps.settings.s3_bucket,
            Key=f"uploads/{mid}",
            Body=body,
            ContentType="image/png",
        )
    # Within the grace period nothing is touched.
    assert await media.sweep(deps) == {"queued": 0, "failed": 0, "requeued": 0}
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert await media.sweep(deps, now=later) == {"queued": 1, "failed": 1, "requeued": 0}
    assert (await _status(deps, arrived))[0] == "PROCESSING"
    status, reason = await _status(deps, wrong_size)
    assert status == "FAILED" and "3 bytes but 5 were declared" in reason
    assert (await _status(deps, missing))[0] == "PENDING_UPLOAD"  # its URL is still valid
    assert await _events(deps) == 1
    expired = later + timedelta(seconds=deps.settings.media_upload_expiry_seconds)
    # By then the missing upload's URL expired, and the arrived one has been PROCESSING for
    # over 10 minutes (as if its job was lost past its retries): failed, and queued again.
    counts = await media.sweep(deps, now=expired)
    assert counts == {"queued": 0, "failed": 1, "requeued": 1}
    status, reason = await _status(deps, missing)
    assert status == "FAILED" and "never completed" in reason
    assert await _events(deps) == 2


async def test_media_urls_are_presigned_or_on_the_public_base(deps):
    url = media.media_url(deps, "media/1/w320.webp")
    assert url is not None and "X-Amz-Signature=" in url and "/media/1/w320.webp" in url
    deps.settings = deps.settings.model_copy(
        update={"media_public_base_url": "https://cdn.example.com/p"}
    )
    assert media.media_url(deps, "media/1/w320.webp") == (
        "https://cdn.example.com/p/media/1/w320.webp"
    )
    assert media.media_url(deps, None) is None
