"""Stopping an account's access tokens at once (an account deletion).

Access tokens are verified without a database lookup (that is what lets every router and
subgraph check them locally), so a token stays good until it expires. To stop an
account's tokens before that, its id goes into a Redis sorted set (user id -> the time of
the revocation) and onto a pub/sub channel: every router keeps the set in memory, hears
the channel, and refuses a token of that account issued at or before that time
(graph/authentication/revocations.py). An entry is dropped once every token it could
refuse has expired (`ACCESS_TOKEN_TTL_SECONDS` plus leeway).

Published right after the commit that disables the account, and again by the worker from
the outbox event (at least once).
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from resolvers.runtime import Resources

log = logging.getLogger(__name__)

LEEWAY_SECONDS = 120  # the router's JWT leeway (60 s) and clock skew


async def revoke_subject(res: Resources, user_id: int, at: float | None = None) -> None:
    """Refuse every access token of `user_id` issued up to now (or `at`). Best effort:
    Redis unreachable is logged; the worker's copy publishes again."""
    settings = res.settings
    when = at if at is not None else time.time()
    keep = settings.access_token_ttl_seconds + LEEWAY_SECONDS
    try:
        async with res.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(settings.revoked_subjects_key, {str(user_id): when})
            pipe.zremrangebyscore(settings.revoked_subjects_key, "-inf", when - keep)
            pipe.publish(settings.subject_revocation_channel, f"{user_id} {when:.3f}")
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("could not publish the revocation of user %s's tokens: %s", user_id, exc)
