"""The posts domain's jobs: media processing, deleted posts' cleanup, like counter flushes,
the upload sweep and counter reconciliation. Registered on the shared registry."""

from __future__ import annotations

import logging

from models.outbox import Event
from resolvers.posts import likes, media, processing, purge
from workers.context import WorkerContext, resources
from workers.registry import REGISTRY

log = logging.getLogger(__name__)


@REGISTRY.consumer("media.uploaded", name="posts.process_media", max_tries=5, timeout=120)
async def process_media(ctx: WorkerContext, event: Event) -> None:
    """Idempotent: a media row not in PROCESSING is left alone (already READY/FAILED).
    S3 or PostgreSQL away, it is tried again after 5, 10, 20 and 40 s (the registry's
    outage retry); past that the upload sweep re-queues it every 10 minutes."""
    status = await processing.process_media(resources(ctx), int(event.payload["media_id"]))
    log.info("media %s -> %s", event.payload["media_id"], status)


@REGISTRY.consumer("post.deleted", name="posts.purge_post", timeout=600)
async def purge_post(ctx: WorkerContext, event: Event) -> None:
    """Remove a deleted post's likes, comments, media rows and files, then the post
    (resolvers/posts/purge.py; every step idempotent, so retries are safe)."""
    keys = [str(k) for k in event.payload.get("object_keys", [])]
    result = await purge.purge_post(resources(ctx), int(event.payload["post_id"]), keys)
    log.info("purge of post %s: %s", event.payload["post_id"], result)


@REGISTRY.periodic(lambda s: s.likes_flush_interval_seconds, name="posts.flush_like_counts")
async def flush_like_counts(ctx: WorkerContext) -> None:
    n = await likes.flush_like_counts(resources(ctx))
    if n:
        log.debug("flushed like counts of %d posts", n)


@REGISTRY.cron(name="posts.sweep_media", second={5})
async def sweep_media(ctx: WorkerContext) -> None:
    counts = await media.sweep(resources(ctx))
    if any(counts.values()):
        log.info("media sweep: %s", counts)


@REGISTRY.cron(name="posts.reconcile_like_counts", minute={17}, second={0})
async def reconcile_like_counts(ctx: WorkerContext) -> None:
    n = await likes.reconcile_like_counts(resources(ctx))
    if n:
        log.warning("reconcile corrected %d like counters", n)
