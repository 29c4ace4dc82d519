"""Revoked subjects, read side: whether an account's access tokens were revoked before
they expire (an account deletion). The users domain writes the Redis sorted set
(resolvers/users/revocation.py); the router keeps its own copy of it
(graph/authentication/revocations.py); a subgraph reached directly (outside production)
asks Redis here."""

from __future__ import annotations

from redis.asyncio import Redis


async def revoked_at(redis: Redis, key: str, user_id: int) -> float | None:
    """When `user_id`'s tokens were revoked, if they were (recently)."""
    score = await redis.zscore(key, str(user_id))
    return float(score) if score is not None else None


def is_revoked(revoked: float | None, issued_at: float | None) -> bool:
    """A token issued at `issued_at` is refused when revoked at or after that."""
    return revoked is not None and (issued_at is None or issued_at <= revoked)
