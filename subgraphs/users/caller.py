"""Who is calling the users subgraph: the client's address, a session (not an API key)."""

from __future__ import annotations

import ipaddress

from resolvers.errors import Forbidden
from subgraphs.users.types import UsersInfo


def client_ip(info: UsersInfo) -> str | None:
    """The caller's address; X-Forwarded-For is believed only from a loopback/private peer
    (the router or a load balancer in front of this subgraph)."""
    request = info.context.request
    peer = request.client.host if request is not None and request.client else None
    forwarded = request.headers.get("x-forwarded-for") if request is not None else None
    if forwarded and peer:
        try:
            trusted = (
                ipaddress.ip_address(peer).is_private or ipaddress.ip_address(peer).is_loopback
            )
        except ValueError:
            trusted = False
        if trusted:
            return forwarded.split(",")[0].strip() or peer
    return peer


def session_user(info: UsersInfo, what: str = "manage API keys") -> int:
    """The viewer, who must be logged in with a session (not an API key)."""
    viewer = info.context.viewer
    user_id = viewer.require_user()
    if viewer.kind != "user":
        raise Forbidden(f"API keys cannot {what}; use a logged-in session")
    return user_id
