"""Posts-specific errors (subclasses of the resolvers' hierarchy)."""

from __future__ import annotations

from resolvers.errors import BadInput, ResolverError


class MediaRejected(BadInput):
    """Processing refused a media file; the message is the user-readable reason."""


class SubscriberTooSlow(ResolverError):
    """A live subscriber's queue overflowed; it was dropped so others are not slowed."""

    code = "SUBSCRIBER_TOO_SLOW"
