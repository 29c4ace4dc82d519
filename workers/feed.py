"""Feed jobs: fan-out, deletion, follow backfill/removal, VIP crossing, upkeep.

Consumers of the posts and users domains' events (at least once, each idempotent):
- `post.published` -> record the post, put it in the author's inbox, fan it out to the
                      followers in batches (or into `vip_post` for a VIP author); a post
                      with media is published when its media are READY, not at creation
                      (`post.created`, the event before publication existed, is consumed
                      the same way, for rows written before the upgrade);
- `post.deleted`   -> remove it from every inbox (and leave a tombstone);
- `user.followed`  -> backfill the followee's newest posts, then re-check the followee's
                      VIP status;
- `user.unfollowed`-> remove the followee's posts, then re-check the VIP status.
Periodic tasks: resume fan-outs whose worker died (lease lapsed), finish VIP crossings and
re-check VIP counts, refresh the popular-posts cache the degraded feed serves, and drop
week-old fan-out records.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from models.outbox import Event
from puppies.observability import metrics
from resolvers.feed.fanout import (
    delete_post,
    fan_out_post,
    purge_finished,
    run_fanout,
    stalled_fanouts,
)
from resolvers.feed.follows import sync_follow, sync_unfollow
from resolvers.feed.popular import refresh_popular
from resolvers.feed.vip import reconcile_vip, vip_authors
from workers.context import WorkerContext, arq_redis, resources
from workers.registry import REGISTRY

log = logging.getLogger(__name__)

RESUME_JOB = "feed.resume_fanout"


def _int(event: Event, key: str) -> int:
    value = event.payload.get(key)
    if value is None:
        raise ValueError(f"{event.type} event {event.id} has no {key!r}")
    return int(value)


@REGISTRY.consumer("post.published", name="feed.fan_out", timeout=600)
async def fan_out(ctx: WorkerContext, event: Event) -> None:
    res = resources(ctx)
    result = await fan_out_post(res, _int(event, "post_id"), _int(event, "author_id"))
    if result.state == "done":
        metrics.FANOUT_LAG.observe(
            max(0.0, (datetime.now(UTC) - event.occurred_at).total_seconds())
        )
    log.info(
        "fan-out of post %s: %s, %d rows in %d batches",
        result.post_id,
        result.state,
        result.rows_inserted,
        result.batches,
    )


REGISTRY.consumer("post.created", name="feed.fan_out_created", timeout=600)(fan_out)


@REGISTRY.job(name=RESUME_JOB, timeout=600)
async def resume_fanout(ctx: WorkerContext, post_id: int) -> None:
    res = resources(ctx)
    result = await run_fanout(res, post_id)
    log.info("resumed fan-out of post %s: %s, %d rows", post_id, result.state, result.rows_inserted)


@REGISTRY.consumer("post.deleted", name="feed.remove_post")
async def remove_post(ctx: WorkerContext, event: Event) -> None:
    res = resources(ctx)
    author = event.payload.get("author_id")
    await delete_post(res, _int(event, "post_id"), int(author) if author else None)


@REGISTRY.consumer("user.followed", name="feed.on_follow", timeout=600)
async def on_follow(ctx: WorkerContext, event: Event) -> None:
    res = resources(ctx)
    followee = _int(event, "followee_id")
    await sync_follow(res, _int(event, "follower_id"), followee)
    await reconcile_vip(res, followee)


@REGISTRY.consumer("user.unfollowed", name="feed.on_unfollow", timeout=600)
async def on_unfollow(ctx: WorkerContext, event: Event) -> None:
    res = resources(ctx)
    followee = _int(event, "followee_id")
    await sync_unfollow(res, _int(event, "follower_id"), followee)
    await reconcile_vip(res, followee)


@REGISTRY.periodic(
    lambda s: max(1.0, s.feed_fanout_lease_seconds / 3), name="feed.resume_stalled_fanouts"
)
async def resume_stalled(ctx: WorkerContext) -> None:
    """Hand fan-outs whose worker stopped renewing its lease to a live worker."""
    res = resources(ctx)
    bucket = int(time.time() // res.settings.feed_fanout_lease_seconds)
    for post_id in await stalled_fanouts(res):
        await arq_redis(ctx).enqueue_job(
            RESUME_JOB,
            post_id,
            _job_id=f"feed:resume:{post_id}:{bucket}",
            _queue_name=res.settings.worker_queue_name,
        )


@REGISTRY.periodic(lambda s: 30.0, name="feed.vip_sweep")
async def vip_sweep(ctx: WorkerContext) -> None:
    """Finish interrupted VIP crossings and catch counts that moved without an event."""
    res = resources(ctx)
    for author_id in await vip_authors(res):
        await reconcile_vip(res, author_id)


@REGISTRY.periodic(lambda s: 60.0, name="feed.refresh_popular")
async def popular(ctx: WorkerContext) -> None:
    res = resources(ctx)
    await refresh_popular(res, int(time.time() * 1000))


@REGISTRY.periodic(lambda s: 3600.0, name="feed.purge_fanouts")
async def purge_fanouts(ctx: WorkerContext) -> None:
    """Drop week-old fan-out records and tombstones."""
    await purge_finished(resources(ctx))
