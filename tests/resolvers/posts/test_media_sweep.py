"""The upload sweep and media URLs against real PostgreSQL and the S3 server (SeaweedFS)."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import text

from puppies.outages import missing_service
from resolvers.posts import media, posts
from resolvers.posts.posts import MediaSpec
from resolvers.runtime import Resources


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


async def _processing_media(res, text_: str) -> int:
    created = await posts.create_post(res, 1, text_, [MediaSpec("image/png", 5)])
    (upload,) = created.uploads
    async with res.db.transaction() as s:
        await s.execute(
            text("UPDATE posts.media SET status = 'PROCESSING' WHERE id = :i"),
            {"i": upload.media_id},
        )
    return upload.media_id


async def test_media_processing_that_keeps_failing_ends_failed_with_its_reason(res):
    """Re-queued every 10 minutes while its jobs fail (the media storage down, say), until
    media_processing_deadline_hours after the upload: then FAILED, never PROCESSING forever."""
    media_id = await _processing_media(res, "stuck")
    hours = res.settings.media_processing_deadline_hours
    within = datetime.now(UTC) + timedelta(hours=hours) - timedelta(minutes=5)
    assert await media.sweep(res, now=within) == {"queued": 0, "failed": 0, "requeued": 1}
    assert await _status(res, media_id) == ("PROCESSING", None)
    past = datetime.now(UTC) + timedelta(hours=hours, minutes=5)
    assert await media.sweep(res, now=past) == {"queued": 0, "failed": 1, "requeued": 0}
    status, reason = await _status(res, media_id)
    assert status == "FAILED" and f"within {hours:g} hours" in reason
    assert await media.sweep(res, now=past) == {"queued": 0, "failed": 0, "requeued": 0}


async def test_media_storage_down_is_an_outage_and_the_sweep_goes_on(res):
    """S3 unreachable (nothing listens at its address): the error is classed as the media
    storage's outage (clients get SERVICE_UNAVAILABLE), pending uploads wait for a later
    sweep untouched, and stuck processing is still handled."""
    arrived = (await posts.create_post(res, 1, "up", [MediaSpec("image/png", 5)])).uploads[0]
    stuck = await _processing_media(res, "stuck")
    down = Resources.open(res.settings.model_copy(update={"s3_endpoint_url": _nothing_at()}))
    try:
        with pytest.raises(Exception) as info:
            await media.head_object(down, f"uploads/{arrived.media_id}")
        assert missing_service(info.value) == "the S3 media storage"
        later = datetime.now(UTC) + timedelta(minutes=20)
        assert await media.sweep(down, now=later) == {"queued": 0, "failed": 0, "requeued": 1}
    finally:
        await down.close()
    assert (await _status(res, arrived.media_id))[0] == "PENDING_UPLOAD"
    assert (await _status(res, stuck))[0] == "PROCESSING"
    assert missing_service(ClientError({"Error": {"Code": "403"}}, "HeadObject")) is None


def _nothing_at() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"
