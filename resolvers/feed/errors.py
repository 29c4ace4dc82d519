"""The feed resolvers' errors (part of the resolvers' hierarchy in resolvers/errors.py)."""

from __future__ import annotations

from resolvers.errors import ResolverError


class FeedUnavailable(ResolverError):
    """Neither the inbox nor the popular-posts fallback could be read."""

    code = "SERVICE_UNAVAILABLE"
