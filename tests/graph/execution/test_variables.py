"""The gateway's variable coercion (``Gateway._variables``): its shortcut (checks of the
values' types: built-in scalars, enums, custom scalars, lists, input objects) gives what
graphql-core's full coercion gives (the same errors, the same Boolean/Int defaults added),
for values of every kind, and for generated values of generated variable types."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    OperationDefinitionNode,
    Undefined,
    build_schema,
    parse,
    type_from_ast,
)
from graphql.execution.values import get_variable_values
from hypothesis import given as generated
from hypothesis import settings
from hypothesis import strategies as st

from graph.execution.gateway import Gateway

VALUES: list[Any] = [
    None,
    "x",
    "",
    0,
    1,
    -7,
    2_147_483_647,
    2_147_483_648,
    -2_147_483_649,
    1.0,
    1.5,
    math.inf,
    math.nan,
    True,
    False,
    [],
    ["a"],
    {},
    {"a": 1},
]
TYPES = ["String", "ID", "Int", "Float", "Boolean"]


def reference(gateway: Gateway, op: OperationDefinitionNode, given: dict[str, Any]) -> Any:
    """What Gateway._variables gave before its shortcut: the full coercion."""
    values = dict(given)
    coerced = get_variable_values(gateway.api_schema, op.variable_definitions, values)
    if isinstance(coerced, list):
        return values, sorted(e.message for e in coerced)
    for name, value in coerced.items():
        if isinstance(value, bool | int):
            values.setdefault(name, value)
    return values, []


@pytest.mark.parametrize("scalar", TYPES)
@pytest.mark.parametrize("wrapper", ["{}", "{}!", "{} = DEFAULT"])
def test_the_shortcut_agrees_with_graphql_core(gateway: Gateway, scalar: str, wrapper: str) -> None:
    default = {"String": '"d"', "ID": '"7"', "Int": "3", "Float": "2.5", "Boolean": "true"}
    declared = wrapper.format(scalar).replace("DEFAULT", default[scalar])
    # a second, plain variable so that the shortcut is taken whenever the first allows it
    op = parse(f"query($v: {declared}, $n: Int) {{ __typename }}").definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    prepared: Any = SimpleNamespace(operation=op, shape_cache={})
    cases: list[dict[str, Any]] = [{}, {"n": 1}]
    cases += [{"v": v, "n": 2} for v in VALUES]
    for given in cases:
        values, errors = gateway._variables(prepared, given)
        expected_values, expected_errors = reference(gateway, op, given)
        assert sorted(e["message"] for e in errors) == expected_errors, given
        assert repr(values) == repr(expected_values), given
    # the checks are kept with the operation, and the schema's scalars are graphql-core's
    # own, so the shortcut was there to take (this schema has no Float: not for that one)
    kept = next(iter(prepared.shape_cache.values()))
    assert len(kept) == (0 if gateway.api_schema.get_type(scalar) is None else 2)
    assert scalar == "Float" or gateway.api_schema.get_type(scalar) is not None


def test_lists_agree_with_graphql_core(gateway: Gateway) -> None:
    op = parse("query($v: [Int!], $n: Int) { __typename }").definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    prepared: Any = SimpleNamespace(operation=op, shape_cache={})
    for given in ({"v": [1, 2]}, {"v": ["x"]}, {"v": 1}, {"n": "x"}, {"v": [None]}):
        values, errors = gateway._variables(prepared, given)
        expected_values, expected_errors = reference(gateway, op, given)
        assert (values, sorted(e["message"] for e in errors)) == (
            expected_values,
            expected_errors,
        )
    assert len(next(iter(prepared.shape_cache.values()))) == 2  # a list has its check


SCHEMA = build_schema(
    """
    scalar DateTime
    enum Kind { POST_VIEW SHARE APP_OPEN }
    input Event {
      id: String!
      type: Kind!
      occurredAt: DateTime!
      postId: ID = null
      count: Int = 3
      weight: Float
      flags: [Boolean!]
      tags: [String]
      at: DateTime
    }
    input Filter { and: [Filter!], not: Filter, kind: Kind, ids: [ID!]! = [], text: String }
    input Wrapper { event: Event!, filters: [[Filter]], note: String! = "x", seen: Boolean! }
    input Choice @oneOf { a: Int, b: String }
    type Query { f(a: Int): Int }
    """
)
DECLARED = [
    "Int",
    "Int!",
    "Boolean = true",
    "Kind",
    "Kind!",
    "Kind = SHARE",
    "DateTime",
    "DateTime!",
    "[DateTime!]",
    "Event",
    "Event!",
    "[Event!]!",
    "[Event]",
    "Filter",
    "[Filter!]",
    "Wrapper!",
    "[[Int]]",
    "[ID!]!",
    "Choice",
    'Event = {id: "a", type: SHARE, occurredAt: 1}',
]
JUNK: list[Any] = [None, "x", "", 0, 1, 2_147_483_648, 1.5, True, [], ["a"], {}, {"z": 1}]


@st.composite
def value_of(draw: st.DrawFn, type_: Any, depth: int = 0) -> Any:
    """A value for `type_`: mostly one that fits, at every level sometimes one that does
    not (junk, a null, a single value for a list, a field left out or unknown)."""
    if draw(st.integers(0, 9)) == 0 or depth > 6:
        return draw(st.sampled_from(JUNK))
    if isinstance(type_, GraphQLNonNull):
        return draw(value_of(type_.of_type, depth))
    if isinstance(type_, GraphQLList):
        if draw(st.integers(0, 6)) == 0:
            return draw(value_of(type_.of_type, depth + 1))  # a single value
        return draw(st.lists(value_of(type_.of_type, depth + 1), max_size=3))
    if isinstance(type_, GraphQLInputObjectType):
        names = draw(st.sets(st.sampled_from(sorted(type_.fields))))
        if draw(st.integers(0, 2)) > 0:  # usually every required field
            names |= {
                n
                for n, f in type_.fields.items()
                if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
            }
        out = {n: draw(value_of(type_.fields[n].type, depth + 1)) for n in sorted(names)}
        if draw(st.integers(0, 9)) == 0:
            out["unknown"] = 1
        return out
    if isinstance(type_, GraphQLEnumType):
        return draw(st.sampled_from([*type_.values, "NOPE", 1]))
    if type_.name == "DateTime":
        return draw(st.sampled_from(["2026-12-07T11:00:00Z", 1, {"a": [1]}, [None], True]))
    return draw(st.sampled_from(VALUES))


@st.composite
def operations(draw: st.DrawFn) -> tuple[OperationDefinitionNode, dict[str, Any]]:
    declared = draw(st.lists(st.sampled_from(DECLARED), min_size=1, max_size=3))
    source = ", ".join(f"$v{i}: {d}" for i, d in enumerate(declared))
    op = parse(f"query({source}) {{ __typename }}").definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    given: dict[str, Any] = {}
    for i, definition in enumerate(op.variable_definitions):
        if draw(st.integers(0, 7)) > 0:  # sometimes left out
            given[f"v{i}"] = draw(value_of(type_from_ast(SCHEMA, definition.type)))
    return op, given


@settings(max_examples=1500, deadline=None)
@generated(case=operations())
def test_generated_variables_agree_with_graphql_core(
    case: tuple[OperationDefinitionNode, dict[str, Any]],
) -> None:
    op, given_values = case
    gateway: Any = SimpleNamespace(api_schema=SCHEMA)
    prepared: Any = SimpleNamespace(operation=op, shape_cache={})
    for _ in range(2):  # the checks compiled, then kept
        values, errors = Gateway._variables(gateway, prepared, given_values)
        expected_values, expected_errors = reference(gateway, op, given_values)
        assert sorted(e["message"] for e in errors) == expected_errors
        assert repr(values) == repr(expected_values)


def test_the_shortcut_is_taken_for_input_objects_and_lists() -> None:
    """What the generated comparison relies on: the checks exist (and say yes) for these."""
    from graph.execution.gateway import _scalar_checks, _value_check

    assert _value_check(SCHEMA.get_type("Choice")) is None  # @oneOf: coerce decides
    op = parse(
        "query($a: [Event!]!, $b: Wrapper!, $c: Filter, $d: Kind) { __typename }"
    ).definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    checks = _scalar_checks(SCHEMA, op.variable_definitions)
    event = {"id": "e", "type": "SHARE", "occurredAt": "2026-12-07T11:00:00Z"}
    nested: dict[str, Any] = {"kind": "SHARE"}
    for _ in range(10):
        nested = {"and": [nested], "not": nested}
    values = {
        "a": [event, {**event, "postId": "7", "flags": [True]}],
        "b": {"event": event, "seen": False, "filters": [[nested, None]]},
        "c": nested,
        "d": "APP_OPEN",
    }
    assert [check(values[name]) for name, check, _ in checks] == [True] * 4
    deep: dict[str, Any] = {"kind": "SHARE"}
    for _ in range(40):  # deeper than the checks go: the full coercion decides
        deep = {"not": deep}
    assert checks[2][1](deep) is False


def test_each_scalar_check_says_yes_only_to_what_coerces() -> None:
    from graphql import GraphQLError

    from graph.execution.gateway import _SCALAR_CHECKS

    assert {s.name for s in _SCALAR_CHECKS} == set(TYPES)
    for scalar, check in _SCALAR_CHECKS.items():
        for v in VALUES:
            if v is None or not check(v):
                continue
            try:
                scalar.parse_value(v)
            except GraphQLError as exc:  # pragma: no cover - the failure this looks for
                raise AssertionError(f"{scalar.name} check accepted {v!r}: {exc}") from None
