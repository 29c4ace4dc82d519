"""Plain fields completed short (subgraphs/common/plain.py) answer exactly as graphql-core's
own execution does: generated documents over a schema with every kind of field, executed
on generated values (good ones, None where null is not allowed, values a scalar refuses,
Exceptions, awaitables that give or raise, attributes that are missing), both ways; data,
error messages, paths and locations compared."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Generator
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any

import pytest
import strawberry
from graphql import execute, parse, validate
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from subgraphs.common import build_schema
from subgraphs.common.plain import (
    LEAF,
    LIST,
    OBJECT,
    TYPENAME,
    PlainFieldsExecutionContext,
    _plan,
)

# When a non-null field's error nulls its parent, graphql-core drops the parent's pending
# sibling coroutines unawaited (both ways: it is graphql-core's behaviour, compared below)
pytestmark = [
    pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@strawberry.enum
class Color(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    s: str
    ns: str | None
    i: int
    ni: int | None
    f: float
    b: bool
    id: strawberry.ID
    c: Color
    nc: Color | None
    when: datetime
    nwhen: datetime | None


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Thing(Named):  # an interface's type: `is_type_of`, so graphql-core's path
    child: Leaf | None


@strawberry.type
class Node:
    leaf: Leaf
    nleaf: Leaf | None
    node: Node | None
    nodes: list[Node | None] | None
    thing: Thing | None
    either: Annotated[Leaf | Thing, strawberry.union("Either")] | None
    k: int
    # lists: of non-null objects, of a union, nested, of leaves (subgraphs/common/plain.py's
    # list items straight to their selection)
    leaves: list[Leaf] | None
    eithers: list[Annotated[Leaf | Thing, strawberry.union("Either")] | None] | None
    grid: list[list[Leaf | None] | None] | None
    ints: list[int | None] | None
    colors: list[Color] | None

    @strawberry.field
    def doubled(self) -> int:
        return self.k * 2

    @strawberry.field
    def listed(self) -> list[Node | None] | None:  # a resolver's list
        return self.nodes

    @strawberry.field
    def must_leaves(self) -> list[Leaf]:  # a resolver's non-null list of non-null items
        return self.leaves  # type: ignore[return-value]

    @strawberry.field
    def times(self, n: int) -> int:
        return self.k * n


@strawberry.type
class Query:
    root: Node
    nroot: Node | None
    label: str


SCHEMA = build_schema(Query, types=[Thing])
GRAPHQL = SCHEMA._schema

LEAF_FIELDS = ["s", "ns", "i", "ni", "f", "b", "id", "c", "nc", "when", "nwhen"]
GOOD: dict[str, Any] = {
    "s": "text",
    "i": 3,
    "f": 1.5,
    "b": True,
    "id": "7",
    "c": Color.BLUE,
    "when": datetime(2026, 12, 7, 8, 30, tzinfo=UTC),
}
WRONG: dict[str, Any] = {  # what the field's scalar or enum cannot serialize
    "s": object(),
    "i": "x",
    "f": "y",
    "b": [1],
    "id": 1.5,
    "c": "green",
    "when": "not a date",
}


# values a built-in scalar serializes as something else, or refuses although they have its
# Python type (the exact-type shortcut of subgraphs/common/plain.py must not take them)
class Text(str):
    """A str subclass."""


COERCED: dict[str, list[Any]] = {
    "s": [Text("sub"), 5, True, 2.5, ""],
    "i": [True, False, 2**31, -(2**31) - 1, 2**31 - 1, -(2**31), 4.0, "7"],
    "b": [1, 0, 2.0],
    "id": [7, Text("9"), 3.0, True],
}


class Later:
    """An awaitable that gives `value` or raises `error` (not a coroutine: one the answer
    never reaches, under a null parent, is no "never awaited" warning)."""

    def __init__(self, value: Any = None, error: Exception | None = None) -> None:
        self.value = value
        self.error = error

    def __await__(self) -> Generator[Any, None, Any]:
        yield from asyncio.sleep(0).__await__()
        if self.error is not None:
            raise self.error
        return self.value


class Values:
    """Values drawn from a seeded generator: the same tree each time it is made."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def odd(self, good: Any, wrong: Any) -> Any:
        """Mostly the good value; else one of the unusual ones."""
        r = self.rng.random()
        if r < 0.6:
            return good
        return self.rng.choice(
            [
                None,
                wrong,
                ValueError("a value that is an error"),
                Later(good),
                Later(None),
                Later(error=ValueError("failed later")),
                "__missing__",
            ]
        )

    def scalar(self, name: str) -> Any:
        base = name[1:] if name.startswith("n") and name[1:] in GOOD else name
        if base in COERCED and self.rng.random() < 0.2:
            return self.rng.choice(COERCED[base])
        return self.odd(GOOD[base], WRONG[base])

    def make(self, cls: type, **fields: Any) -> Any:
        obj = cls(**{k: (None if v == "__missing__" else v) for k, v in fields.items()})
        for k, v in fields.items():
            if isinstance(v, str) and v == "__missing__":
                delattr(obj, k)  # the attribute read raises AttributeError
        return obj

    def leaf(self) -> Any:
        return self.make(Leaf, **{name: self.scalar(name) for name in LEAF_FIELDS})

    def thing(self) -> Any:
        return self.odd(
            Thing(name=self.rng.choice(["a", "b"]), child=self.leaf()), Leaf(**_good_leaf())
        )

    def node(self, depth: int) -> Any:
        deeper = depth < 3
        return self.make(
            Node,
            leaf=self.odd(self.leaf(), "a string, not a Leaf"),
            nleaf=self.odd(self.leaf(), 12),
            node=self.odd(self.node(depth + 1), None) if deeper else None,
            nodes=[self.odd(self.node(depth + 1), None) for _ in range(2)] if deeper else None,
            thing=self.thing(),
            either=self.rng.choice([self.leaf(), self.thing(), None]),
            k=self.odd(2, "k"),
            leaves=self.items(self.leaf),
            eithers=self.items(
                lambda: self.rng.choice([self.leaf(), self.thing(), SubLeaf(**_good_leaf())])
            ),
            grid=self.items(lambda: self.items(self.leaf)),
            ints=self.items(lambda: self.odd(4, "four")),
            colors=self.items(lambda: self.odd(Color.RED, "green")),
        )

    def items(self, make: Any) -> Any:
        """A list (mostly) of made items, some unusual: None, an error, an awaitable, a
        stranger (an object of no Strawberry type); or no list, or a tuple."""
        r = self.rng.random()
        if r < 0.1:
            return self.rng.choice([None, "not a list", Later([make()]), (make(), make())])
        return [
            self.odd(make(), self.rng.choice([Stranger(), "text", 5]))
            for _ in range(self.rng.randint(0, 4))
        ]

    def root(self) -> Any:
        return Query(root=self.node(0), nroot=self.odd(self.node(0), None), label="root")


