"""Checking and converting one uploaded image (the `process_media` job's work).

`inspect_and_convert` is pure (bytes in, bytes out) and runs in a thread:
  1. the magic bytes must name an allowed image type, and the one that was declared;
  2. the decoded pixel count (all frames) is bounded before anything is decoded, so a
     small file that claims 20,000 x 20,000 pixels is refused without allocating it;
  3. the image is fully decoded (a truncated or corrupt file fails here);
  4. it is re-encoded without metadata (EXIF, XMP, comments, text chunks), after applying
     the EXIF orientation; animated GIF/WebP keep their frames;
  5. WebP thumbnails are made at 320 and 1080 px wide, each only when the image is wider
     (a 64x48 image has none, a 500 px one only the 320 px rendition).
"""

from __future__ import annotations

import asyncio
import io
import logging
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image, ImageOps, ImageSequence

from models.posts import Media, Post
from resolvers.posts.errors import MediaRejected
from resolvers.posts.media import TYPE_NAMES, delete_objects, mark_failed
from resolvers.posts.publication import publish_if_ready
from resolvers.runtime import Resources

log = logging.getLogger(__name__)

THUMBNAIL_WIDTHS = (320, 1080)
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
MAX_FRAMES = 500


def sniff(data: bytes) -> str | None:
    """The image type the bytes say they are, from their magic numbers."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Converted:
    content_type: str
    data: bytes
    width: int
    height: int
    # (rendition width, width, height, webp bytes): only renditions narrower than the image
    thumbnails: list[tuple[int, int, int, bytes]]


def _describe(content_type: str) -> str:
    return TYPE_NAMES.get(content_type, content_type)


def inspect_and_convert(
    data: bytes, declared: str, *, max_pixels: int, max_bytes: int
) -> Converted:
    if len(data) > max_bytes:
        raise MediaRejected(f"the file is {len(data)} bytes; the limit is {max_bytes} bytes")
    actual = sniff(data)
    if actual is None:
        raise MediaRejected("the file is not an image we accept (JPEG, PNG, WebP or GIF)")
    if actual != declared:
        raise MediaRejected(
            f"the file is a {_describe(actual)} image but was declared as "
            f"{_describe(declared)} ({declared})"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = _open_header(data, FORMATS[actual])
        except Exception:
            raise MediaRejected(
                f"the file is not a readable {_describe(actual)} image (corrupt header)"
            ) from None
        with im:
            w, h = im.size
            frames = max(1, int(getattr(im, "n_frames", 1)))
            if w * h > max_pixels or frames > MAX_FRAMES or w * h * frames > max_pixels * 4:
                raise MediaRejected(
                    f"the image is {w}x{h} pixels"
                    + (f" x {frames} frames" if frames > 1 else "")
                    + f"; the limit is {max_pixels // 1_000_000} megapixels"
                )
            try:
                return _convert(im, actual, w, h, frames)
            except MediaRejected:
                raise
            except Exception as exc:  # Pillow: truncated data, bad chunk, bad frame
                reason = str(exc) or type(exc).__name__
                raise MediaRejected(
                    f"the file is truncated or corrupt and cannot be decoded ({reason})"
                ) from None


def _open_header(data: bytes, fmt: str) -> Image.Image:
    """Parse only the header with the format's plugin (nothing is decoded yet).

    `Image.open` would apply Pillow's global MAX_IMAGE_PIXELS check; we apply our own,
    configurable bound right after, with a message that names the size.
    """
    Image.init()
    factory, _accept = Image.OPEN[fmt]
    im = factory(io.BytesIO(data), "")
    if not isinstance(im, Image.Image):
        raise TypeError("not an image")
    return im


def _convert(im: Image.Image, content_type: str, w: int, h: int, frames: int) -> Converted:
    im.load()
    out = io.BytesIO()
    fmt = FORMATS[content_type]
    if frames > 1 and content_type in ("image/gif", "image/webp"):
        clean_frames = []
        durations = []
        for frame in ImageSequence.Iterator(im):
            frame.load()
            durations.append(int(frame.info.get("duration", 100)))
            clean_frames.append(frame.convert("RGBA"))
        first = clean_frames[0]
        first.save(
            out,
            format=fmt,
            save_all=True,
            append_images=clean_frames[1:],
            duration=durations,
            loop=int(im.info.get("loop", 0)),
        )
        base = first
    else:
        base = ImageOps.exif_transpose(im)
        base.info = {}
        if content_type == "image/jpeg":
            clean = base.convert("RGB") if base.mode not in ("RGB", "L", "CMYK") else base
            clean.save(out, format="JPEG", quality=90, optimize=True)
        elif content_type == "image/png":
            base.save(out, format="PNG", optimize=True)
        elif content_type == "image/gif":
            base.save(out, format="GIF")
        else:
            base.save(out, format="WEBP", quality=90)
    w, h = base.size
    thumbs: list[tuple[int, int, int, bytes]] = []
    rgb = base.convert("RGBA") if base.mode in ("P", "LA", "RGBA", "PA") else base.convert("RGB")
    for target in THUMBNAIL_WIDTHS:
        if target >= w:  # never an upscale, nor a copy of the image itself
            continue
        th = max(1, round(h * target / w))
        t = rgb.resize((target, th), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        t.save(buf, format="WEBP", quality=82, method=4)
        thumbs.append((target, target, th, buf.getvalue()))
    return Converted(
        content_type=content_type, data=out.getvalue(), width=w, height=h, thumbnails=thumbs
    )


def stored_key(media_id: int, content_type: str) -> str:
    return f"media/{media_id}/original.{EXTENSIONS[content_type]}"


def thumbnail_key(media_id: int, width: int) -> str:
    return f"media/{media_id}/w{width}.webp"


async def process_media(res: Resources, media_id: int) -> str:
    """Process one media row; idempotent. Returns the status it ends in."""
    async with res.db.session() as session:
        media = await session.get(Media, media_id)
    if media is None:
        return "GONE"  # the post was deleted meanwhile
    if media.status != "PROCESSING":
        return media.status
    s = res.settings
    bucket = s.s3_bucket

    def fetch() -> bytes | None:
        try:
            obj = res.s3.get_object(Bucket=bucket, Key=media.object_key)
        except res.s3.exceptions.NoSuchKey:
            return None
        length = int(obj.get("ContentLength", 0))
        if length > s.media_max_bytes:
            obj["Body"].close()
            raise MediaRejected(
                f"the file is {length} bytes; the limit is {s.media_max_bytes} bytes"
            )
        body: bytes = obj["Body"].read(s.media_max_bytes + 1)
        return body

    try:
        data = await asyncio.to_thread(fetch)
        if data is None:
            raise MediaRejected("the uploaded file is gone from storage; upload it again")
        if len(data) != media.byte_size:
            raise MediaRejected(
                f"the uploaded file is {len(data)} bytes but {media.byte_size} were declared"
            )
        converted = await asyncio.to_thread(
            inspect_and_convert,
            data,
            media.content_type,
            max_pixels=s.media_max_pixels,
            max_bytes=s.media_max_bytes,
        )
    except MediaRejected as exc:
        async with res.db.transaction() as session:
            await mark_failed(session, media_id, exc.message)
        log.info("media %s failed: %s", media_id, exc.message)
        return "FAILED"

    key = stored_key(media_id, converted.content_type)

    def store() -> list[dict[str, object]]:
        res.s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=converted.data,
            ContentType=converted.content_type,
            CacheControl="public, max-age=31536000, immutable",
        )
        thumbs: list[dict[str, object]] = []
        for target, tw, th, blob in converted.thumbnails:
            tkey = thumbnail_key(media_id, target)  # named by the rendition, not its size
            res.s3.put_object(
                Bucket=bucket,
                Key=tkey,
                Body=blob,
                ContentType="image/webp",
                CacheControl="public, max-age=31536000, immutable",
            )
            thumbs.append({"width": tw, "height": th, "key": tkey})
        return thumbs

    thumbs = await asyncio.to_thread(store)
    async with res.db.transaction() as session:
        # The post's row first: media of one post finishing at once publish it once.
        post = await session.get(Post, media.post_id, with_for_update=True)
        row = await session.get(Media, media_id, with_for_update=True)
        if row is None or post is None or post.deleted_at is not None:
            # deleted while we worked: leave no files behind (posts.purge_post takes the rest)
            await delete_objects(res, [key, *(str(t["key"]) for t in thumbs)])
            return "GONE"
        if row.status != "PROCESSING":
            return row.status
        row.status = "READY"
        row.stored_key = key
        row.stored_content_type = converted.content_type
        row.stored_bytes = len(converted.data)
        row.width = converted.width
        row.height = converted.height
        row.thumbnails = thumbs
        row.failure_reason = None
        row.updated_at = datetime.now(UTC)
        await session.flush()
        if await publish_if_ready(session, post):
            log.info("post %s published: its media are ready", post.id)
    # The raw upload may still carry metadata; only the cleaned copy is served.
    await asyncio.to_thread(res.s3.delete_object, Bucket=bucket, Key=media.object_key)
    return "READY"
