"""The resolvers' exception hierarchy. Each error carries the GraphQL `extensions.code` the
subgraphs report for it, and optionally the input `field` it is about."""

from __future__ import annotations


class ResolverError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class BadInput(ResolverError):
    code = "BAD_USER_INPUT"


class NotFound(ResolverError):
    code = "NOT_FOUND"


class Unauthenticated(ResolverError):
    code = "UNAUTHENTICATED"


class Forbidden(ResolverError):
    code = "FORBIDDEN"


class Conflict(ResolverError):
    """An expected domain failure (name taken, ...) usually reported in a payload's errors."""

    code = "CONFLICT"


class RateLimited(ResolverError):
    code = "RATE_LIMITED"
