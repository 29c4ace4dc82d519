"""The outbox relay: committed outbox rows -> arq jobs, in the worker process.

For each `<schema>.outbox` that exists it repeatedly, in one transaction:
  1. locks up to `outbox_batch_size` undispatched rows, oldest first, with
     `FOR UPDATE SKIP LOCKED` (several relays share the work without waiting on each other),
     and sets their `dispatched_at`, in ONE statement (`claim_for_dispatch`),
  2. enqueues one arq job per row with a deterministic job id, so arq refuses a second
     copy of the same job while the first is queued or its result is kept: a row with one
     registered consumer becomes that consumer's job, `<schema>:<row id>:<consumer>`; a
     row with several becomes one `outbox.event` job, `<schema>:<row id>:outbox.event`,
     which runs them all (`Registry.run_event`; a consumer that meets an outage is handed
     over to its own job, retried as before),
  3. commits.
A crash (or a Redis error) before the commit leaves the rows undispatched; the next pass
enqueues them again and the job ids absorb the duplicates. Rows are dispatched exactly once
from the relay's point of view; consumers are still written to be idempotent (arq is
at-least-once).

Latency: an AFTER INSERT trigger does `pg_notify('puppies_outbox', schema)`, delivered at
commit; the relay LISTENs (workers/listen.py) and wakes at once, and after enqueueing it
rings the arq worker's doorbell (`on_enqueued`), so the jobs start without waiting for the
worker's next poll. A notification names its schema, so a pass it starts drains only the
outboxes notified (one transaction, not one per domain); the first pass, a reconnected
LISTEN and the fallback poll every `outbox_poll_interval_seconds` drain every outbox, so a
lost notification only delays a row, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from arq.connections import ArqRedis
from arq.constants import expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

from models.db import Database
from models.outbox import (
    OUTBOX_CHANNEL,
    Event,
    claim_for_dispatch,
    existing_outbox_schemas,
    purge_dispatched,
)
from puppies.settings import Settings
from workers.context import WorkerContext, resources
from workers.listen import Listener
from workers.registry import EVENT_JOB, REGISTRY, Registry, consumer_job_id, event_job_id

log = logging.getLogger(__name__)

SCHEMA_REFRESH_SECONDS = 30.0

# KEYS: job key, result key, queue; ARGV: serialized job, expiry ms, score, job id.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('PSETEX', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


def job_id(event: Event, consumer_name: str) -> str:
    return consumer_job_id(event.id, consumer_name)


class OutboxRelay:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        redis: ArqRedis,
        registry: Registry,
        *,
        listener: Listener | None = None,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        """`listener`: a shared LISTEN connection (subscribed to here, run by its owner);
        without one, `run()` keeps its own. `on_enqueued`: called after jobs were queued
        (the worker's doorbell)."""
        self.settings = settings
        self.db = db
        self.redis = redis
        self.registry = registry
        self.batch_size = settings.outbox_batch_size
        self.poll_interval = settings.outbox_poll_interval_seconds
        self._own_listener = listener is None
        self._listener = listener or Listener(settings)
        self._wake = self._listener.subscribe(OUTBOX_CHANNEL)
        self._on_enqueued = on_enqueued
        self._schemas: list[str] = []
        self._schemas_at = 0.0
        self.dispatched = 0
        self._script = redis.register_script(_ENQUEUE)

    async def schemas(self) -> list[str]:
        now = time.monotonic()
        if not self._schemas or now - self._schemas_at > SCHEMA_REFRESH_SECONDS:
            async with self.db.session() as session:
                self._schemas = await existing_outbox_schemas(session)
            self._schemas_at = now
        return self._schemas

    async def _enqueue(self, events: list[Event]) -> int:
        """Enqueue one job per event (its consumer's, or `EVENT_JOB` for an event with
        several) in ONE pipelined round trip.

        Each job goes through `_ENQUEUE`, which does what `ArqRedis.enqueue_job` does (refuse
        an id whose job or result key exists, else store the job and add it to the queue)
        atomically in Lua instead of WATCH/MULTI, so a batch is one round trip, not three
        per job. The stored job is arq's own serialisation (`arq.jobs.serialize_job`).
        """
        jobs: list[tuple[str, dict[str, object], str]] = []
        for event in events:
            consumers = self.registry.consumers_for(event.type)
            if len(consumers) > 1:  # one job runs them all (Registry.run_event)
                jobs.append((EVENT_JOB, event.to_dict(), event_job_id(event.id)))
            elif consumers:
                jobs.append((consumers[0].name, event.to_dict(), job_id(event, consumers[0].name)))
        if not jobs:
            return 0
        now = timestamp_ms()
        expires = str(expires_extra_ms)
        queue = self.settings.worker_queue_name
        async with self.redis.pipeline(transaction=False) as pipe:
            for name, wire, jid in jobs:
                data = serialize_job(
                    name, (wire,), {}, None, now, serializer=self.redis.job_serializer
                )
                await self._script(
                    keys=[job_key_prefix + jid, result_key_prefix + jid, queue],
                    args=[data, expires, str(now), jid],
                    client=pipe,
                )
            results = await pipe.execute()
        return sum(int(r) for r in results)

    async def relay_schema(self, schema: str) -> int:
        """Dispatch one batch of `schema`'s outbox; returns how many rows it dispatched."""
        # a plain connection (no ORM session): BEGIN, the claim, COMMIT
        async with self.db.engine.begin() as connection:
            events = await claim_for_dispatch(connection, schema, self.batch_size)
            if not events:
                return 0
            if await self._enqueue(events) and self._on_enqueued is not None:
                self._on_enqueued()  # the jobs may start now: a job id is never queued twice
        self.dispatched += len(events)
        return len(events)

    async def relay_once(self, only: set[str] | None = None) -> int:
        """Drain every outbox once (batch by batch), or only those of the schemas in
        `only`; returns the rows dispatched."""
        total = 0
        schemas = await self.schemas()
        if only is not None and not only <= set(schemas):
            self._schemas_at = 0.0  # an outbox created since the last look
            schemas = await self.schemas()
        for schema in schemas:
            if only is not None and schema not in only:
                continue
            while True:
                n = await self.relay_schema(schema)
                total += n
                if n < self.batch_size:
                    break
        return total

    async def run(self) -> None:
        """Run until cancelled."""
        listener = (
            asyncio.create_task(self._listener.run(), name="outbox-listen")
            if self._own_listener
            else None
        )
        everything = True  # the first pass
        try:
            while True:
                woken, notified = self._wake.take()
                everything = everything or woken
                try:
                    await self.relay_once(None if everything else notified)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # PostgreSQL or Redis away: try again every second until a pass works
                    log.exception("outbox relay pass failed; retrying")
                    await asyncio.sleep(min(1.0, self.poll_interval))
                    everything = True  # what failed may be in any outbox
                    continue
                everything = False
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                except TimeoutError:
                    everything = True  # the fallback poll: every outbox
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener


async def purge_outboxes(ctx: WorkerContext) -> None:
    """Cron: delete dispatched outbox rows older than `outbox_retention_hours`."""
    res = resources(ctx)
    async with res.db.session() as session:
        schemas = await existing_outbox_schemas(session)
    for schema in schemas:
        async with res.db.transaction() as session:
            n = await purge_dispatched(session, schema, res.settings.outbox_retention_hours)
        if n:
            log.info("purged %d dispatched %s.outbox rows", n, schema)


REGISTRY.cron(name="outbox.purge", minute={7, 37}, second=0)(purge_outboxes)
