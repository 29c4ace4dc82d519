"""The upload sweep and media URLs against real PostgreSQL and the S3 server (SeaweedFS)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from resolvers.posts import media, posts
from resolvers.posts.posts import MediaSpec


async def _status(res, media_id):
    async with res.db.session() as s:
        return tuple(
            (
                await s.execute(
                    text("SELECT status, failure_reason FROM posts.media WHERE id = :i"),
                    {"i": media_id},
                )
            ).one()
        )


async def _events(res):
    async with res.db.session() as s:
        return (
            await s.execute(
                text("SELECT count(*) FROM posts.outbox WHERE event_type = 'media.uploaded'")
            )
        ).scalar_one()


async def test_sweep_queues_arrived_uploads_and_fails_expired_ones(res):
    created = await posts.create_post(
        res,
        1,
        "x",
        [MediaSpec("image/png", 5), MediaSpec("image/png", 5), MediaSpec("image/png", 5)],
    )
    arrived, missing, wrong_size = (u.media_id for u in created.uploads)
    for mid, body in ((arrived, b"12345"), (wrong_size, b"123")):
        await asyncio.to_thread(
            res.s3.put_object,
            Bucket=res.settings.s3_bucket,
            Key=f"uploads/{mid}",
            Body=body,
            ContentType="image/png",
        )
    # Within the grace period nothing is touched.
    assert await media.sweep(res) == {"queued": 0, "failed": 0, "requeued": 0}
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert await media.sweep(res, now=later) == {"queued": 1, "failed": 1, "requeued": 0}
    assert (await _status(res, arrived))[0] == "PROCESSING"
    status, reason = await _status(res, wrong_size)
    assert status == "FAILED" and "3 bytes but 5 were declared" in reason
    assert (await _status(res, missing))[0] == "PENDING_UPLOAD"  # its URL is still valid
    assert await _events(res) == 1
    expired = later + timedelta(seconds=res.settings.media_upload_expiry_seconds)
    # By then the missing upload's URL expired, and the arrived one has been PROCESSING for
    # over 10 minutes (as if its job was lost past its retries): failed, and queued again.
    counts = await media.sweep(res, now=expired)
    assert counts == {"queued": 0, "failed": 1, "requeued": 1}
    status, reason = await _status(res, missing)
    assert status == "FAILED" and "never completed" in reason
    assert await _events(res) == 2


async def test_media_urls_are_presigned_or_on_the_public_base(res):
    url = media.media_url(res, "media/1/w320.webp")
    assert url is not None and "X-Amz-Signature=" in url and "/media/1/w320.webp" in url
    res.settings = res.settings.model_copy(
        update={"media_public_base_url": "https://cdn.example.com/p"}
    )
    assert media.media_url(res, "media/1/w320.webp") == (
        "https://cdn.example.com/p/media/1/w320.webp"
    )
    assert media.media_url(res, None) is None
