"""Smoke test: every root field of every supergraph in the repository (ours and the
composition cases), with all its leaf fields two levels deep, plans without an error and
every fetch it makes is valid GraphQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    parse,
)

from graph.planning import format_plan
from graph.supergraph import Supergraph, build_api_schema
from tests.graph.fixtures.subgraphs import SUPERGRAPH_TEMPLATE
from tests.graph.planning.test_plans import plan_for

ROOT = Path(__file__).resolve().parents[3]
SUPERGRAPHS = {
    "fixture": SUPERGRAPH_TEMPLATE,
    **{
        p.parent.name: p.read_text()
        for p in sorted((ROOT / "tests/graph/composition/cases").glob("*/supergraph.graphql"))
    },
}
if (ROOT / "supergraph.graphql").exists():
    SUPERGRAPHS["puppies"] = (ROOT / "supergraph.graphql").read_text()


def selection(schema: GraphQLSchema, t: GraphQLNamedType, depth: int, prefix: str = "") -> str:
    if is_abstract_type(t):
        parts = ["__typename"]
        for obj in schema.get_possible_types(t):  # type: ignore[arg-type]
            # Aliased per type: fields of one name may have other types on other members.
            inner = selection(schema, obj, depth, f"{prefix}{obj.name}_")
            parts.append(f"... on {obj.name} {{ {inner} }}")
        return " ".join(parts)
    assert isinstance(t, GraphQLObjectType) or hasattr(t, "fields")
    fields: list[str] = []
    for name, f in t.fields.items():
        args = _arguments(f)
        if args is None:
            continue
        named = get_named_type(f.type)
        alias = f"{prefix}{name}: " if prefix else ""
        if is_leaf_type(named):
            fields.append(f"{alias}{name}{args}")
        elif depth > 0:
            sub = selection(schema, named, depth - 1, prefix)
            fields.append(f"{alias}{name}{args} {{ {sub} }}")
    return " ".join(fields) or "__typename"


def operations(schema: GraphQLSchema) -> list[str]:
    out = []
    query = schema.query_type
    assert query is not None
    for name, f in query.fields.items():
        args = _arguments(f)
        if args is not None:
            out.append(_op(schema, name + args, f))
    return out


def _arguments(f: GraphQLField) -> str | None:
    """Values for the required arguments of a field, or None when we cannot invent them."""
    values = []
    for arg_name, arg in f.args.items():
        if not isinstance(arg.type, GraphQLNonNull):
            continue
        named = get_named_type(arg.type)
        if isinstance(named, GraphQLEnumType):
            value = next(iter(named.values))
        elif isinstance(named, GraphQLScalarType):
            value = {"Int": "1", "Float": "1.0", "Boolean": "true"}.get(named.name, '"1"')
        else:
            return None
        if isinstance(arg.type.of_type, GraphQLList):
            value = f"[{value}]"
        values.append(f"{arg_name}: {value}")
    return f"({', '.join(values)})" if values else ""


def _op(schema: GraphQLSchema, name: str, f: GraphQLField) -> str:
    named = get_named_type(f.type)
    if is_leaf_type(named):
        return f"{{ {name} }}"
    return f"{{ {name} {{ {selection(schema, named, 2)} }} }}"


@pytest.mark.parametrize("name", sorted(SUPERGRAPHS))
def test_every_root_field_plans(name: str) -> None:
    sg = Supergraph.from_sdl(SUPERGRAPHS[name])
    schema = build_api_schema(sg)
    ops = operations(schema)
    assert ops
    for op in ops:
        plan = plan_for(sg, op)
        assert format_plan(plan)
        for fetch in plan.fetches():
            parse(fetch.operation)  # every subgraph operation is well-formed GraphQL
