"""The router's exception hierarchy.

Every exception the router raises on purpose derives from :class:`GraphError`, so a caller
can catch the router's own failures without catching programming errors.
"""

from __future__ import annotations


class GraphError(Exception):
    """Base class of every error the router raises on purpose."""


class ConfigError(GraphError):
    """``router.yaml`` (or a value in it) is invalid; the message names every bad key."""
