"""POST /graphql straight to Strawberry's view, without FastAPI's routing and dependencies.

Nearly every request a subgraph serves is the router's POST to `/graphql`. Through FastAPI
it is matched against every route, then its endpoint's dependencies are solved (the context
getter, the root value, a sub-response, background tasks) before Strawberry's view runs:
about 0.2 ms of CPU per request on this machine, as much as executing a small operation
(bench/RESULTS.md, "Subgraphs vs bare graphql-core").

`DirectGraphQL` sits inside the observability middleware (request ids, metrics, traces) and
hands a POST to exactly `/graphql` to the same view (`SubgraphRouter.run`) with what FastAPI
would have given it: the context from the same getter (with `request`, `response` and
`background_tasks` set as Strawberry's FastAPI integration sets them), no root value, the
sub-response whose status and headers a resolver may set. Body parsing, errors, status codes,
batches and streamed responses are Strawberry's and ours, unchanged. Every other request
(GET, WebSocket, `/health`, other routes, a `root_path`) goes through FastAPI as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.background import BackgroundTasks
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from subgraphs.common.app import SubgraphRouter

ContextGetter = Callable[[HTTPConnection], Awaitable[Any]]


def sub_response() -> Response:
    """The response object a resolver can set a status or headers on: FastAPI's own."""
    response = Response()
    del response.headers["content-length"]
    response.status_code = None  # type: ignore[assignment]
    return response


class DirectGraphQL:
    """ASGI middleware: POST `path` to `router`'s view directly (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        router: SubgraphRouter,
        context_getter: ContextGetter,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.router = router
        self.context_getter = context_getter
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != self.path
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        response = sub_response()
        tasks = BackgroundTasks()
        context = await self.context_getter(request)
        context.request = request
        context.response = response
        context.background_tasks = tasks
        # what Strawberry's FastAPI endpoint does before it runs the view
        self.router.temporal_response = response
        result = await self.router.run(request, context=context, root_value=None)
        assert isinstance(result, Response)  # an HTTP request gets a response
        if result.background is None:
            result.background = tasks
        await result(scope, receive, send)