class SubLeaf(Leaf):
    """Not a Strawberry type of its own: Leaf's definition (a union member by it)."""


class Stranger:
    """Of no Strawberry type: no union member, no attributes of any field."""


def _good_leaf() -> dict[str, Any]:
    return {name: GOOD.get(name, GOOD.get(name[1:])) for name in LEAF_FIELDS}


class Document:
    """A random valid selection over the schema, with aliases, repeated fields,
    fragments, `__typename` and @skip/@include on variables."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0

    def alias(self, name: str) -> str:
        if self.rng.random() < 0.2:
            self.n += 1
            return f"a{self.n}: {name}"
        return name

    def directive(self) -> str:
        return self.rng.choice(["", "", "", " @skip(if: $yes)", " @include(if: $no)"])

    def pick(self, names: list[str], most: int) -> list[str]:
        chosen = self.rng.sample(names, self.rng.randint(1, min(most, len(names))))
        if self.rng.random() < 0.3:  # the same field again (merged by graphql-core)
            chosen.append(self.rng.choice(chosen))
        return chosen

    def leaf(self) -> str:
        parts = [self.alias(n) + self.directive() for n in self.pick(LEAF_FIELDS, 6)]
        if self.rng.random() < 0.4:
            parts.append("__typename")
        return "{ " + " ".join(parts) + " }"

    def thing(self) -> str:
        return "{ name __typename child " + self.leaf() + " }"

    def node(self, depth: int) -> str:
        names = ["leaf", "nleaf", "thing", "either", "k", "doubled", "times"]
        names += ["leaves", "eithers", "grid", "ints", "colors", "mustLeaves"]
        if depth < 3:
            names += ["node", "nodes", "listed"]
        parts = []
        for name in self.pick(names, 4):
            if name in ("leaf", "nleaf", "leaves", "grid", "mustLeaves"):
                parts.append(self.alias(name) + self.directive() + " " + self.leaf())
            elif name == "eithers":
                parts.append(
                    self.alias(name)
                    + " { __typename ... on Leaf "
                    + self.leaf()
                    + " ... on Thing { name } }"
                )
            elif name == "thing":
                parts.append(name + " " + self.thing())
            elif name == "either":
                parts.append(
                    "either { __typename ... on Leaf " + self.leaf() + " ... on Thing { name } }"
                )
            elif name in ("node", "nodes", "listed"):
                parts.append(self.alias(name) + " " + self.node(depth + 1))
            elif name == "times":
                parts.append("times(n: 3)")
            else:
                parts.append(self.alias(name) + self.directive())
        if self.rng.random() < 0.3:
            parts.append("... on Node { k __typename }")
        return "{ " + " ".join(parts) + " }"

    def operation(self) -> str:
        roots = [f"root {self.node(0)}", f"nroot {self.node(0)}", "label", "__typename"]
        chosen = self.rng.sample(roots, self.rng.randint(1, len(roots)))
        chosen.append("y: __typename @include(if: $yes) n: __typename @skip(if: $no)")
        return "query Q($yes: Boolean = true, $no: Boolean = false) { " + " ".join(chosen) + " }"


async def _run(context_class: type, document: Any, seed: int) -> Any:
    result: Any = execute(
        GRAPHQL,
        document,
        root_value=Values(seed).root(),
        execution_context_class=context_class,
        is_awaitable=optimized_is_awaitable,
    )
    if optimized_is_awaitable(result):
        result = await result
    errors = [(e.message, e.path, e.locations) for e in result.errors or ()]
    return result.data, errors


@pytest.mark.parametrize("seed", range(40))
async def test_plain_fields_answer_as_graphql_core_does(seed: int) -> None:
    rng = random.Random(seed)
    for run in range(10):
        text = Document(rng).operation()
        document = parse(text)
        assert not validate(GRAPHQL, document), text
        values = seed * 100 + run
        general = await _run(StrawberryGraphQLCoreExecutionContext, document, values)
        plain = await _run(PlainFieldsExecutionContext, document, values)
        assert plain == general, text


async def test_the_generated_cases_reach_every_outcome() -> None:
    """The comparison above is not vacuous: the generated answers have data and errors
    of every kind, and the plain path was taken for leaves, objects and __typename."""
    messages: set[str] = set()
    with_data = 0
    for seed in range(40):
        rng = random.Random(seed)
        for run in range(10):
            document = parse(Document(rng).operation())
            data, errors = await _run(PlainFieldsExecutionContext, document, seed * 100 + run)
            with_data += data is not None
            messages |= {m.split(" ")[0] for m, _, _ in errors}
    assert with_data > 100
    # null for a non-null field, scalar refusals, raised values, missing attributes
    assert {"Cannot", "String", "Int", "a", "failed", "'Leaf'"} <= messages, messages
    node: Any = GRAPHQL.type_map["Node"]
    leaf: Any = GRAPHQL.type_map["Leaf"]

    def selections(text: str) -> Any:
        return parse(text).definitions[0].selection_set.selections  # type: ignore[attr-defined]

    chosen = selections("{ leaf { s } k doubled __typename nodes { k } thing { name } ints }")
    kinds = [_plan(node, s) for s in chosen]
    assert [p.kind if p else None for p in kinds] == [
        OBJECT,
        LEAF,
        None,
        TYPENAME,
        LIST,
        None,
        LIST,
    ]
    plan = _plan(leaf, selections("{ s }")[0])
    assert plan is not None and plan.kind == LEAF


class Resolving(SchemaExtension):
    """An extension with a `resolve` hook: a graphql-core middleware."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        result = _next(root, info, *args, **kwargs)
        return result.upper() if isinstance(result, str) else result


async def test_a_middleware_sees_every_field() -> None:
    schema = build_schema(Query, types=[Thing], extensions=[Resolving])
    empty = dict.fromkeys(["nleaf", "node", "nodes", "thing", "either", "eithers", "grid"])
    leaf = Leaf(**_good_leaf())
    node = Node(leaf=leaf, k=1, leaves=[leaf], ints=None, colors=None, **empty)
    result = await schema.execute(
        "{ label root { leaf { s } leaves { s } } }",
        root_value=Query(root=node, nroot=None, label="root"),
    )
    assert result.data == {
        "label": "ROOT",
        "root": {"leaf": {"s": "TEXT"}, "leaves": [{"s": "TEXT"}]},
    }
