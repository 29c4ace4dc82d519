"""The shared subgraph app factory: FastAPI + Strawberry's GraphQLRouter, Federation 2.

    spec = SubgraphSpec(name="posts", schema=build_schema(Query, Mutation, types=[...]),
                        make_loaders=PostsLoaders)
    def create_app(settings: Settings | None = None) -> FastAPI:
        return create_subgraph_app(spec, settings)

Serves POST/GET `/graphql` (federation `_service { sdl }` and `_entities` included),
`/health` (`?ready`: PostgreSQL and Redis answer) and `/metrics`, behind the platform's
observability middleware (request ids, metrics, traces: puppies/observability). The lifespan
opens the process's Resources (database, Redis) and the Authenticator; the context getter
builds a RequestContext per request.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, Literal, TypeVar

import orjson
import strawberry
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from graphql import GraphQLError
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.fastapi import GraphQLRouter
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types import Info as StrawberryInfo
from strawberry.types.base import StrawberryObjectDefinition, get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from puppies.auth import AuthError
from puppies.auth.apikeys import ApiKeyVerifier, RemoteApiKeyVerifier
from puppies.auth.jwks import RemoteJWKS
from puppies.auth.principal import PrincipalVerifier
from puppies.auth.tokens import KeySource
from puppies.auth.viewer import Authenticator
from puppies.observability import metrics
from puppies.observability.asgi import ObservedApp
from puppies.observability.health import Readiness
from puppies.observability.tracing import configure_tracing
from puppies.settings import Settings, load_settings
from resolvers.errors import BadInput
from resolvers.runtime import Resources
from subgraphs.common.context import (
    MakeLoaders,
    RequestContext,
    authenticate_connection,
    get_context,
    watch_revocation,
)
from subgraphs.common.direct import DirectGraphQL
from subgraphs.common.errors import ErrorCodes, classify, log_errors, request_error
from subgraphs.common.execution import LeanExecution
from subgraphs.common.hints import ResponseHints
from subgraphs.common.inputs import (
    RawArguments,
    RawResolver,
    TextInput,
    check_raw_field,
    raw_resolver_of,
)
from subgraphs.common.plain import PlainFieldsExecutionContext
from subgraphs.common.scalars import SCALAR_OVERRIDES
from subgraphs.common.telemetry import OperationMetrics, TracedOperations, count_errors

FEDERATION_VERSION: Literal["2.9"] = "2.9"
_ID_KEY = {"__typename", "id"}


def _no_typename(_key: str) -> None:
    """The `__typename` of a representation that is not a mapping: none."""


# Garbage collection tuned for a request server: after start-up, the long-lived heap (schema,
# mappers, modules) is frozen out of collection, and the young generation is collected every
# 20,000 allocations instead of 700. Halves the CPU of a 100-node page (bench/RESULTS.md).
GC_THRESHOLDS = (20_000, 20, 50)
# Distinct operation texts whose parsed document and validation result are kept (LRU).
OPERATION_CACHE_SIZE = 1000

L = TypeVar("L")


class SubgraphSchema(strawberry.federation.Schema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # (GraphQL type name, field name) -> raw resolver; filled by get_fields below
        self.raw_resolvers: dict[tuple[str, str], RawResolver] = {}
        self._lean_for: tuple[Any, ...] | None = None
        self._lean: LeanExecution | None = None
        super().__init__(*args, **kwargs)

    def get_fields(self, type_definition: StrawberryObjectDefinition) -> list[StrawberryField]:
        """Strawberry's hook over every type's fields as the schema is built: each field
        with arguments gets the text-input check (subgraphs/common/inputs.py), except a
        field declared with raw arguments, which is registered for RawArguments."""
        fields = super().get_fields(type_definition)
        for one in fields:
            if not one.arguments or one.base_resolver is None:
                continue
            raw = raw_resolver_of(one)
            if raw is not None:
                check_raw_field(type_definition.name, one)
                name = self.config.name_converter.get_graphql_name(one)
                self.raw_resolvers[(type_definition.name, name)] = raw
            elif not any(isinstance(e, TextInput) for e in one.extensions):
                one.extensions.append(TextInput())
        return fields

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """One result for one request (HTTP POST/GET): a subscription cannot be answered
        so, and is refused before it runs (400, BAD_REQUEST: SubgraphRouter says to use a
        WebSocket); WebSockets and multipart streams go through `subscribe`/`stream`.

        An operation whose text was parsed and validated before is executed without
        Strawberry's extension runner when that changes nothing
        (subgraphs/common/execution.py); anything else by Strawberry's `execute`."""
        allowed = set(allowed_operation_types or OperationType)
        allowed.discard(OperationType.SUBSCRIPTION)
        lean = self._lean_execution()
        if lean is not None and query:
            prepared = lean.prepare(query, operation_name)
            if prepared is not None and prepared[1] in allowed:
                return await lean.execute(
                    prepared[0],
                    query,
                    variable_values,
                    context_value,
                    root_value,
                    operation_name,
                    allowed,
                    operation_extensions,
                )
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed,
            operation_extensions,
        )

    def _lean_execution(self) -> LeanExecution | None:
        """The lean path for the current extensions (they may change after the schema is
        built: create_subgraph_app adds tracing's), or None when they rule it out."""
        extensions = tuple(self.extensions)
        if extensions != self._lean_for:
            self._lean_for = extensions
            self._lean = LeanExecution.for_schema(self, OPERATION_CACHE_SIZE)
        return self._lean

    def entities_resolver(  # type: ignore[override]  # graphql-core awaits an awaitable
        self, info: StrawberryInfo, representations: list[FederationAny]
    ) -> list[FederationAny] | Awaitable[list[object]]:
        """Federation's `_entities`, with representations checked first: a router sends
        good ones, a direct caller may not (Strawberry would fail with a KeyError).

        When every representation is `{__typename, id}` of a type with a
        `resolve_references(info, ids)` classmethod (its `resolve_reference` for a whole
        list: one coroutine, not one per entity, each of which graphql-core would run as a
        task), the list is resolved by those; else by each `resolve_reference`."""
        batched: dict[str, list[int]] | None = {}
        entity_names = self.entity_names
        for i, representation in enumerate(representations):
            if type(representation) is dict:
                type_name = representation.get("__typename")
            else:
                type_name = getattr(representation, "get", _no_typename)("__typename")
            if not isinstance(type_name, str) or type_name not in entity_names:
                raise BadInput(
                    f"representations.{i} must be an object whose `__typename` is an entity "
                    f"of this subgraph ({', '.join(sorted(self.entity_names))}), with its "
                    "key fields",
                    field=f"representations.{i}",
                )
            if batched is not None:
                if (
                    type_name in self.batch_resolvers
                    and isinstance(representation, dict)
                    and representation.keys() == _ID_KEY
                ):
                    batched.setdefault(type_name, []).append(i)
                else:
                    batched = None
        if batched is None:
            return super().entities_resolver(info, representations)
        return self._resolve_batches(info, representations, batched)

    async def _resolve_batches(
        self,
        info: StrawberryInfo,
        representations: list[FederationAny],
        batched: dict[str, list[int]],
    ) -> list[object]:
        """Each entity, an error (an Exception: graphql-core reports it at that entity's
        path, as when `resolve_reference` raises) or None, in the representations' order."""
        found: list[object] = [None] * len(representations)

        async def one_type(type_name: str, positions: list[int]) -> None:
            ids = [representations[i]["id"] for i in positions]  # type: ignore[index]
            try:
                results: Sequence[object] = await self.batch_resolvers[type_name](info, ids)
            except Exception as exc:  # each entity gets the error, as one by one
                results = [exc] * len(positions)
            for i, result in zip(positions, results, strict=True):
                found[i] = result

        if len(batched) == 1:
            [(type_name, positions)] = batched.items()
            await one_type(type_name, positions)
        else:
            await asyncio.gather(*(one_type(t, p) for t, p in batched.items()))
        return found

    @cached_property
    def batch_resolvers(self) -> dict[str, Callable[..., Awaitable[Sequence[object]]]]:
        """Entity type name -> its `resolve_references` (see `entities_resolver`)."""
        found = {}
        for name in self.entity_names:
            origin = getattr(self.schema_converter.type_map[name].definition, "origin", None)
            batch = getattr(origin, "resolve_references", None)
            if batch is not None:
                found[name] = batch
        return found

    @cached_property
    def entity_names(self) -> frozenset[str]:
        """The types this subgraph resolves by key."""
        names = set()
        for name, type_ in self.schema_converter.type_map.items():
            directives = getattr(type_.definition, "directives", None) or ()
            if any(isinstance(d, Key) and d.resolvable is not False for d in directives):
                names.add(name)
        return frozenset(names)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Every path (queries, mutations, subscription events) passes here: log the
        # unexpected ones with their traceback, then give each its code (masking those).
        log_errors(errors)
        for error in errors:
            classify(error)
        count_errors(errors, execution_context)

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> Any:
        """What the WebSocket (and SSE) transports run. One connection's context is shared
        by all its operations, and a subscription resolves every event with it: give each
        operation its own DataLoaders, and empty them after each result, so nothing read
        for one operation or event (`viewerHasLiked`, counts) is served stale to another."""
        if not isinstance(context_value, RequestContext):
            return await super().stream(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                operation_extensions,
                allowed_operation_types,
            )
        context = context_value.for_operation()
        results = await super().stream(
            query,
            variable_values,
            context,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )
        return _fresh_loaders_per_result(results, context)


