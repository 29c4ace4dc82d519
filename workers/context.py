"""What every job gets: the process's settings, database, Redis and S3 clients.

arq passes each job a `ctx` dict; `workers.main` puts one `Resources` in it at start-up
under "resources". Jobs call `resources(ctx)` instead of reaching into the dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis

from models.db import Database
from puppies.settings import Settings

WorkerContext = dict[str, Any]


@dataclass
class Resources:
    settings: Settings
    db: Database
    redis: ArqRedis
    s3: Any

    @property
    def queue_name(self) -> str:
        return self.settings.worker_queue_name


def resources(ctx: WorkerContext) -> Resources:
    res = ctx.get("resources")
    if not isinstance(res, Resources):
        raise RuntimeError("worker resources missing: was the job run outside workers.main?")
    return res
