"""Context fields (`context_field`) and union members' values, completed short
(subgraphs/common/plain.py), answer exactly as graphql-core's and Strawberry's general path
does, over generated values: ordinary ones, nulls, values a scalar cannot represent,
awaitables, raised and returned exceptions, in nullable and non-null fields, beside data,
object and union fields (a union's members, a subclass of one, a stranger)."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, cast

import strawberry
from graphql import GraphQLObjectType, GraphQLUnionType, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.errors import NotFound
from subgraphs.common import build_schema
from subgraphs.common.plain import PlainFieldsExecutionContext, context_field, union_members
from tests.support.execution import execute_with


@strawberry.enum
class Color(Enum):
    RED = "RED"
    BLUE = "BLUE"


class Context:
    def __init__(self, specs: list[dict[str, Any]]) -> None:
        self.specs = specs
        self.offset = 10


def made(spec: Any) -> Any:
    """The value a generated spec stands for, made anew for each execution (an awaitable
    is awaited once)."""
    if isinstance(spec, tuple):
        kind, value = spec
        if kind == "await":

            async def later() -> Any:
                await asyncio.sleep(0)
                return made(value)

            return later()
        if kind == "future":
            future = asyncio.get_running_loop().create_future()
            future.set_result(made(value))
            return future
        if kind == "exception":
            return NotFound(f"not found: {value}", field="x")
        if kind == "raise":
            raise ValueError(f"broken: {value}")
        if kind == "color":
            return Color(value)
        if kind == "leaf":
            return Leaf(s=made(value))
        if kind == "sub":
            return SubLeaf(s=made(value))
        if kind == "other":
            return Other(n=made(value))
        if kind == "stranger":
            return Stranger()
        if kind == "list":
            return [made(v) for v in value]
    return spec


@strawberry.type
class Leaf:
    s: str


class SubLeaf(Leaf):
    """Not a Strawberry type of its own: it has Leaf's definition."""


@strawberry.type
class Other:
    n: int


class Stranger:
    """No Strawberry type: not a member of any union; has no `s`."""


Thing = Annotated[Leaf | Other, strawberry.union("Thing")]


@strawberry.type
class Box:
    spec: strawberry.Private[dict[str, Any]]
    s: str
    n: int
    f: float
    b: bool
    i: strawberry.ID
    t: datetime
    c: Color
    ms: str | None
    mn: int | None
    mc: Color | None
    leaf: Leaf | None
    must: Leaf
    things: list[Thing | None] | None

    @classmethod
    def of(cls, spec: dict[str, Any]) -> Box:
        return cls(spec=spec, **{k: made(spec[k]) for k in DATA})

    @context_field(graphql_type=int)
    def cn(self, context: Context) -> Any:
        value = made(self.spec["cn"])
        return value + context.offset if type(value) is int else value

    @context_field(graphql_type=int | None)
    def cmn(self, context: Context) -> Any:
        return made(self.spec["cmn"])

    @context_field(graphql_type=str, name="cText")
    def cs(self, context: Context) -> Any:
        return made(self.spec["cs"])

    @context_field(graphql_type=bool | None)
    def cb(self, context: Context) -> Any:
        return made(self.spec["cb"])

    @context_field(graphql_type=Color)
    def cc(self, context: Context) -> Any:
        return made(self.spec["cc"])


@strawberry.type
class Query:
    @strawberry.field
    def boxes(self, info: strawberry.Info[Context, None]) -> list[Box | None]:
        return [Box.of(spec) for spec in info.context.specs]

    @strawberry.field
    def box(self, info: strawberry.Info[Context, None]) -> Box | None:
        return Box.of(info.context.specs[0])


DATA = ("s", "n", "f", "b", "i", "t", "c", "ms", "mn", "mc", "leaf", "must", "things")
FIELDS = "s n f b i t c ms mn mc cn cmn cText cb cc __typename"
OBJECTS = (
    "leaf { s __typename } must { s } things { __typename ... on Leaf { s } ... on Other { n } }"
)
QUERY = parse(
    f"query {{ boxes {{ {FIELDS} again: n other: cText ...F {OBJECTS} }} "
    f"box {{ {FIELDS} {OBJECTS} }} }} fragment F on Box {{ cn s }}"
)

# A box: every field with a value its type can represent, but for up to three fields with
# an odd one (so that most boxes survive their non-null fields and the object and union
# fields are compared too); any value may come behind an awaitable.
text = st.text(max_size=5)
int32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
color = st.sampled_from(["RED", "BLUE"]).map(lambda v: ("color", v))
odd = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.integers(),  # past 32 bits: Int cannot represent it
    st.floats(),  # nan and infinity: Float cannot represent them
    st.booleans(),
    st.just(datetime(2026, 12, 7, 8, 30, tzinfo=UTC)),
    st.sampled_from(["RED", "GREEN"]).map(lambda v: ("color", v)),
    st.text(max_size=3).map(lambda v: ("exception", v)),
    st.text(max_size=3).map(lambda v: ("raise", v)),
)


def maybe_later(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        values, values.map(lambda v: ("await", v)), values.map(lambda v: ("future", v))
    )


good_thing = st.one_of(
    st.tuples(st.sampled_from(["leaf", "sub"]), text),
    st.tuples(st.just("other"), int32),
)
odd_thing = st.one_of(
    st.tuples(st.sampled_from(["leaf", "sub"]), odd),
    st.tuples(st.just("other"), odd),
    st.just(("stranger", 0)),
    odd,
)
things = st.lists(maybe_later(st.one_of(good_thing, good_thing, odd_thing)), max_size=3)
GOOD: dict[str, st.SearchStrategy[Any]] = {
    "s": text,
    "ms": text,
    "cs": text,
    "n": int32,
    "mn": int32,
    "cn": int32,
    "cmn": int32,
    "f": st.floats(allow_nan=False, allow_infinity=False),
    "b": st.booleans(),
    "cb": st.booleans(),
    "i": st.one_of(text, int32),
    "t": st.datetimes(timezones=st.just(UTC)),
    "c": color,
    "mc": color,
    "cc": color,
    "leaf": good_thing,
    "must": good_thing,
    "things": things.map(lambda v: ("list", v)),
}
KEYS = tuple(GOOD)
ODD = {k: odd_thing if k in ("leaf", "must") else odd for k in KEYS}


