"""GDPR jobs (docs/privacy.md): data exports, and account deletion across every domain.

- `privacy.export`: `user.data_export_requested` -> the archive in S3 (idempotent).
- `privacy.erase.<domain>`, one consumer per domain of `user.deletion_requested`: that
  domain erases what it holds of the user (its erasers, then the generic pass over its
  tables' rules), then records it is done; the last one enqueues the final step.
- `privacy.finish_deletion`: once nothing names the user any more, the account's own rows
  go. Something left only in an outbox (an event not dispatched yet) is waited for a few
  seconds; anything else makes the domains holding it run again.
- `privacy.republish_revocation`: the account's token revocation published again from the
  committed event (at least once; the first publish is right after the commit).
- crons: `privacy.resume_deletions` resumes deletions without progress for
  `DELETION_STALL_SECONDS`; `privacy.expire_exports` deletes archives past their expiry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from models.outbox import Event
from resolvers.privacy import erasure, load
from resolvers.privacy.registry import Erase
from resolvers.users import deletion, exports
from resolvers.users.revocation import revoke_subject
from workers.context import WorkerContext, arq_redis, resources
from workers.registry import REGISTRY

log = logging.getLogger(__name__)

FINISH = "privacy.finish_deletion"
OUTBOX_WAIT_SECONDS = 2
OUTBOX_WAITS = 30


@REGISTRY.consumer(exports.REQUESTED, name="privacy.export", max_tries=3, timeout=1800)
async def export(ctx: WorkerContext, event: Event) -> None:
    state = await exports.run_export(resources(ctx), int(event.payload["export_id"]))
    log.info("data export %s: %s", event.payload["export_id"], state)


def _eraser(domain: str) -> Callable[[WorkerContext, Event], Awaitable[None]]:
    async def erase(ctx: WorkerContext, event: Event) -> None:
        res = resources(ctx)
        user_id = int(event.payload["user_id"])
        if not await deletion.pending(res, user_id, domain):
            return  # already erased here, or the deletion is complete
        changed = await erasure.erase_domain(res, domain, user_id)
        log.info("deletion of user %s: %s erased %s", user_id, domain, changed)
        if await deletion.domain_done(res, user_id, domain):
            await arq_redis(ctx).enqueue_job(FINISH, user_id, 0, _job_id=f"{FINISH}:{event.id}")

    erase.__name__ = f"erase_{domain}"
    return erase


for _domain in load().domains():
    REGISTRY.consumer(
        deletion.REQUESTED, name=f"privacy.erase.{_domain}", max_tries=20, timeout=3600
    )(_eraser(_domain))


@REGISTRY.consumer(deletion.REQUESTED, name="privacy.republish_revocation")
async def republish_revocation(ctx: WorkerContext, event: Event) -> None:
    res = resources(ctx)
    user_id = int(event.payload["user_id"])
    if await deletion.status(res, user_id) is not None:
        await revoke_subject(res, user_id, at=event.occurred_at.timestamp())


def _only_in_outboxes(left: dict[str, int]) -> bool:
    tables = load().tables
    return all(name in tables and tables[name].erase is Erase.TRANSIENT for name in left)


@REGISTRY.job(name=FINISH, max_tries=5, timeout=600)
async def finish_deletion(ctx: WorkerContext, user_id: int, waited: int = 0) -> str:
    res = resources(ctx)
    result = await deletion.finish(res, user_id)
    if result.state == "waiting":
        if _only_in_outboxes(result.left) and waited < OUTBOX_WAITS:
            await arq_redis(ctx).enqueue_job(
                FINISH, user_id, waited + 1, _defer_by=OUTBOX_WAIT_SECONDS
            )
        else:
            log.warning("deletion of user %s: still left %s; erasing again", user_id, result.left)
            await deletion.rerun(res, user_id, deletion.domains_of(result.left))
    else:
        log.info("deletion of user %s: %s", user_id, result.state)
    return result.state


@REGISTRY.cron(name="privacy.resume_deletions", second={40}, run_at_startup=True)
async def resume_deletions(ctx: WorkerContext) -> None:
    res = resources(ctx)
    domains = set(load().domains())
    for row in await deletion.stalled(res, res.settings.deletion_stall_seconds):
        log.warning("deletion of user %s stalled (done: %s); resuming", row.user_id, row.done)
        if domains <= set(row.done):
            await arq_redis(ctx).enqueue_job(FINISH, row.user_id, 0)
        else:
            await deletion.rerun(res, row.user_id, set())


@REGISTRY.cron(name="privacy.expire_exports", minute={7, 37}, second={0})
async def expire_exports(ctx: WorkerContext) -> None:
    n = await exports.expire(resources(ctx))
    if n:
        log.info("expired %d data export archives", n)
