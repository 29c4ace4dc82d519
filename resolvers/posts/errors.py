"""Posts-specific errors (subclasses of the resolvers' hierarchy)."""

from __future__ import annotations

from resolvers.errors import BadInput


class MediaRejected(BadInput):
    """Processing refused a media file; the message is the user-readable reason."""