@st.composite
def box_spec(draw: st.DrawFn) -> dict[str, Any]:
    spec = {k: draw(maybe_later(good)) for k, good in GOOD.items()}
    for k in draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True)):
        spec[k] = draw(maybe_later(ODD[k]))
    return spec


SCHEMA = build_schema(Query, types=[Box])


async def _run(context_class: Any, specs: list[dict[str, Any]]) -> tuple[Any, Any]:
    return await execute_with(SCHEMA._schema, QUERY, context_class, context_value=Context(specs))


def _ordinary() -> dict[str, Any]:
    """A spec whose every value is an ordinary one."""
    spec: dict[str, Any] = {k: 1 for k in KEYS} | {"s": "a", "cs": "b", "ms": "c"}
    spec |= {"leaf": ("leaf", "l"), "must": ("sub", "m"), "things": ("list", [("other", 2)])}
    colors = {k: ("color", "RED") for k in ("c", "mc", "cc")}
    return spec | colors | {"t": datetime(2026, 1, 1, tzinfo=UTC), "b": True, "cb": False}


def _same(a: Any, b: Any) -> bool:
    """Equal, with nan equal to itself."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=st.lists(box_spec(), min_size=1, max_size=4))
def test_plain_fields_answer_as_the_general_path(specs: list[dict[str, Any]]) -> None:
    async def both() -> None:
        plain = await _run(SCHEMA.execution_context_class, specs)
        general = await _run(StrawberryGraphQLCoreExecutionContext, specs)
        assert _same(plain, general), (plain, general)

    asyncio.run(both())


async def test_context_fields_are_read_without_their_strawberry_resolver() -> None:
    """A check that the short path is taken at all (the comparison above passes either
    way): the general path calls Strawberry's resolver, which the short path does not."""
    assert issubclass(SCHEMA.execution_context_class, PlainFieldsExecutionContext)
    union = cast(GraphQLUnionType, SCHEMA._schema.type_map["Thing"])
    assert sorted(m.name for m in union_members(union).values()) == ["Leaf", "Other"]
    field = cast(GraphQLObjectType, SCHEMA._schema.type_map["Box"]).fields["cn"]
    general = field.resolve
    assert general is not None
    calls: list[object] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return general(*args, **kwargs)

    field.resolve = counted
    try:
        spec = _ordinary()
        data, errors = await _run(SCHEMA.execution_context_class, [spec])
        assert errors == [] and data["box"]["cn"] == 11 and data["box"]["cc"] == "RED"
        data, errors = await _run(SCHEMA.execution_context_class, [spec | {"cn": ("await", 2)}])
        assert errors == [] and data["box"]["cn"] == 2  # awaited, as the general path does
        data, errors = await _run(SCHEMA.execution_context_class, [spec | {"cn": None}])
        assert data["box"] is None and errors[0]["path"] == ["boxes", 0, "cn"]
        assert calls == []
        general_answer = await _run(StrawberryGraphQLCoreExecutionContext, [spec])
        assert general_answer[0]["box"]["cn"] == 11 and len(calls) == 2  # boxes[0] and box
    finally:
        field.resolve = general


class Seen(SchemaExtension):
    """A `resolve` hook (middleware): every field must pass through it."""

    fields: list[str] = []

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        Seen.fields.append(info.field_name)
        return _next(root, info, *args, **kwargs)


async def test_resolver_middleware_sees_every_field() -> None:
    schema = build_schema(Query, types=[Box], extensions=[Seen])
    spec = _ordinary()
    Seen.fields = []
    result = await schema.execute("{ box { s cn cText } }", context_value=Context([spec]))
    assert result.errors is None and result.data == {"box": {"s": "a", "cn": 11, "cText": "b"}}
    assert Seen.fields == ["box", "s", "cn", "cText"]


async def test_schema_execute_answers_as_the_general_path() -> None:
    spec = _ordinary()
    spec |= {"n": ("exception", "x"), "cmn": ("future", 3)}
    query = "{ boxes { n cn cmn } box { cn mn } }"
    result = await SCHEMA.execute(query, context_value=Context([spec]))
    general = await _run(StrawberryGraphQLCoreExecutionContext, [spec])
    assert result.data == {"boxes": [None], "box": {"cn": 11, "mn": 1}}
    assert general[0]["boxes"] == [None]
    [error] = result.errors or []
    assert (error.message, error.path) == ("not found: x", ["boxes", 0, "n"])
    assert error.extensions == {"code": "NOT_FOUND", "field": "x"}


class Doubling(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs) * 2


@strawberry.type
class Guarded:
    @context_field(graphql_type=int)
    def n(self, context: Context) -> int:
        return context.offset


@strawberry.type
class GuardedQuery:
    @strawberry.field
    def g(self) -> Guarded:
        return Guarded()


async def test_a_context_field_with_an_extension_takes_the_general_path() -> None:
    definition = Guarded.__strawberry_definition__  # type: ignore[attr-defined]
    definition.fields[0].extensions.append(Doubling())
    schema = build_schema(GuardedQuery)
    result = await schema.execute("{ g { n } }", context_value=Context([]))
    assert result.errors is None and result.data == {"g": {"n": 20}}
