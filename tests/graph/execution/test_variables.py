"""The gateway's variable coercion (``Gateway._variables``): its shortcut for operations whose
variables are all built-in scalars gives what graphql-core's full coercion gives (the same
errors, the same Boolean/Int defaults added), for values of every kind."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse
from graphql.execution.values import get_variable_values

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


def test_other_variable_types_take_the_full_coercion(gateway: Gateway) -> None:
    op = parse("query($v: [Int!], $n: Int) { __typename }").definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    prepared: Any = SimpleNamespace(operation=op, shape_cache={})
    for given in ({"v": [1, 2]}, {"v": ["x"]}, {"v": 1}, {"n": "x"}):
        values, errors = gateway._variables(prepared, given)
        expected_values, expected_errors = reference(gateway, op, given)
        assert (values, sorted(e["message"] for e in errors)) == (
            expected_values,
            expected_errors,
        )
    assert next(iter(prepared.shape_cache.values())) == ()  # no shortcut for a list


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
