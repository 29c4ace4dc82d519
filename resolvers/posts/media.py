"""Media: presigned uploads bound to type and size, completion, URLs, the sweep.

Flow: `createPost` inserts a PENDING_UPLOAD row per file and returns a presigned S3 POST
(form fields include a policy with `content-length-range` = the declared size and an exact
`Content-Type`, so S3 refuses any other body). The client uploads, then calls
`completeMediaUpload`: we HEAD the object, check its size and type, set PROCESSING and emit
`media.uploaded` in the same transaction; the relay turns that into `process_media`.
The sweep finds uploads that were never completed: present -> queued as if completed;
absent after the URL expired -> FAILED.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from sqlalchemy import BigInteger, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox import emit
from models.posts import SCHEMA, Media, Post
from puppies.outages import missing_service
from resolvers.errors import Forbidden, NotFound
from resolvers.posts.errors import MediaRejected
from resolvers.posts.records import MediaRecord, Upload
from resolvers.runtime import Resources

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

log = logging.getLogger(__name__)

TYPE_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP", "image/gif": "GIF"}


def upload_key(media_id: int) -> str:
    return f"uploads/{media_id}"


def presign_upload(res: Resources, media: Media) -> Upload:
    s = res.settings
    post = res.s3.generate_presigned_post(
        Bucket=s.s3_bucket,
        Key=media.object_key,
        Fields={"Content-Type": media.content_type},
        Conditions=[
            {"Content-Type": media.content_type},
            ["content-length-range", media.byte_size, media.byte_size],
        ],
        ExpiresIn=s.media_upload_expiry_seconds,
    )
    return Upload(
        media_id=media.id,
        method="POST",
        url=post["url"],
        fields={k: str(v) for k, v in post["fields"].items()},
        headers={},
        expires_at=datetime.now(UTC) + timedelta(seconds=s.media_upload_expiry_seconds),
    )


def media_url(res: Resources, key: str | None) -> str | None:
    """The CDN URL when MEDIA_PUBLIC_BASE_URL is set, else a presigned GET."""
    if key is None:
        return None
    s = res.settings
    if s.media_public_base_url:
        return f"{s.media_public_base_url}/{key}"
    url: str = res.s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": s.s3_bucket, "Key": key},
        ExpiresIn=s.media_url_expiry_seconds,
    )
    return url


async def head_object(res: Resources, key: str) -> dict[str, Any] | None:
    def head() -> dict[str, Any] | None:
        try:
            return dict(res.s3.head_object(Bucket=res.settings.s3_bucket, Key=key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    return await asyncio.to_thread(head)


async def delete_objects(res: Resources, keys: Sequence[str]) -> None:
    """Delete these objects, 1000 a request (S3's limit); missing keys are not an error,
    so a retry is harmless."""
    bucket = res.settings.s3_bucket
    for i in range(0, len(keys), 1000):
        chunk: list[ObjectIdentifierTypeDef] = [{"Key": k} for k in keys[i : i + 1000]]
        await asyncio.to_thread(
            res.s3.delete_objects, Bucket=bucket, Delete={"Objects": chunk, "Quiet": True}
        )


def check_uploaded(media: Media, head: dict[str, Any]) -> None:
    """The object S3 holds must be what was declared (real S3 enforces it; check anyway)."""
    size = int(head.get("ContentLength", -1))
    if size != media.byte_size:
        raise MediaRejected(
            f"the uploaded file is {size} bytes but {media.byte_size} were declared",
            field="mediaId",
        )
    ctype = str(head.get("ContentType", "")).split(";")[0].strip().lower()
    if ctype and ctype != media.content_type:
        raise MediaRejected(
            f"the file was uploaded as {ctype} but declared as {media.content_type}",
            field="mediaId",
        )


async def queue_processing(session: AsyncSession, media: Media) -> None:
    media.status = "PROCESSING"
    media.updated_at = datetime.now(UTC)
    await emit(
        session,
        SCHEMA,
        "media.uploaded",
        # the author too: an account deletion finds the user's events by the user's id
        {"media_id": media.id, "post_id": media.post_id, "author_id": media.author_id},
        aggregate_id=media.id,
    )


async def complete_media_upload(res: Resources, viewer_id: int, media_id: int) -> MediaRecord:
    async with res.db.session() as session:
        found = (
            await session.execute(
                select(Media)
                .join(Post, Post.id == Media.post_id)
                .where(Media.id == media_id, Post.deleted_at.is_(None))
            )
        ).scalar_one_or_none()
    media = found
    if media is None:  # never existed, or its post was deleted
        raise NotFound(f"media {media_id} does not exist", field="mediaId")
    if media.author_id != viewer_id:
        raise Forbidden("only the author of the post can complete its uploads", field="mediaId")
    if media.status != "PENDING_UPLOAD":
        return MediaRecord.of(media)  # completing twice is harmless
    head = await head_object(res, media.object_key)
    if head is None:
        raise MediaRejected(
            "nothing was uploaded for this media yet: POST the file to the upload URL first",
            field="mediaId",
        )
    check_uploaded(media, head)
    async with res.db.transaction() as session:
        locked = (
            await session.execute(select(Media).where(Media.id == media_id).with_for_update())
        ).scalar_one_or_none()
        if locked is None:
            raise NotFound(f"media {media_id} does not exist", field="mediaId")
        if locked.status == "PENDING_UPLOAD":
            await queue_processing(session, locked)
        media = locked
    return MediaRecord.of(media)


async def mark_failed(session: AsyncSession, media_id: int, reason: str) -> None:
    await session.execute(
        update(Media)
        .where(Media.id == media_id, Media.status.in_(("PENDING_UPLOAD", "PROCESSING")))
        .values(status="FAILED", failure_reason=reason, updated_at=datetime.now(UTC))
    )


async def media_for_posts(res: Resources, post_ids: list[int]) -> dict[int, list[MediaRecord]]:
    out: dict[int, list[MediaRecord]] = {pid: [] for pid in post_ids}
    if not post_ids:
        return out
    for m in await res.db.rows(_MEDIA_FOR_POSTS, {"ids": list(post_ids)}):
        out[m.post_id].append(MediaRecord.of(m))
    return out


# Built once, as text (what `MediaRecord.of` reads; `thumbnails` is decoded from jsonb by the
# connection's codec), the ids as one array.
_MEDIA_FOR_POSTS = text(
    "SELECT id, post_id, author_id, position, status, content_type, stored_content_type, "
    "byte_size, stored_key, stored_bytes, width, height, thumbnails, failure_reason, "
    f"created_at FROM {SCHEMA}.media WHERE post_id = ANY(:ids) ORDER BY post_id, position"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


async def get_media(res: Resources, media_id: int) -> MediaRecord | None:
    async with res.db.session() as session:
        media = await session.get(Media, media_id)
    return MediaRecord.of(media) if media else None


async def sweep(res: Resources, *, now: datetime | None = None) -> dict[str, int]:
    """Uploads never completed: queue those that arrived, fail those whose URL expired.

    Media stuck in PROCESSING for 10 minutes (a job lost past its retries, or failing while
    the media storage is down) is re-queued, until `media_processing_deadline_hours` after
    its upload: then it is FAILED with the reason, so no post waits for it forever. While
    the media storage is unreachable, pending uploads wait for the next sweep.
    """
    now = now or datetime.now(UTC)
    s = res.settings
    grace = timedelta(seconds=min(60, s.media_upload_expiry_seconds))
    counts = {"queued": 0, "failed": 0, "requeued": 0}
    async with res.db.session() as session:
        pending = (
            (
                await session.execute(
                    select(Media)
                    .where(Media.status == "PENDING_UPLOAD", Media.created_at < now - grace)
                    .order_by(Media.id)
                    .limit(500)
                )
            )
            .scalars()
            .all()
        )
        stuck = (
            (
                await session.execute(
                    select(Media.id)
                    .where(
                        Media.status == "PROCESSING", Media.updated_at < now - timedelta(minutes=10)
                    )
                    .limit(500)
                )
            )
            .scalars()
            .all()
        )
    expiry = timedelta(seconds=s.media_upload_expiry_seconds)
    deadline = now - timedelta(hours=s.media_processing_deadline_hours)
    for media in pending:
        try:
            head = await head_object(res, media.object_key)
        except Exception as exc:
            if missing_service(exc) is None:
                raise
            log.warning("media sweep: the media storage is unreachable; uploads wait: %s", exc)
            break
        async with res.db.transaction() as session:
            row = (
                await session.execute(
                    select(Media)
                    .where(Media.id == media.id, Media.status == "PENDING_UPLOAD")
                    .with_for_update(skip_locked=True)
                )
            ).scalar_one_or_none()
            if row is None:
                continue
            if head is not None:
                try:
                    check_uploaded(row, head)
                except MediaRejected as exc:
                    await mark_failed(session, row.id, exc.message)
                    counts["failed"] += 1
                    continue
                await queue_processing(session, row)
                counts["queued"] += 1
            elif row.created_at < now - expiry - grace:
                await mark_failed(
                    session,
                    row.id,
                    "the upload was never completed before its "
                    "upload URL expired; create the post again",
                )
                counts["failed"] += 1
    for media_id in stuck:
        async with res.db.transaction() as session:
            row = await session.get(Media, media_id, with_for_update=True)
            if row is None or row.status != "PROCESSING":
                continue
            if row.created_at < deadline:
                await mark_failed(
                    session,
                    row.id,
                    "the image could not be processed within "
                    f"{s.media_processing_deadline_hours:g} hours of its upload "
                    "(processing kept failing); upload it again",
                )
                counts["failed"] += 1
            else:
                await queue_processing(session, row)
                counts["requeued"] += 1
    return counts
