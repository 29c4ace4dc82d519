"""The users domain's jobs: notifications from the users and posts domains' events,
API-key revocations, password-reset and password-changed mails, reset upkeep.

- Notifications (resolvers/users/notifications.py) are idempotent by construction (one row
  per recipient and subject) and reconcile with the current state, so they need no ledger.
- The API-key resolver publishes a revocation on Redis right after its commit; the
  consumer of the committed `api_key.revoked` outbox event publishes it again (at least
  once), so routers hear of it even if the first publish was lost (Redis briefly
  unreachable, the process died between commit and publish). Publishing twice is harmless:
  a router just forgets the key.
- Mail is an effect outside the database, so each mail job runs under `once(redis, key)`
  (a lease against two concurrent deliveries, a done mark after success); the reset mail
  is also keyed in the database by its request (resolvers/users/recovery.py), so a lost
  done mark still never leaves two working links.
"""

from __future__ import annotations

import logging

from models.outbox import Event
from puppies.mail import create_mailer
from resolvers.posts.posts import post_authors
from resolvers.users import notifications, recovery
from resolvers.users.apikeys import publish_revocation
from workers.context import WorkerContext, resources
from workers.idempotency import once
from workers.registry import REGISTRY

log = logging.getLogger(__name__)


@REGISTRY.consumer("api_key.revoked", name="users.publish_api_key_revocation")
async def publish_api_key_revocation(ctx: WorkerContext, event: Event) -> None:
    await publish_revocation(resources(ctx), int(event.payload["api_key_id"]))


@REGISTRY.consumer("password_reset.requested", name="users.mail_password_reset", max_tries=8)
async def mail_password_reset(ctx: WorkerContext, event: Event) -> None:
    res = resources(ctx)
    async with once(res.redis, f"mail:{event.id}") as first:
        if not first:
            return
        outcome = await recovery.send_password_reset(
            res, create_mailer(res.settings), event.id, str(event.payload["email"])
        )
    log.info("password reset request %s: %s", event.id, outcome)


@REGISTRY.consumer("user.password_changed", name="users.mail_password_changed", max_tries=8)
async def mail_password_changed(ctx: WorkerContext, event: Event) -> None:
    res = resources(ctx)
    async with once(res.redis, f"mail:{event.id}") as first:
        if first:
            await recovery.send_password_changed(
                res,
                create_mailer(res.settings),
                int(event.payload["user_id"]),
                str(event.payload.get("via", "change")),
            )


def _int(event: Event, key: str) -> int:
    value = event.payload.get(key)
    if value is None:
        raise ValueError(f"{event.type} event {event.id} has no {key!r}")
    return int(value)


@REGISTRY.consumer("user.followed", name="users.notify_follow")
async def notify_follow(ctx: WorkerContext, event: Event) -> None:
    await notifications.on_followed(
        resources(ctx), _int(event, "follower_id"), _int(event, "followee_id"), event.occurred_at
    )


@REGISTRY.consumer("user.unfollowed", name="users.forget_follow")
async def forget_follow(ctx: WorkerContext, event: Event) -> None:
    await notifications.on_unfollowed(
        resources(ctx), _int(event, "follower_id"), _int(event, "followee_id")
    )


@REGISTRY.consumer("post.liked", name="users.notify_like")
async def notify_like(ctx: WorkerContext, event: Event) -> None:
    await notifications.on_liked(
        resources(ctx),
        _int(event, "post_id"),
        _int(event, "user_id"),
        _int(event, "author_id"),
        event.occurred_at,
    )


@REGISTRY.consumer("post.unliked", name="users.forget_like")
async def forget_like(ctx: WorkerContext, event: Event) -> None:
    await notifications.on_unliked(
        resources(ctx), _int(event, "post_id"), _int(event, "user_id"), _int(event, "author_id")
    )


@REGISTRY.consumer("comment.created", name="users.notify_comment")
async def notify_comment(ctx: WorkerContext, event: Event) -> None:
    res = resources(ctx)
    post_id = _int(event, "post_id")
    post_author = event.payload.get("post_author_id")
    if post_author is None:  # an event written before the field existed
        post_author = (await post_authors(res, [post_id])).get(post_id)
    replied = event.payload.get("reply_to_author_id")
    await notifications.on_comment(
        res,
        comment_id=_int(event, "comment_id"),
        post_id=post_id,
        author=_int(event, "author_id"),
        post_author=int(post_author) if post_author is not None else None,
        replied_author=int(replied) if replied is not None else None,
        at=event.occurred_at,
    )


@REGISTRY.consumer("comment.deleted", name="users.forget_comments")
async def forget_comments(ctx: WorkerContext, event: Event) -> None:
    ids = [int(i) for i in event.payload.get("comment_ids", [])]
    await notifications.on_comments_deleted(resources(ctx), ids)


@REGISTRY.consumer("post.deleted", name="users.forget_post")
async def forget_post(ctx: WorkerContext, event: Event) -> None:
    await notifications.on_post_deleted(resources(ctx), _int(event, "post_id"))


@REGISTRY.cron(name="users.purge_password_resets", minute={41}, second={0})
async def purge_password_resets(ctx: WorkerContext) -> None:
    n = await recovery.purge_password_resets(resources(ctx))
    if n:
        log.info("purged %d old password-reset rows", n)
