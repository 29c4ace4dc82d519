"""The users domain's jobs: API-key revocations, password-reset and password-changed
mails, reset upkeep.

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
from resolvers.users import recovery
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


@REGISTRY.cron(name="users.purge_password_resets", minute={41}, second={0})
async def purge_password_resets(ctx: WorkerContext) -> None:
    n = await recovery.purge_password_resets(resources(ctx))
    if n:
        log.info("purged %d old password-reset rows", n)
