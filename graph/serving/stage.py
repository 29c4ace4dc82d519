"""The stage contract: what a plugin may do in the request pipeline.

A stage is one plugin's behaviour (its config model lives next to it in graph/plugins/).
The pipeline calls the hooks a stage overrides, in the pipeline's stage order, and skips
the ones it does not (a hook that is not overridden costs nothing per request):

``on_connect(request)`` (async)
    A connection-level request (WebSocket ``connection_init``; ``request.params`` is empty):
    authenticate the connection. Raise ``HttpError`` to refuse it (401 closes with 4403).
``on_request(request)`` (async)
    Before the operation is parsed: the principal (authentication), the operation text
    (persisted queries, APQ), request-wide limits. Raise ``HttpError`` to refuse.
``checks()``
    Document checks run with validation (operation limits, introspection, directives).
    Their results are cached with the parsed document, so a check must depend on the
    document and the operation name only (never on the principal or variables).
``on_operation(request)`` (async)
    After parse and validation, before planning: ``request.prepared`` is known.
    Authorization, rate limits and quotas, cost. Raise ``HttpError`` to refuse, or replace
    ``request.prepared`` (``gateway.restrict``) to plan less than the client asked for.
``subgraph_headers(request, subgraph, headers)``
    Add to (or change) the headers of every request sent to ``subgraph`` for this request
    (propagated headers are already in ``headers``).
``on_response(request, body, status)``
    Every body the client gets (a refusal, a result, each event of a stream), before it is
    serialised: add ``extensions``, count errors. ``status`` is the HTTP status of a refusal,
    None for a GraphQL result.
``on_end(request)``
    Once, when the request is finished (the stream ended or was cancelled).
``start()`` / ``stop()`` (async)
    With the router's lifespan (and around a hot reload): background tasks, connections.

Response headers a stage wants on the response (``RateLimit``, ``Retry-After``) go in
``request.response_headers``; they are sent on every transport that has headers, on
refusals and results alike. Per-request data a stage keeps goes in
``request.context[stage.name]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from graphql import DocumentNode, GraphQLError

if TYPE_CHECKING:
    from graph.serving.request import RouterRequest

Check = Callable[[DocumentNode, str | None], list[GraphQLError]]

HOOKS = ("on_connect", "on_request", "on_operation", "subgraph_headers", "on_response", "on_end")


class Stage:
    """Base class of the pipeline's stages; override the hooks the plugin needs."""

    name: ClassVar[str] = "stage"

    async def on_connect(self, request: RouterRequest) -> None:
        """A connection opens (WebSocket connection_init); raise HttpError to refuse it."""

    async def on_request(self, request: RouterRequest) -> None:
        """Before parsing; raise HttpError to refuse the request."""

    def checks(self) -> Sequence[Check]:
        """Document checks, run (and cached) with validation."""
        return ()

    async def on_operation(self, request: RouterRequest) -> None:
        """After validation, before planning; raise HttpError to refuse."""

    def subgraph_headers(
        self, request: RouterRequest, subgraph: str, headers: dict[str, str]
    ) -> None:
        """Add headers to each subgraph request of this request."""

    def on_response(self, request: RouterRequest, body: dict[str, Any], status: int | None) -> None:
        """Every response body (refusal, result, stream event) before it is sent."""

    def on_end(self, request: RouterRequest) -> None:
        """Once per request, when it is finished."""

    async def start(self) -> None:
        """When the router starts serving with this stage."""

    async def stop(self) -> None:
        """When the router stops serving with this stage."""

    def overrides(self, hook: str) -> bool:
        return getattr(type(self), hook) is not getattr(Stage, hook)
