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

The router's own kind of request (`plain_json`: one operation, exactly `application/json`,
no stream asked for) does not even go through the view's generality (request adapter,
content-type parsing, batch and transport checks): its body is read, the schema executes
it, and the view's `process_result` and `create_response` make the response. Whatever
does not fit goes to the view untouched (tests/subgraphs/common/test_common_app.py
checks that both ways answer every kind of request alike).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cross_web import HTTPException
from starlette.background import BackgroundTasks
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

if TYPE_CHECKING:
    from subgraphs.common.app import SubgraphRouter

ContextGetter = Callable[[HTTPConnection], Awaitable[Any]]
# what Strawberry's view allows over POST (SubgraphSchema.execute then refuses subscriptions)
_POST = OperationType.from_http("POST")


def sub_response() -> Response:
    """The response object a resolver can set a status or headers on: FastAPI's own
    (`Response()`, its content-length header deleted, no status), with the attributes that
    construction leaves set directly (tests/subgraphs/common/test_common_app.py compares)."""
    response = Response.__new__(Response)
    response.status_code = None  # type: ignore[assignment]
    response.background = None
    response.body = b""
    response.raw_headers = []
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
        result = None
        if getattr(context, "auth_error", None) is None:
            result = await self.plain_json(request, context, response)
        if result is None:
            viewed = await self.router.run(request, context=context, root_value=None)
            assert isinstance(viewed, Response)  # an HTTP request gets a response
            result = viewed
        if result.background is None:
            result.background = tasks
        await result(scope, receive, send)

    async def plain_json(
        self, request: Request, context: Any, response: Response
    ) -> Response | None:
        """The view's work for the router's kind of request, without its generality: a body
        that is one JSON object with a string `query` (and `variables` and `extensions`
        objects or null), sent as exactly `application/json`, not asking for a stream.
        Executed, its result processed and its response made by the same schema and view
        methods; None for any other request, which the view then handles from the start
        (nothing was executed: the body is kept by `request`)."""
        headers = request.headers
        if headers.get("content-type") != "application/json":
            return None
        accept = headers.get("accept", "").lower()
        if "multipart" in accept or "event-stream" in accept:
            return None
        try:
            data = json.loads(await request.body())
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        query = data.get("query")
        variables = data.get("variables")
        extensions = data.get("extensions")
        if not (
            isinstance(query, str)
            and isinstance(variables, dict | None)
            and isinstance(extensions, dict | None)
        ):
            return None
        router = self.router
        try:
            result = await router.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=data.get("operationName"),
                allowed_operation_types=_POST,
                operation_extensions=extensions,
            )
        except CannotGetOperationTypeError as e:
            return router.bad_request(HTTPException(400, e.as_http_error_reason()))
        except InvalidOperationTypeError as e:
            return router.bad_request(HTTPException(400, e.as_http_error_reason("POST")))
        except MissingQueryError:
            return router.bad_request(HTTPException(400, "No GraphQL query found in the request"))
        processed = await router.process_result(request, result)
        return router.create_response(response_data=processed, sub_response=response)
