"""Users domain jobs: republish API-key revocations from the outbox.

The resolver publishes a revocation on Redis right after its commit; this consumer of the
committed `api_key.revoked` outbox event publishes it again (at least once), so routers hear
of it even if the first publish was lost (Redis briefly unreachable, the process died
between commit and publish). Publishing twice is harmless: a router just forgets the key.
"""

from __future__ import annotations

from models.outbox import Event
from resolvers.users.apikeys import publish_revocation
from workers.context import WorkerContext, resources
from workers.registry import REGISTRY


@REGISTRY.consumer("api_key.revoked", name="users.publish_api_key_revocation")
async def publish_api_key_revocation(ctx: WorkerContext, event: Event) -> None:
    await publish_revocation(resources(ctx), int(event.payload["api_key_id"]))
