"""The per-request context, built by the context getter for every HTTP/WebSocket request.

It carries the viewer, fresh DataLoaders (so batching and caching never cross requests,
operations, subscription events or viewers), and the process's resources (database, Redis,
S3, settings) created once in the app's lifespan.

`RequestContext[L]` is generic in the subgraph's loaders type, and `Info[L]` is the
resolver's `info` with that context, so `info.context.loaders` is typed in every subgraph:
`PostsInfo = Info[PostsLoaders]`.

Where the viewer comes from:
- Through the router: the router verified the client's credential and sends the result as a
  signed principal header (`x-puppies-principal`, puppies/auth/principal.py). When it is
  there, it alone decides the viewer (credential headers are not looked at again). In
  production (`ENVIRONMENT=production`) it is required: a request without it, or with one
  that does not verify, is refused (HTTP 401, WebSocket 4403), so a subgraph reached
  directly grants nothing. Outside production, without it:
- HTTP: the `Authorization` (`Bearer <jwt>`, `Bearer pk_...`, `ApiKey pk_...`) or
  `X-API-Key` header.
- WebSocket (graphql-transport-ws and graphql-ws): the same headers on the upgrade request
  (what the router sends), or, since browsers cannot set headers on a WebSocket, the
  connection_init payload: `{"Authorization": "Bearer ..."}`, `{"authorization": ...}`,
  `{"x-api-key": ...}` or those nested in `{"headers": {...}}`. Connection params win over
  upgrade headers. A bad credential refuses the connection (`authenticate_connection`),
  and while the socket is open its account's revocation is checked again every 5 s: a
  revoked one's socket is closed with 4403 (`watch_revocation`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from puppies.auth import ANONYMOUS, Authenticator, AuthError, Viewer
from puppies.auth.principal import ForwardedPrincipal, PrincipalVerifier
from puppies.auth.revoked import is_revoked, revoked_at
from puppies.settings import Settings
from resolvers.runtime import Resources

L = TypeVar("L")
log = logging.getLogger(__name__)
# Redis could not answer the last revocation check (logged once, until it answers again)
_revocations_down = False

# (the process's resources, the request's viewer) -> that request's DataLoaders
MakeLoaders = Callable[[Resources, Viewer], L]


class RequestContext(BaseContext, Generic[L]):
    def __init__(
        self,
        resources: Resources,
        viewer: Viewer,
        make_loaders: MakeLoaders[L],
        auth_error: AuthError | None = None,
    ) -> None:
        super().__init__()
        self.resources = resources
        self.viewer = viewer
        self.make_loaders = make_loaders
        self.loaders: L = make_loaders(resources, viewer)
        self.auth_error = auth_error
        self.via_router = False  # the viewer comes from the router's signed principal
        # Response-level `extensions` a resolver asks for (ResponseHints puts them in the
        # response): `retryAfter` seconds, which the router turns into `Retry-After`.
        self.response_extensions: dict[str, Any] = {}

    @property
    def settings(self) -> Settings:
        return self.resources.settings

    def refresh_loaders(self) -> None:
        """New, empty DataLoaders: nothing read before is served from their caches."""
        self.loaders = self.make_loaders(self.resources, self.viewer)

    def for_operation(self) -> RequestContext[L]:
        """A copy for one operation on a WebSocket: same viewer and connection, own loaders
        (one connection's context is shared by every operation sent on it)."""
        ctx = copy.copy(self)
        ctx.refresh_loaders()
        ctx.response_extensions = {}
        return ctx


# A resolver's `info`, typed by the subgraph's loaders: `def field(self, info: Info[X])`.
Info = StrawberryInfo[RequestContext[L], None]


async def get_context(connection: HTTPConnection) -> RequestContext[Any]:
    """FastAPI dependency: the context for this request (HTTP or WebSocket)."""
    state = connection.app.state
    resources: Resources = state.resources
    make_loaders: MakeLoaders[Any] = state.make_loaders
    viewer, auth_error = ANONYMOUS, None
    forwarded: ForwardedPrincipal | None = None
    try:
        forwarded = forwarded_principal(connection)
        if forwarded is not None:
            viewer = forwarded.viewer
        else:
            viewer = await state.authenticator.authenticate(
                connection.headers.get("authorization"), connection.headers.get("x-api-key")
            )
            await refuse_revoked(resources, viewer)
    except AuthError as exc:
        auth_error = exc
    context = RequestContext(resources, viewer, make_loaders, auth_error)
    context.via_router = forwarded is not None
    return context


async def refuse_revoked(resources: Resources, viewer: Viewer) -> None:
    """A subgraph reached directly (no router principal) checks itself that the account's
    tokens were not revoked (an account being deleted); the router does it for requests
    it forwards (docs/privacy.md). When Redis cannot answer, the token is accepted and that
    is logged once per outage, as the router does (docs/router-config.md, "Revoked
    subjects"): the account's refresh tokens are revoked in the database already and its
    access tokens expire soon, while refusing would take every signed-in request down
    with Redis (it used to: an HTTP 500 from building the context)."""
    global _revocations_down
    if viewer.kind != "user" or viewer.user_id is None:
        return
    settings = resources.settings
    try:
        revoked = await revoked_at(resources.redis, settings.revoked_subjects_key, viewer.user_id)
    except (RedisError, OSError) as exc:
        if not _revocations_down:
            log.warning("revoked subjects: Redis unreachable (%s); tokens accepted", exc)
            _revocations_down = True
        return
    _revocations_down = False
    if is_revoked(revoked, viewer.issued_at):
        raise AuthError("this account's tokens were revoked (the account is disabled)")


# A WebSocket opened to a subgraph directly (outside production) has its account's
# revocation checked again this often while it is open, as the router does for its own
# sockets (graph/serving/transports/ws.py, CREDENTIAL_RECHECK)
REVOCATION_RECHECK = 5.0


async def watch_revocation(
    context: RequestContext[Any], websocket: WebSocket, every: float = REVOCATION_RECHECK
) -> None:
    """While a direct WebSocket is open (run as a task beside it, cancelled when it ends):
    every `every` seconds, the account of the viewer its connection_init authenticated goes
    through `refuse_revoked` again; once it is revoked (an account deleted or disabled)
    the socket is closed with 4403 and the reason, which ends its subscriptions. Checked
    at connection_init only, a subscription of a deleted account streamed for as long as
    the socket stayed open. When Redis cannot answer, the socket stays open (as the
    check at connect fails open)."""
    while True:
        await asyncio.sleep(every)
        if context.via_router:
            return  # the router's principal decides, and the router rechecks its sockets
        try:
            await refuse_revoked(context.resources, context.viewer)
        except AuthError as exc:
            log.info("closing a direct WebSocket of user %s: %s", context.viewer.user_id, exc)
            with contextlib.suppress(RuntimeError, OSError):  # (already closing)
                await websocket.close(4403, f"Forbidden: {exc}"[:120])
            return


def forwarded_principal(connection: HTTPConnection) -> ForwardedPrincipal | None:
    """The router's signed principal on this request; None when there is none and that is
    allowed (outside production). AuthError when it is missing in production or bad."""
    settings: Settings = connection.app.state.resources.settings
    token = connection.headers.get(settings.router_principal_header)
    if token is None:
        if settings.environment == "production":
            raise AuthError(
                "this subgraph serves only requests that come through the router "
                f"(no {settings.router_principal_header} header)"
            )
        return None
    verifier: PrincipalVerifier = connection.app.state.principals
    return verifier.verify(token)


def connection_credentials(params: object) -> tuple[str | None, str | None]:
    """(authorization, api key) from a connection_init payload, header names matched
    case-insensitively; entries of a nested `headers` object win over top-level ones."""
    if not isinstance(params, Mapping):
        return None, None
    found: dict[str, object] = {}
    nested = params.get("headers")
    for source in (params, nested if isinstance(nested, Mapping) else {}):
        for key, value in source.items():
            if isinstance(key, str) and key.lower() in ("authorization", "x-api-key"):
                found[key.lower()] = value
    out: list[str | None] = []
    for name in ("authorization", "x-api-key"):
        value = found.get(name)
        if value is not None and not isinstance(value, str):
            raise AuthError(f"connection_init payload: `{name}` must be a string")
        out.append(value or None)
    return out[0], out[1]


async def authenticate_connection(context: RequestContext[Any]) -> None:
    """Called once a WebSocket's connection_init arrives (its payload is
    `context.connection_params`): set the viewer from the credential in it, if any.
    Raises AuthError for a bad credential, in the payload or on the upgrade request, and
    for a revoked account's token (`refuse_revoked`, as an HTTP request's context does)."""
    if context.via_router:
        return  # the router authenticated the connection; its principal decides
    if context.auth_error is not None and context.settings.environment == "production":
        raise context.auth_error
    authorization, api_key = connection_credentials(context.connection_params)
    if authorization is None and api_key is None:
        if context.auth_error is not None:
            raise context.auth_error
        return
    request = context.request
    assert request is not None
    authenticator: Authenticator = request.app.state.authenticator
    viewer = await authenticator.authenticate(authorization, api_key)
    await refuse_revoked(context.resources, viewer)  # as for HTTP (get_context)
    context.viewer = viewer
    context.auth_error = None
    context.refresh_loaders()
