"""The per-request context, built by the context getter for every HTTP/WebSocket request.

It carries the viewer (from the Authorization header), fresh DataLoaders (so batching and
caching never cross requests or viewers), and the process's resources (database, Redis,
settings) created once in the app's lifespan.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from puppies.auth import ANONYMOUS, AuthError, Viewer
from puppies.settings import Settings
from resolvers.runtime import Resources


class RequestContext(BaseContext):
    def __init__(self, resources: Resources, viewer: Viewer, loaders: Any,
                 auth_error: AuthError | None = None) -> None:
        super().__init__()
        self.resources = resources
        self.viewer = viewer
        self.loaders = loaders
        self.auth_error = auth_error

    @property
    def settings(self) -> Settings:
        return self.resources.settings


Info = StrawberryInfo[RequestContext, None]


async def get_context(connection: HTTPConnection) -> RequestContext:
    """FastAPI dependency: the context for this request (HTTP or WebSocket)."""
    state = connection.app.state
    resources: Resources = state.resources
    viewer, auth_error = ANONYMOUS, None
    try:
        viewer = await state.authenticator.authenticate(
            connection.headers.get("authorization"), connection.headers.get("x-api-key")
        )
    except AuthError as exc:
        auth_error = exc
    return RequestContext(resources, viewer, state.make_loaders(resources, viewer), auth_error)