async def _fresh_loaders_per_result(
    results: AsyncGenerator[Any, None], context: RequestContext[Any]
) -> AsyncGenerator[Any, None]:
    metrics.ACTIVE_SUBSCRIPTIONS.inc()
    try:
        async with aclosing(results):
            async for result in results:
                yield result
                # the next event is executed when the transport asks for the next result
                context.refresh_loaders()
    finally:
        metrics.ACTIVE_SUBSCRIPTIONS.dec()


def build_schema(
    query: type,
    mutation: type | None = None,
    *,
    subscription: type | None = None,
    types: Iterable[type] = (),
    extensions: Iterable[type[SchemaExtension]] = (),
    scalar_overrides: dict[object, Any] | None = None,
) -> SubgraphSchema:
    """`extensions`: a subgraph's own schema extensions, after the shared ones.
    `scalar_overrides`: as strawberry.Schema's (e.g. a faster parser for a built-in)."""
    return SubgraphSchema(
        **schema_arguments(query, mutation, subscription, types, extensions, scalar_overrides)
    )


def schema_arguments(
    query: type,
    mutation: type | None = None,
    subscription: type | None = None,
    types: Iterable[type] = (),
    extensions: Iterable[type[SchemaExtension]] = (),
    scalar_overrides: dict[object, Any] | None = None,
) -> dict[str, Any]:
    """What build_schema passes to SubgraphSchema (or a subclass of it)."""
    raw = [
        f
        for root in (query, mutation)
        if root is not None
        for f in get_object_definition(root, strict=True).fields
        if raw_resolver_of(f) is not None
    ]
    return dict(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=list(types),
        scalar_overrides={**SCALAR_OVERRIDES, **(scalar_overrides or {})},
        # Clients send a handful of distinct operations: parsing or validating the same text
        # again is wasted work (~10 ms to validate a large one). ParserCache maps the raw
        # text to ONE DocumentNode, so ValidationCache's key (schema, document, rules) is
        # found by the node's cached hash instead of hashing a freshly parsed tree on every
        # request. Validation errors are cached with their codes; parse errors are not cached.
        extensions=[
            ErrorCodes,
            ResponseHints,
            OperationMetrics,
            lambda: ParserCache(maxsize=OPERATION_CACHE_SIZE),
            lambda: ValidationCache(maxsize=OPERATION_CACHE_SIZE),
            *extensions,
            # innermost of the `resolve` hooks, and only where a field needs it
            *([RawArguments] if raw else []),
        ],
        federation_version=FEDERATION_VERSION,
        # plain attribute fields completed without graphql-core's per-field path
        # (subgraphs/common/plain.py)
        execution_context_class=PlainFieldsExecutionContext,
    )


