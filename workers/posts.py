"""The posts domain's jobs: media processing, deleted media cleanup, like counter flushes,
the upload sweep and counter reconciliation. Registered on the shared registry."""

from __future__ import annotations

import asyncio
import logging

from models.outbox import Event
from resolvers.posts import likes, media, processing
from resolvers.posts.deps import PostsDeps
from workers.context import WorkerContext, resources
from workers.registry import REGISTRY

log = logging.getLogger(__name__)


def deps(ctx: WorkerContext) -> PostsDeps:
    res = resources(ctx)
    return PostsDeps(settings=res.settings, db=res.db, redis=res.redis, s3=res.s3)


@REGISTRY.consumer("media.uploaded", name="posts.process_media", max_tries=5, timeout=120)
async def process_media(ctx: WorkerContext, event: Event) -> None:
    """Idempotent: a media row not in PROCESSING is left alone (already READY/FAILED)."""
    status = await processing.process_media(deps(ctx), int(event.payload["media_id"]))
    log.info("media %s -> %s", event.payload["media_id"], status)


@REGISTRY.consumer("post.deleted", name="posts.delete_media_objects")
async def delete_media_objects(ctx: WorkerContext, event: Event) -> None:
    """Remove a deleted post's files (deleting a missing key is a no-op, so retries are safe)."""
    d = deps(ctx)
    keys = [str(k) for k in event.payload.get("object_keys", [])]
    for i in range(0, len(keys), 1000):
        chunk = [{"Key": k} for k in keys[i : i + 1000]]
        await asyncio.to_thread(
            d.s3.delete_objects,
            Bucket=d.settings.s3_bucket,
            Delete={"Objects": chunk, "Quiet": True},
        )


@REGISTRY.periodic(lambda s: s.likes_flush_interval_seconds, name="posts.flush_like_counts")
async def flush_like_counts(ctx: WorkerContext) -> None:
    n = await likes.flush_like_counts(deps(ctx))
    if n:
        log.debug("flushed like counts of %d posts", n)


@REGISTRY.cron(name="posts.sweep_media", second={5})
async def sweep_media(ctx: WorkerContext) -> None:
    counts = await media.sweep(deps(ctx))
    if any(counts.values()):
        log.info("media sweep: %s", counts)


@REGISTRY.cron(name="posts.reconcile_like_counts", minute={17}, second={0})
async def reconcile_like_counts(ctx: WorkerContext) -> None:
    n = await likes.reconcile_like_counts(deps(ctx))
    if n:
        log.warning("reconcile corrected %d like counters", n)
