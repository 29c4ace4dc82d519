"""The posts domain's jobs: media processing, deleted posts' cleanup, like counter flushes,
the upload sweep and counter reconciliation. Registered on the shared registry."""

from __future__ import annotations

import logging

from arq import Retry

from models.outbox import Event
from puppies.outages import missing_service
from resolvers.posts import likes, media, processing, purge
from workers.context import WorkerContext, resources
from workers.registry import REGISTRY

log = logging.getLogger(__name__)


MEDIA_TRIES = 5


def outage_retry_delay(job_try: int) -> float:
    """Seconds before the next try of a job that met an outage: 5, 10, 20, 40 (75 s over
    MEDIA_TRIES tries; a longer outage is the upload sweep's, every 10 minutes)."""
    return 5.0 * 2 ** (max(1, job_try) - 1)


@REGISTRY.consumer("media.uploaded", name="posts.process_media", max_tries=MEDIA_TRIES, timeout=120)
async def process_media(ctx: WorkerContext, event: Event) -> None:
    """Idempotent: a media row not in PROCESSING is left alone (already READY/FAILED).

    The media storage or the database away (an outage, not a bad file) is retried with a
    growing delay: without it the job would fail at once and the image would wait for the
    sweep's re-queue, 10 minutes later."""
    media_id = int(event.payload["media_id"])
    try:
        status = await processing.process_media(resources(ctx), media_id)
    except Exception as exc:
        missing = missing_service(exc)
        if missing is None:
            raise
        job_try = int(ctx.get("job_try") or 1)
        delay = outage_retry_delay(job_try)
        log.warning(
            "media %s: %s is unreachable (try %d of %d); trying again in %.0f s: %s",
            media_id,
            missing,
            job_try,
            MEDIA_TRIES,
            delay,
            exc,
        )
        raise Retry(defer=delay) from exc
    log.info("media %s -> %s", media_id, status)


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
