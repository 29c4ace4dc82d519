"""An operation executed without Strawberry's extension runner (subgraphs/common/execution.py)
answers exactly as Strawberry's `execute` does: data, errors with their codes and paths,
response extensions, refusals, metrics."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
import strawberry
from prometheus_client import REGISTRY
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from resolvers.errors import BadInput, NotFound
from subgraphs.common import Info, build_schema
from subgraphs.common.app import SubgraphSchema
from subgraphs.common.telemetry import TracedOperations


@strawberry.federation.type(keys=["id"])
class Thing:
    id: strawberry.ID
    n: int

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, info: Info) -> Thing:
        if id == "0":
            raise NotFound("no thing 0", field="id")
        return Thing(id=id, n=info.context.loaders["n"])


@strawberry.type
class Query:
    @strawberry.field
    def echo(self, n: int) -> int:
        return n

    @strawberry.field
    async def later(self, n: int) -> int:
        await asyncio.sleep(0)
        return n + 1

    @strawberry.field
    def boom(self) -> int:
        raise RuntimeError("secret internals")

    @strawberry.field
    def missing(self) -> int | None:
        raise NotFound("no such thing", field="id")

    @strawberry.field
    def bad(self, text: str) -> str:
        raise BadInput(f"bad {text}", field="text")

    @strawberry.field
    def throttled(self, info: Info) -> int:
        info.context.response_extensions["retryAfter"] = 30
        return 1

    @strawberry.field
    def things(self) -> list[Thing | None]:
        return [Thing(id=strawberry.ID("1"), n=1), Thing(id=strawberry.ID("2"), n=2)]


@strawberry.type
class Mutation:
    @strawberry.mutation
    def bump(self, n: int) -> int:
        return n + 1


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncIterator[int]:
        yield 1


class Flag(SchemaExtension):
    """Results only, as the feed's DegradedFlag: made per operation, asked for results."""

    def get_results(self) -> dict[str, Any]:
        return {"flag": {"viewer": self.execution_context.context.loaders["n"]}}


class Context:
    """What the schema's resolvers and extensions read from a RequestContext."""

    def __init__(self) -> None:
        self.loaders = {"n": 7}
        self.response_extensions: dict[str, Any] = {}


def _schema(extensions: tuple[type[SchemaExtension], ...] = (Flag,)) -> SubgraphSchema:
    return build_schema(
        Query, Mutation, subscription=Subscription, types=[Thing], extensions=extensions
    )


ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Thing { id n } } }"
TWO = "query A { echo(n: 1) } query B { later(n: 2) }"
CASES: list[tuple[str, dict[str, Any] | None, str | None]] = [
    ("{ echo(n: 3) }", None, None),
    ("query Q($n: Int!) { echo(n: $n) later(n: $n) }", {"n": 4}, None),
    ("query Q($n: Int!) { echo(n: $n) }", {"n": "x"}, None),
    ("query Q($n: Int!) { echo(n: $n) }", {}, None),
    ("{ boom }", None, None),
    ("{ missing echo(n: 1) }", None, None),
    ('{ bad(text: "x") }', None, None),
    ("{ throttled }", None, None),
    ("{ things { id n } }", None, None),
    (ENTITIES, {"r": [{"__typename": "Thing", "id": "1"}]}, None),
    (
        ENTITIES,
        {"r": [{"__typename": "Thing", "id": "0"}, {"__typename": "Thing", "id": "2"}]},
        None,
    ),
    (ENTITIES, {"r": [{"__typename": "Nope", "id": "1"}]}, None),
    ("{ _service { sdl } }", None, None),
    ("mutation { bump(n: 1) }", None, None),
    (TWO, None, "A"),
    (TWO, None, "B"),
    (TWO, None, "C"),
    (TWO, None, None),
    ("subscription { ticks }", None, None),
    ("{ nope }", None, None),
    ("{ echo(n: ", None, None),
    ("", None, None),
]


async def _answer(schema: SubgraphSchema, lean: bool, case: Any, allowed: Any) -> Any:
    query, variables, name = case
    context = Context()
    run = schema.execute if lean else super(SubgraphSchema, schema).execute
    try:
        result = await run(
            query,
            # fresh: Strawberry's `_entities` changes the representations it is given
            variable_values=copy.deepcopy(variables),
            context_value=context,
            operation_name=name,
            allowed_operation_types=allowed,
        )
    except Exception as exc:  # a refusal: the same kind and reason both ways
        return type(exc), str(exc)
    errors = [e.formatted for e in result.errors] if result.errors else None
    return type(result), result.data, errors, result.extensions, context.response_extensions


def _count(kind: str, name: str) -> float:
    labels = {"operation_type": kind, "operation_name": name}
    value = REGISTRY.get_sample_value("puppies_graphql_operation_duration_seconds_count", labels)
    return value or 0.0


@pytest.mark.parametrize("mutations", [True, False])
async def test_every_kind_of_operation_is_answered_as_strawberry_answers_it(
    mutations: bool,
) -> None:
    schema = _schema()
    lean = schema._lean_execution()
    assert lean is not None
    allowed = {OperationType.QUERY} | ({OperationType.MUTATION} if mutations else set())
    for case in CASES:
        for _ in range(2):  # the first time a text is prepared, then from the cache
            both = [await _answer(schema, way, case, allowed) for way in (True, False)]
            assert both[0] == both[1], case
    # the operations that parse and validate were run by the lean path
    assert ("{ echo(n: 3) }", None) in lean.prepared
    assert (TWO, "B") in lean.prepared
    assert ("{ nope }", None) not in lean.prepared
    # each error has its code
    answer = await _answer(schema, True, ("{ missing echo(n: 1) }", None, None), allowed)
    assert answer[2][0]["extensions"]["code"] == "NOT_FOUND"
    assert answer[3] == {"flag": {"viewer": 7}}
    answer = await _answer(schema, True, ("{ boom }", None, None), allowed)
    assert answer[2][0]["message"] == "Internal server error"
    answer = await _answer(schema, True, ("{ throttled }", None, None), allowed)
    assert answer[3] == {"retryAfter": 30, "flag": {"viewer": 7}}


async def test_the_lean_path_observes_the_operation_and_reuses_the_document() -> None:
    schema = _schema()
    query = "query LeanProbe { echo(n: 5) }"
    before = _count("query", "LeanProbe")
    for _ in range(3):
        result = await schema.execute(query, context_value=Context())
        assert result.data == {"echo": 5}
    assert _count("query", "LeanProbe") == before + 3
    lean = schema._lean
    assert lean is not None
    document = lean.prepared[(query, None)][0]
    await schema.execute(query, context_value=Context())
    assert lean.prepared[(query, None)][0] is document


def test_other_extensions_keep_strawberrys_execute() -> None:
    class Hooked(SchemaExtension):
        def on_execute(self) -> Any:
            yield

    assert _schema()._lean_execution() is not None
    assert _schema((Flag, Hooked))._lean_execution() is None
    schema = _schema()
    schema.extensions = (*schema.extensions, TracedOperations)  # as tracing on adds it
    assert schema._lean_execution() is None
