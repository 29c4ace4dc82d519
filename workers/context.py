"""What every job gets: the process's `Resources` (settings, database, Redis, S3).

arq passes each job a `ctx` dict; `workers.main` puts one `resolvers.runtime.Resources` in
it at start-up under "resources", the same object every resolver takes, so a job hands it
straight to the resolvers. Jobs call `resources(ctx)` instead of reaching into the dict,
and `arq_redis(ctx)` to enqueue jobs.
"""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis

from resolvers.runtime import Resources

WorkerContext = dict[str, Any]


def resources(ctx: WorkerContext) -> Resources:
    res = ctx.get("resources")
    if not isinstance(res, Resources):
        raise RuntimeError("worker resources missing: was the job run outside workers.main?")
    return res


def arq_redis(ctx: WorkerContext) -> ArqRedis:
    """arq's Redis connection (the one `Resources.redis` is), for `enqueue_job`."""
    redis = ctx.get("redis")
    if not isinstance(redis, ArqRedis):
        raise RuntimeError("arq's redis missing: was the job run outside workers.main?")
    return redis
