"""Making at-least-once jobs idempotent.

arq runs a job at least once: a retry after a timeout or a worker killed mid-job runs it
again, and the relay may enqueue an event twice if it dies between enqueueing and marking
the row dispatched (the deterministic job id absorbs most of those). Three tools:

1. Database effects: `claim(session, schema, consumer, event)` inside the transaction that
   makes the effect. It records (consumer, event id) in `<schema>.processed_events`; a
   second delivery finds the mark and skips. Effect and mark commit together, so a crash
   anywhere either keeps both or neither.

       async with res.db.transaction() as session:
           if not await claim(session, "feed", "feed.fan_out", event):
               return
           ... write the inbox rows ...

2. Effects outside the database (an email, a webhook): `once(redis, key)` as a context
   manager. It takes a short lease so two concurrent deliveries do not both run, and marks
   the key done only when the block finishes without an exception.

3. Naturally idempotent writes need nothing: `INSERT ... ON CONFLICT DO NOTHING`, upserts
   to an absolute value, recomputing a counter from rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox import Event, claim_event
from workers.errors import WorkerError

DONE_PREFIX = "puppies:done:"
LEASE_PREFIX = "puppies:lease:"


class AlreadyRunning(WorkerError):
    """Another delivery of the same job holds the lease; arq retries this one later."""


async def claim(session: AsyncSession, schema: str, consumer: str, event: Event | str) -> bool:
    """True when this is the first committed handling of `event` by `consumer`."""
    event_id = event.id if isinstance(event, Event) else event
    return await claim_event(session, schema, consumer, event_id)


@asynccontextmanager
async def once(
    redis: Redis, key: str, *, done_ttl_seconds: int = 7 * 24 * 3600, lease_seconds: int = 300
) -> AsyncIterator[bool]:
    """Yield True when the block should run (first time), False when `key` is already done.

    Raises AlreadyRunning when another delivery holds the lease right now.
    """
    if await redis.exists(DONE_PREFIX + key):
        yield False
        return
    if not await redis.set(LEASE_PREFIX + key, b"1", nx=True, ex=lease_seconds):
        raise AlreadyRunning(f"{key} is being handled by another delivery")
    try:
        yield True
        await redis.set(DONE_PREFIX + key, b"1", ex=done_ttl_seconds)
    finally:
        await redis.delete(LEASE_PREFIX + key)