@dataclass
class SubgraphSpec(Generic[L]):
    name: str
    schema: strawberry.federation.Schema
    # (resources, viewer) -> this subgraph's per-request DataLoaders (`info.context.loaders`)
    make_loaders: MakeLoaders[L]
    # How access tokens are verified; default: the users subgraph's JWKS over HTTP.
    key_source: Callable[[Resources], KeySource] | None = None
    # How API keys are verified; default: the users subgraph's internal endpoint.
    api_key_verifier: Callable[[Resources], ApiKeyVerifier] | None = None
    routers: Sequence[APIRouter] = ()
    on_startup: Callable[[FastAPI, Resources], Awaitable[None]] | None = None
    on_shutdown: Callable[[FastAPI, Resources], Awaitable[None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def principal_verifier(settings: Settings) -> PrincipalVerifier:
    """Checks the router's signed principal (current and, during a rotation, previous secret)."""
    previous = settings.router_principal_previous_secret
    return PrincipalVerifier(
        [
            settings.router_principal_secret.get_secret_value(),
            *([previous.get_secret_value()] if previous is not None else []),
        ]
    )


def users_base_url(settings: Settings) -> str:
    """The users subgraph's origin (from JWKS_URL when set)."""
    url = settings.resolved_jwks_url
    return url.split("/.well-known/", 1)[0]


class SubgraphRouter(GraphQLRouter[RequestContext[Any], None]):
    """GraphQL-over-HTTP with JSON error bodies for requests that never reach execution.
    Responses are encoded with orjson (a 20-entity response: ~10x faster than the json
    module); what orjson refuses (integers past 64 bits, lone surrogates) goes to the json
    module. Bodies are still read with the json module: orjson would read an integer past
    64 bits as a float."""

    # the sub-response of the request being run (Strawberry's FastAPI endpoints set it
    # just before `run`; so does DirectGraphQL)
    temporal_response: Response

    def encode_json(self, data: object) -> str:
        # text, not bytes: the WebSocket transports send what this returns as text frames
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    async def run(  # type: ignore[override]
        self, request: Request | WebSocket, context: Any = None, root_value: Any = None
    ) -> Response | WebSocket:
        if (
            isinstance(request, Request)
            and isinstance(context, RequestContext)
            and context.auth_error is not None
        ):
            return JSONResponse(
                request_error(str(context.auth_error), context.auth_error.code),
                status_code=401 if context.auth_error.code == "UNAUTHENTICATED" else 403,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        watch = None
        if (
            isinstance(request, WebSocket)
            and isinstance(context, RequestContext)
            and not context.via_router
        ):
            # a direct socket's account is checked for revocation while it is open
            watch = asyncio.create_task(watch_revocation(context, request))
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as exc:
            return self.bad_request(exc)
        finally:
            if watch is not None:
                watch.cancel()

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        """Strawberry's, after checking that a JSON body is a request: an object, or a list
        of objects (a batch). Strawberry reads any other JSON value (a string, a number,
        null) as if it were an object and fails with a 500."""
        if request.method == "POST" and "application/json" in (request.content_type or ""):
            data = self.parse_json(await request.get_body())  # Starlette keeps the body
            if not _a_request(data):
                raise HTTPException(400, NOT_A_REQUEST)
        return await super().parse_http_body(request)

    def bad_request(self, exc: HTTPException) -> Response:
        """The response to a request that never reached execution."""
        return JSONResponse(request_error(_explain(exc)), status_code=exc.status_code)

    async def on_ws_connect(self, context: RequestContext[Any]) -> Any:
        """graphql-transport-ws / graphql-ws connection_init: the viewer from the credential
        in its payload or on the upgrade request (subgraphs/common/context.py). A bad one
        refuses the connection: close 4403 (graphql-transport-ws), or a connection_error
        with extensions.code (graphql-ws)."""
        try:
            await authenticate_connection(context)
        except AuthError as exc:
            raise ConnectionRejectionError(
                {"message": str(exc), "extensions": {"code": exc.code}}
            ) from None
        return UNSET


NOT_A_REQUEST = (
    'the request body must be an object, {"query": "...", "variables": {...}}, or a list '
    "of such objects (a batch)"
)


def _a_request(data: object) -> bool:
    if isinstance(data, list):
        return all(isinstance(item, dict) for item in data)
    return isinstance(data, dict)


def _explain(exc: HTTPException) -> str:
    reason = str(exc.reason)
    if "JSON" in reason:
        return (
            "the request body is not valid JSON; send "
            '{"query": "...", "variables": {...}} with Content-Type: application/json'
        )
    if reason.startswith("subscriptions are not allowed"):
        return (
            "a subscription needs a stream: open a WebSocket to /graphql "
            "(graphql-transport-ws or graphql-ws)"
        )
    return reason


class SubgraphApp(FastAPI):
    """FastAPI, except for the router's kind of request: a POST to exactly `/graphql` (no
    `root_path`) goes straight to `quick`, the same ObservedApp and DirectGraphQL under
    the same ServerErrorMiddleware (an exception: a plain 500, then raised to the server),
    without FastAPI's and Starlette's other layers, which do nothing for it when the app
    has no body size limit and FastAPI's own telemetry is off (no tracer provider; with
    tracing on, every request goes through FastAPI as before). Everything else (GET,
    WebSockets, `/health`, `/metrics`, other routes, the lifespan) goes through FastAPI."""

    # ObservedApp over DirectGraphQL (create_subgraph_app), and that under the error
    # middleware, made at the first request (as FastAPI makes its middleware stack then)
    quick_inner: ASGIApp | None = None
    _quick: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.quick_inner is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/graphql"
            and not scope.get("root_path")
            and not self.root_path
            and self.max_body_size is None
            and not _native_telemetry(self)
        ):
            quick = self._quick
            if quick is None:
                quick = self._quick = self._error_middleware(self.quick_inner)
            scope["app"] = self  # as Starlette sets it (the context getter reads app.state)
            await quick(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _error_middleware(self, inner: ASGIApp) -> ASGIApp:
        """What FastAPI puts outermost: Starlette's ServerErrorMiddleware, with the app's
        handler for 500 or Exception if it has one."""
        handler = self.exception_handlers.get(500) or self.exception_handlers.get(Exception)
        return ServerErrorMiddleware(inner, handler=handler, debug=self.debug)


def _native_telemetry(app: FastAPI) -> bool:
    """Whether FastAPI makes its own spans and metrics of requests (FastAPI.__call__)."""
    native = getattr(app, "_native_telemetry", None)
    return native is not None and bool(native.enabled())


def create_subgraph_app(spec: SubgraphSpec[Any], settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    settings.require_services()
    # before the lifespan creates engines and Redis clients, so they are instrumented
    if configure_tracing(spec.name, environment=settings.environment) and not any(
        ext is TracedOperations for ext in spec.schema.extensions
    ):
        spec.schema.extensions = (*spec.schema.extensions, TracedOperations)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources.open(settings)
        keys = (
            spec.key_source(resources)
            if spec.key_source
            else RemoteJWKS(settings.resolved_jwks_url)
        )
        api_keys = (
            spec.api_key_verifier(resources)
            if spec.api_key_verifier
            else RemoteApiKeyVerifier(users_base_url(settings) + "/internal/api-keys/verify")
        )
        app.state.resources = resources
        app.state.authenticator = Authenticator(settings, keys, api_keys)
        app.state.principals = principal_verifier(settings)
        app.state.make_loaders = spec.make_loaders
        try:
            if settings.db_pool_prewarm:
                await resources.db.warm()
            if spec.on_startup:
                await spec.on_startup(app, resources)
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
            yield
        finally:
            if spec.on_shutdown:
                await spec.on_shutdown(app, resources)
            await resources.close()

    app = SubgraphApp(
        title=f"puppies {spec.name} subgraph",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    graphql = SubgraphRouter(
        spec.schema,
        context_getter=get_context,
        graphql_ide="graphiql" if settings.environment == "development" else None,
    )
    app.include_router(graphql, prefix="/graphql")
    for router in spec.routers:
        app.include_router(router)

    async def database() -> None:
        await app.state.resources.db.ping()

    async def redis() -> None:
        await app.state.resources.redis.ping()

    # POST /graphql skips FastAPI's routing and dependencies (subgraphs/common/direct.py)
    readiness = Readiness({"postgresql": database, "redis": redis})
    app.add_middleware(DirectGraphQL, router=graphql, context_getter=get_context)
    app.add_middleware(ObservedApp, readiness=readiness)
    # ... and the router's POST /graphql skips FastAPI's own layers too (SubgraphApp)
    app.quick_inner = ObservedApp(
        DirectGraphQL(app.router, router=graphql, context_getter=get_context),
        readiness=readiness,
    )
    return app
