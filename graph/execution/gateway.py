"""The Gateway: the one object the request pipeline (graph/serving/) talks to.

Contract:

- ``Gateway.from_supergraph_sdl(sdl, options, transports=None)`` loads a Federation 2
  supergraph (raises ``graph.supergraph.SupergraphError`` when it cannot). ``transports``
  replaces the HTTP client of some subgraphs by another ``SubgraphTransport`` (tests serve
  subgraphs in-process through it).
- ``api_schema`` (GraphQLSchema) and ``subgraph_names`` (list[str]).
- ``prepare(query, operation_name, *, max_tokens=None, checks=(), plan=True)`` parses
  (``max_tokens``), runs ``checks`` (each ``check(document, operation_name)`` returns a list
  of GraphQLError), validates against the API schema and, unless ``plan=False``, plans. It
  raises ``RequestError(errors, code)`` with code GRAPHQL_PARSE_FAILED,
  GRAPHQL_VALIDATION_FAILED (also for failed checks unless the check's errors carry their
  own ``extensions.code``), BAD_REQUEST (no/unknown operation, operation name needed) or
  QUERY_PLANNING_FAILED. Results (and failures) are cached together in a bounded LRU keyed
  by (query text, operation name, max_tokens), and validated operations also by the
  normalised document (printed AST), so the same operation formatted differently is
  validated and planned once; ``checks`` must therefore depend on the document and
  operation name only.
- ``PreparedOperation`` has ``.document``, ``.operation``, ``.operation_type``
  ("query" | "mutation" | "subscription"), ``.normalized`` and ``.plan``: the plan is made
  on first use (``ensure_planned()`` raises the QUERY_PLANNING_FAILED ``RequestError``)
  and kept with the operation, so the pipeline can decide about an operation (authorization,
  rate limits, cost) before it is planned.
- ``restrict(prepared, operation, key)``: the same client operation executed with a plan
  made from ``operation`` (a copy with fields removed, e.g. by authorization); the response
  is still shaped by the client's operation, so removed fields come back ``null``. Cached
  per ``(prepared, key)``.
- ``await execute(prepared, variables, *, headers_for=None) -> dict``: the GraphQL response.
  Identical queries in flight together (same prepared operation, variables and the headers
  of the subgraphs its plan calls) share one execution
  (``GatewayOptions.deduplicate_requests``); the returned dict
  is the caller's, the data inside it may be shared: serialise it, do not mutate it.
  Without "data" it is a request error (variables that do not coerce: BAD_USER_INPUT).
  ``headers_for(subgraph_name)`` gives extra headers for each subgraph request.
- ``subscribe(prepared, variables, *, headers_for=None)``: an async iterator of responses;
  the subscription is forwarded to its subgraph over graphql-transport-ws and every event
  goes through the rest of the plan (entity fetches) like a query.
- ``await aclose()`` closes the pooled subgraph connections.

Introspection (``__schema``, ``__type``) is answered by the router from the API schema.
Subgraph errors reach the client as ``graph.plugins.subgraph_errors`` formats them (the one
place that decides what is redacted).
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    VariableDefinitionNode,
    execute_sync,
    parse,
    print_ast,
    specified_rules,
    type_from_ast,
    validate,
)
from graphql.execution.values import get_variable_values
from opentelemetry import trace

from graph.execution.breaker import BreakerOptions, CircuitBreaker
from graph.execution.errors import RequestError
from graph.execution.executor import Executor, HeadersFor
from graph.execution.http import SubgraphClient, SubgraphTransport
from graph.execution.incremental import IncrementalExecution, active_deferrals, run_whole
from graph.execution.inflight import shared
from graph.execution.shaping import Found, Shaper, client_paths
from graph.execution.validation import RULES_WITH_INCREMENTAL
from graph.planning import Planner, PlanningError, QueryPlan, normalize_operation
from graph.planning.operation import NormalizedOperation, OpField, OpSelection
from graph.supergraph import Supergraph, build_api_schema

Check = Callable[[DocumentNode, str | None], list[GraphQLError]]
"""A document check: ``check(document, operation_name)`` -> errors (none when it passes)."""
# graphql-core's "Did you mean ...?" hint at the end of a validation message
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


# spans for the cache misses (parse, validate); a no-op tracer while tracing is off
_TRACER = trace.get_tracer("graph.gateway")


@dataclass(frozen=True)
class SubgraphOptions:
    timeout: float = 30.0
    include_errors: bool = False
    headers: Mapping[str, str] | None = None  # static headers sent on every request
    # Where to send this subgraph's requests instead of the supergraph's routing URL
    # (Apollo Router: override_subgraph_url).
    url: str | None = None
    # Share one subgraph round trip between identical query requests in flight (same query,
    # variables and headers; never mutations). Apollo Router: traffic_shaping.*.
    # deduplicate_query; Hive Gateway: deduplicateInflightRequests (on by default there too).
    deduplicate: bool = True
    # A circuit breaker in front of the subgraph (traffic_shaping.*.circuit_breaker), or none.
    breaker: BreakerOptions | None = None


@dataclass(frozen=True)
class GatewayOptions:
    plan_cache_size: int = 1000
    subgraphs: Mapping[str, SubgraphOptions] = field(default_factory=dict)
    default: SubgraphOptions = field(default_factory=SubgraphOptions)
    max_connections_per_subgraph: int = 100
    # Identical queries in flight at the same time (same operation, variables and the headers
    # each subgraph it calls would get) share one execution. Never mutations or subscriptions.
    deduplicate_requests: bool = True
    # @defer and @stream in the API schema (Apollo Router: supergraph.defer_support)
    defer_support: bool = True
    # "Did you mean ...?" in validation errors. They name fields and types the client did
    # not ask for: off whenever introspection is, or they would leak the schema piecemeal.
    suggestions: bool = True

    def for_subgraph(self, name: str) -> SubgraphOptions:
        return self.subgraphs.get(name, self.default)


class PreparedOperation:
    """A parsed and validated operation, with its plan made on first use."""

    __slots__ = (
        "_fetched",
        "_plan",
        "_planner",
        "document",
        "introspection",
        "normalized",
        "operation",
        "operation_type",
        "planned_from",
        "restricted",
        "root_type",
        "shape_cache",
    )

    def __init__(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        operation_type: str,
        normalized: NormalizedOperation,
        root_type: str,
        introspection: DocumentNode | None,
        planner: Planner,
        planned_from: NormalizedOperation | None = None,
    ) -> None:
        self.document = document
        self.operation = operation
        self.operation_type = operation_type
        self.normalized = normalized  # what the response is shaped by
        self.planned_from = planned_from or normalized  # what the plan fetches
        self.root_type = root_type
        self.introspection = introspection  # the introspection root fields, answered locally
        self._planner = planner
        self._plan: QueryPlan | RequestError | None = None
        self._fetched: tuple[str, ...] | None = None
        # The shaper's per-operation cache (collected fields per selection set and type): it
        # lives and dies with this prepared operation in the LRU.
        self.shape_cache: dict[Any, Any] = {}
        # restricted variants of this operation (Gateway.restrict), by their key
        self.restricted: dict[Hashable, PreparedOperation] = {}

    def ensure_planned(self) -> QueryPlan:
        """The plan (made now if it was not yet); raises the planning failure."""
        plan = self._plan
        if plan is None:
            try:
                plan = self._planner.plan(self.planned_from)
            except PlanningError as exc:
                plan = RequestError(
                    [
                        {
                            "message": f"Query planning failed: {exc}",
                            "extensions": {"code": "QUERY_PLANNING_FAILED"},
                        }
                    ],
                    "QUERY_PLANNING_FAILED",
                )
            self._plan = plan
        if isinstance(plan, RequestError):
            raise plan.with_traceback(None)
        return plan

    @property
    def plan(self) -> QueryPlan:
        return self.ensure_planned()

    @property
    def fetched(self) -> tuple[str, ...]:
        """The subgraphs its plan sends requests to (deferred parts included), by name."""
        found = self._fetched
        if found is None:
            found = self._fetched = tuple(sorted({f.subgraph for f in self.plan.fetches()}))
        return found

    @property
    def planned(self) -> bool:
        return self._plan is not None

    @property
    def incremental(self) -> bool:
        """Has the operation `@defer` or `@stream` (it may be answered in parts)?"""
        return bool(self.normalized.deferrals)


class Gateway:
    def __init__(
        self,
        supergraph: Supergraph,
        options: GatewayOptions | None = None,
        *,
        transports: Mapping[str, SubgraphTransport] | None = None,
    ) -> None:
        self.options = options or GatewayOptions()
        self.supergraph = supergraph
        self.api_schema: GraphQLSchema = build_api_schema(
            supergraph, incremental=self.options.defer_support
        )
        self._rules = RULES_WITH_INCREMENTAL if self.options.defer_support else specified_rules
        self.subgraph_names: list[str] = list(supergraph.subgraphs)
        self.planner = Planner(supergraph)
        self._label_planners: dict[frozenset[str], Planner] = {}  # progressive @override
        hidden = frozenset(
            n
            for n, t in supergraph.types.items()
            if t.kind == "object" and self.api_schema.get_type(n) is None
        )
        self.shaper = Shaper(self.api_schema, hidden)
        self.clients: dict[str, SubgraphTransport] = {}
        include: dict[str, bool] = {}
        for name, sub in supergraph.subgraphs.items():
            opts = self.options.for_subgraph(name)
            given = (transports or {}).get(name)
            self.clients[name] = given or SubgraphClient(
                name,
                opts.url or sub.url,
                opts.timeout,
                self.options.max_connections_per_subgraph,
                opts.headers,
                opts.deduplicate,
                CircuitBreaker(name, opts.breaker) if opts.breaker is not None else None,
            )
            include[name] = opts.include_errors
        abstract = frozenset(n for n, t in supergraph.types.items() if t.is_abstract)
        possible = {n: frozenset(supergraph.possible_types(n)) for n in supergraph.types}
        self.executor = Executor(self.clients, include, abstract, possible)
        self._cache: OrderedDict[
            tuple[str, str | None, int | None], PreparedOperation | RequestError
        ] = OrderedDict()
        self._normal: OrderedDict[tuple[str, str | None], PreparedOperation] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[dict[str, Any]]] = {}

    @classmethod
    def from_supergraph_sdl(
        cls,
        sdl: str,
        options: GatewayOptions | None = None,
        *,
        transports: Mapping[str, SubgraphTransport] | None = None,
    ) -> Gateway:
        return cls(Supergraph.from_sdl(sdl), options, transports=transports)

    # ------------------------------------------------------------------ prepare
    def prepare(
        self,
        query: str,
        operation_name: str | None,
        *,
        max_tokens: int | None = None,
        checks: Sequence[Check] = (),
        plan: bool = True,
    ) -> PreparedOperation:
        key = (query, operation_name, max_tokens)
        hit = self._cache.get(key)
        if hit is None:
            try:
                hit = self._prepare(query, operation_name, max_tokens, checks)
            except RequestError as exc:
                hit = exc
            self._cache[key] = hit
            if len(self._cache) > self.options.plan_cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        if isinstance(hit, RequestError):
            raise hit.with_traceback(None)  # a cached failure: no growing traceback
        if plan:
            hit.ensure_planned()
        return hit

    def restrict(
        self, prepared: PreparedOperation, operation: OperationDefinitionNode, key: Hashable
    ) -> PreparedOperation:
        """``prepared`` executed with a plan made from ``operation`` (the client's operation
        with some selections removed); shaped by the client's operation, so what was removed
        comes back null. ``key`` names the restriction (equal keys, equal operations)."""
        found = prepared.restricted.get(key)
        if found is None:
            fragments = {
                d.name.value: d
                for d in prepared.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            found = PreparedOperation(
                prepared.document,
                prepared.operation,
                prepared.operation_type,
                prepared.normalized,
                prepared.root_type,
                prepared.introspection,
                self.planner,
                planned_from=normalize_operation(operation, fragments),
            )
            if len(prepared.restricted) >= 64:
                prepared.restricted.clear()
            prepared.restricted[key] = found
        return found

    def planner_for(self, labels: frozenset[str]) -> Planner:
        """The planner for the supergraph as it is with these progressive-override labels
        on (one per set of labels, kept)."""
        labels = labels & frozenset(self.supergraph.label_fields)
        if not labels:
            return self.planner
        found = self._label_planners.get(labels)
        if found is None:
            if len(self._label_planners) >= 64:
                self._label_planners.clear()
            found = self._label_planners[labels] = Planner(self.supergraph.with_labels(labels))
        return found

    def override_labels_of(self, prepared: PreparedOperation) -> frozenset[str]:
        """The progressive-override labels that can change the plan of `prepared`: those of
        the fields it asks for (only these count, so that one operation has few plans)."""
        if not self.supergraph.label_fields:
            return frozenset()
        found = prepared.shape_cache.get(_LABELS)
        if found is None:
            names = _field_names(prepared.planned_from.selections)
            found = frozenset(
                label
                for label, fields in self.supergraph.label_fields.items()
                if any(name in names for _, name in fields)
            )
            prepared.shape_cache[_LABELS] = found
        return found

    def with_override_labels(
        self, prepared: PreparedOperation, labels: frozenset[str]
    ) -> PreparedOperation:
        """``prepared`` planned with these progressive-override labels on: one plan per set
        of labels, kept with the operation (a given set always gives the same plan)."""
        labels = labels & self.override_labels_of(prepared)
        if not labels:
            return prepared
        key = (_LABELS, labels)
        found = prepared.restricted.get(key)
        if found is None:
            found = PreparedOperation(
                prepared.document,
                prepared.operation,
                prepared.operation_type,
                prepared.normalized,
                prepared.root_type,
                prepared.introspection,
                self.planner_for(labels),
                planned_from=prepared.planned_from,
            )
            found.shape_cache = prepared.shape_cache  # shaped as the operation is
            if len(prepared.restricted) >= 64:
                prepared.restricted.clear()
            prepared.restricted[key] = found
        return found

    def restrict_selections(
        self,
        prepared: PreparedOperation,
        key: Hashable,
        planned: tuple[OpSelection, ...],
        shaped: tuple[OpSelection, ...],
    ) -> PreparedOperation:
        """``prepared`` planned from ``planned`` and shaped by ``shaped``: normalized
        selections of the client's operation with parts removed (authorization), where the
        shaped ones mark removed fields ``denied`` (null, no error of the shaper's own)."""
        found = prepared.restricted.get(key)
        if found is None:
            base = prepared.normalized
            found = PreparedOperation(
                prepared.document,
                prepared.operation,
                prepared.operation_type,
                replace(base, selections=shaped),
                prepared.root_type,
                prepared.introspection,
                self.planner,
                planned_from=replace(base, selections=planned),
            )
            if len(prepared.restricted) >= 64:
                prepared.restricted.clear()
            prepared.restricted[key] = found
        return found

    def _prepare(
        self,
        query: str,
        operation_name: str | None,
        max_tokens: int | None,
        checks: Sequence[Check],
    ) -> PreparedOperation:
        try:
            with _TRACER.start_as_current_span("parse_query"):
                document = parse(query, max_tokens=max_tokens)
        except GraphQLError as exc:
            raise RequestError(
                [_error(exc, "GRAPHQL_PARSE_FAILED")], "GRAPHQL_PARSE_FAILED"
            ) from None
        # The same operation written differently (spacing, commas, comments) shares one
        # validated plan: the printed document is its normal form.
        normal_key = (print_ast(document), operation_name)
        known = self._normal.get(normal_key)
        if known is not None:
            self._normal.move_to_end(normal_key)
            return known
        with _TRACER.start_as_current_span("validate"):
            prepared = self._validate_and_plan(document, operation_name, checks)
        self._normal[normal_key] = prepared
        if len(self._normal) > self.options.plan_cache_size:
            self._normal.popitem(last=False)
        return prepared

    def _validate_and_plan(
        self, document: DocumentNode, operation_name: str | None, checks: Sequence[Check]
    ) -> PreparedOperation:
        for check in checks:
            errs = check(document, operation_name)
            if errs:
                code = (errs[0].extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED")
                raise RequestError(
                    [_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errs], str(code)
                )
        errs = validate(self.api_schema, document, self._rules)
        if errs:
            errors = [_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errs]
            if not self.options.suggestions:
                for error in errors:
                    error["message"] = _SUGGESTION.sub("", error["message"])
            raise RequestError(errors, "GRAPHQL_VALIDATION_FAILED")
        operation = _pick_operation(document, operation_name)
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        normalized = normalize_operation(operation, fragments)
        kind = operation.operation.value
        root = self.supergraph.root_types.get(kind, kind.capitalize())
        return PreparedOperation(
            document,
            operation,
            kind,
            normalized,
            root,
            _introspection_document(operation, fragments),
            self.planner,
        )

    # ------------------------------------------------------------------ execute
    async def execute(
        self,
        prepared: PreparedOperation,
        variables: Mapping[str, Any] | None,
        *,
        headers_for: HeadersFor | None = None,
    ) -> dict[str, Any]:
        if self.options.deduplicate_requests and prepared.operation_type == "query":
            key = self._request_key(prepared, variables, headers_for)
            if key is not None:
                work = functools.partial(self._execute, prepared, variables, headers_for)
                result, _ = await shared(self._inflight, key, work)
                return dict(result)  # callers share nested data: they must not mutate it
        return await self._execute(prepared, variables, headers_for)

    def _request_key(
        self,
        prepared: PreparedOperation,
        variables: Mapping[str, Any] | None,
        headers_for: HeadersFor | None,
    ) -> tuple[Any, ...] | None:
        try:
            var_key = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        headers: tuple[Any, ...] = ()
        if headers_for is not None:  # what the subgraphs it calls would get
            headers = tuple(tuple(sorted(headers_for(name).items())) for name in prepared.fetched)
        # The in-flight task holds `prepared`, so its id() cannot be reused meanwhile.
        return (id(prepared), var_key, headers)

    async def _execute(
        self,
        prepared: PreparedOperation,
        variables: Mapping[str, Any] | None,
        headers_for: HeadersFor | None,
    ) -> dict[str, Any]:
        values, problems = self._variables(prepared, variables)
        if problems:
            return {"errors": problems}
        plan = prepared.plan
        hints: dict[str, Any] = {}
        if plan.deferred:  # @defer/@stream, answered whole
            data, errors = await run_whole(self, plan, values, headers_for, prepared.planned_from)
        else:
            data, errors = await self.executor.run(plan, values, headers_for, hints)
        shaped = self._shape(prepared, data, errors, values)
        if hints:  # e.g. retryAfter from a throttled log-in: the pipeline sets Retry-After
            shaped["extensions"] = hints
        return shaped

    def incremental(
        self,
        prepared: PreparedOperation,
        variables: Mapping[str, Any] | None,
        fmt: str,
        headers_for: HeadersFor | None = None,
    ) -> IncrementalExecution | None:
        """The execution of an operation with `@defer`/`@stream` in parts, in format `fmt`
        (graph/execution/incremental.py: iterate ``payloads()``), or None when nothing is
        deferred with these variables (all `if: false`) or they do not coerce: `execute`
        then gives the one whole response."""
        values, problems = self._variables(prepared, variables)
        if problems:
            return None
        active = active_deferrals(prepared.normalized, values)
        plan = prepared.plan
        if not active or not plan.deferred:
            return None
        return IncrementalExecution(self, prepared, plan, values, headers_for, fmt, active)

    def _variables(
        self, prepared: PreparedOperation, variables: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The variables to run with, or the errors (BAD_USER_INPUT) if they do not coerce.

        Subgraphs get the client's values as sent (they coerce them against their own
        schemas and apply defaults from the variable definitions the router forwards); the
        router adds the Boolean defaults it needs itself for @skip/@include.
        """
        values = dict(variables or {})
        defs = prepared.operation.variable_definitions
        if not defs:
            return values, []
        checks = prepared.shape_cache.get(_SCALAR_VARIABLES)
        if checks is None:
            checks = prepared.shape_cache[_SCALAR_VARIABLES] = _scalar_checks(self.api_schema, defs)
        if checks and _plain_scalars(checks, values):
            return values, []  # they coerce, and no default is left to add
        coerced = get_variable_values(self.api_schema, defs, values)
        if isinstance(coerced, list):
            return values, [_error(e, "BAD_USER_INPUT") for e in coerced]
        for name, value in coerced.items():
            if isinstance(value, bool | int):  # @skip/@include, @defer(if:), initialCount
                values.setdefault(name, value)
        return values, []

    def _shape(
        self,
        prepared: PreparedOperation,
        data: dict[str, Any],
        errors: list[dict[str, Any]],
        variables: dict[str, Any],
        active: frozenset[int] = frozenset(),
        found: list[Found] | None = None,
    ) -> dict[str, Any]:
        """The response for the merged `data`; `active` deferrals are left for later parts
        (what is pending goes to `found`)."""
        if prepared.normalized.client_keys:
            client_paths(errors, prepared.normalized.client_keys)
        extra = None
        if prepared.introspection is not None:
            # The API schema does not change: an introspection without variables is answered
            # once per prepared operation (tools poll the same introspection query).
            cached = prepared.shape_cache.get("introspection") if not variables else None
            if cached is None:
                res = execute_sync(
                    self.api_schema, prepared.introspection, variable_values=variables
                )
                cached = (
                    res.data or {},
                    [_error(e, "INTROSPECTION_FAILED") for e in res.errors or ()],
                )
                if not variables:
                    prepared.shape_cache["introspection"] = cached
            extra = cached[0]
            errors.extend(cached[1])
        shaped = self.shaper.shape(
            prepared.normalized.selections,
            prepared.root_type,
            data,
            variables,
            errors,
            prepared.shape_cache,
            extra,
            active,
            found,
        )
        out: dict[str, Any] = {"data": shaped}
        if errors:
            out["errors"] = errors
        return out

    # ------------------------------------------------------------------ subscribe
    async def subscribe(
        self,
        prepared: PreparedOperation,
        variables: Mapping[str, Any] | None,
        *,
        headers_for: HeadersFor | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        from graph.execution.subscriptions import run_subscription

        values, problems = self._variables(prepared, variables)
        if problems:
            yield {"errors": problems}
            return
        async for data, errors in run_subscription(self, prepared, values, headers_for):
            if not data and errors:
                body = {"errors": errors}  # the subgraph refused or the stream failed
            else:
                body = self._shape(prepared, data, errors, values)
            # the event's unshaped data is not kept while the next event is awaited
            del data, errors
            yield body

    async def aclose(self) -> None:
        for c in self.clients.values():
            await c.aclose()


_LABELS = "override_labels"
_SCALAR_VARIABLES = "scalar_variables"
_MIN_INT, _MAX_INT = -2_147_483_648, 2_147_483_647


def _is_string(v: Any) -> bool:
    return type(v) is str


def _is_id(v: Any) -> bool:
    return type(v) is str or (type(v) is int and not isinstance(v, bool))


def _is_int(v: Any) -> bool:
    return type(v) is int and _MIN_INT <= v <= _MAX_INT


def _is_float(v: Any) -> bool:
    return type(v) is int or (type(v) is float and math.isfinite(v))


def _is_boolean(v: Any) -> bool:
    return type(v) is bool


# What graphql-core's built-in scalars accept as variable values (graphql/type/scalars.py),
# in part: a value these say yes to coerces; for any other the full coercion decides.
_SCALAR_CHECKS: dict[GraphQLScalarType, Callable[[Any], bool]] = {
    GraphQLString: _is_string,
    GraphQLID: _is_id,
    GraphQLInt: _is_int,
    GraphQLFloat: _is_float,
    GraphQLBoolean: _is_boolean,
}
# name, the value's check, the variable can be left out (nullable, no default)
_ScalarCheck = tuple[str, Callable[[Any], bool], bool]
# Deeper than this (a recursive input type), the full coercion decides: graphql-core refuses
# values nested deeper than 200 (MAX_NESTING_DEPTH).
_MAX_CHECK_DEPTH = 32


def _identity_scalar(t: GraphQLScalarType) -> bool:
    """A custom scalar without its own parse_value (the supergraph's: any value but null
    coerces to itself)."""
    return t.parse_value is GraphQLScalarType.parse_value


def _accept(v: Any) -> bool:
    return True


def _value_check(type_: Any, depth: int = 0) -> Callable[[Any], bool] | None:
    """A check of a non-null value of input type `type_` that says yes only to values
    graphql-core's coercion takes without an error (None: no such check, coerce decides).
    Defaults of input object fields are left to the subgraphs (they get the client's
    values), so a field left out is fine when it may be."""
    if depth > _MAX_CHECK_DEPTH:
        return None
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLScalarType):
        found = _SCALAR_CHECKS.get(type_)
        if found is not None:
            return found
        return _accept if _identity_scalar(type_) else None
    if isinstance(type_, GraphQLEnumType):
        names = frozenset(type_.values)
        return lambda v: type(v) is str and v in names
    if isinstance(type_, GraphQLList):
        item = type_.of_type
        item_check = _value_check(item, depth + 1)
        if item_check is None:
            return None
        nullable = not isinstance(item, GraphQLNonNull)

        def list_check(v: Any) -> bool:
            if type(v) is not list:
                return False  # a single value as a list of one: coerce decides
            for x in v:
                if x is None:
                    if not nullable:
                        return False
                elif not item_check(x):
                    return False
            return True

        return list_check
    if isinstance(type_, GraphQLInputObjectType):
        if getattr(type_, "is_one_of", False):
            return None
        # field name -> [its value's check (None until first used: input types may be
        # recursive), non-null]
        fields: dict[str, list[Any]] = {}
        required: list[str] = []
        for name, f in type_.fields.items():
            non_null = isinstance(f.type, GraphQLNonNull)
            if non_null and f.default_value is Undefined:
                required.append(name)
            fields[name] = [None, non_null]
        input_fields = type_.fields

        def object_check(v: Any) -> bool:
            if type(v) is not dict:
                return False
            for name in required:
                if name not in v:
                    return False
            for key, x in v.items():
                found = fields.get(key)
                if found is None:
                    return False  # not a field of the type
                if x is None:
                    if found[1]:
                        return False
                    continue
                check = found[0]
                if check is None:
                    check = _value_check(input_fields[key].type, depth + 1) or _refuse
                    found[0] = check
                if not check(x):
                    return False
            return True

        return object_check
    return None


def _refuse(v: Any) -> bool:
    return False


def _scalar_checks(
    schema: GraphQLSchema, definitions: Sequence[VariableDefinitionNode]
) -> tuple[_ScalarCheck, ...]:
    """The operation's variables' checks (empty if any variable's type has none)."""
    out: list[_ScalarCheck] = []
    for definition in definitions:
        var_type = type_from_ast(schema, definition.type)
        non_null = isinstance(var_type, GraphQLNonNull)
        check = _value_check(var_type)
        if check is None:
            return ()
        optional = not non_null and definition.default_value is None
        out.append((definition.variable.name.value, check, optional))
    return tuple(out)


def _plain_scalars(checks: tuple[_ScalarCheck, ...], values: Mapping[str, Any]) -> bool:
    """Do ``values`` coerce without an error and without a default to apply? (False: let
    graphql-core's coercion decide and give the errors and defaults.)"""
    for name, check, optional in checks:
        v = values.get(name, _ABSENT)
        if v is _ABSENT:
            if not optional:
                return False  # a default to apply, or a required variable missing
        elif v is None:
            if not optional:
                return False  # null for a non-null type (or a default: coerce decides)
        elif not check(v):
            return False
    return True


_ABSENT = object()


def _field_names(sels: tuple[OpSelection, ...], out: set[str] | None = None) -> set[str]:
    found = out if out is not None else set()
    for s in sels:
        if isinstance(s, OpField):
            found.add(s.name)
        if s.selections:
            _field_names(s.selections, found)
    return found


def _error(e: GraphQLError | Exception, code: str) -> dict[str, Any]:
    if isinstance(e, GraphQLError):
        out: dict[str, Any] = dict(e.formatted)
        ext: dict[str, Any] = dict(out.get("extensions") or {})
        ext.setdefault("code", code)
        out["extensions"] = ext
        return out
    return {"message": str(e), "extensions": {"code": code}}


def _pick_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        for op in ops:
            if op.name and op.name.value == operation_name:
                return op
        raise RequestError(
            [
                {
                    "message": f'Unknown operation named "{operation_name}".',
                    "extensions": {"code": "BAD_REQUEST"},
                }
            ],
            "BAD_REQUEST",
        )
    if len(ops) == 1:
        return ops[0]
    if not ops:
        raise RequestError(
            [
                {
                    "message": "The document has no operation to execute.",
                    "extensions": {"code": "BAD_REQUEST"},
                }
            ],
            "BAD_REQUEST",
        )
    raise RequestError(
        [
            {
                "message": "The document has several operations: send an "
                "operationName to say which one to execute.",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ],
        "BAD_REQUEST",
    )


def _introspection_document(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> DocumentNode | None:
    """A document with only the operation's `__schema` / `__type` root fields, or None."""
    fields = [
        s
        for s in operation.selection_set.selections
        if isinstance(s, FieldNode) and s.name.value in ("__schema", "__type")
    ]
    if not fields:
        return None
    op = OperationDefinitionNode(
        operation=operation.operation,
        name=None,
        variable_definitions=operation.variable_definitions,
        directives=(),
        selection_set=SelectionSetNode(selections=tuple(fields)),
    )
    return DocumentNode(definitions=(op, *fragments.values()))
