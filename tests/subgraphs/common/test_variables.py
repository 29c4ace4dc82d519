"""Variables coerced by `coerce_simple_variables` (subgraphs/common/variables.py, taken by
`PlainFieldsExecutionContext.build`) equal graphql-core's own coercion: generated variable
definitions (scalars, a federation-like `_Any`, a scalar that refuses some values, an enum,
an input object, lists and non-null of them, defaults) and generated values (good ones,
nulls, wrong types, missing, lists of mixed items, a single value for a list), built both
ways; the coerced values, or the errors (messages and locations), compared."""

from __future__ import annotations

import random
from typing import Any

import pytest
from graphql import build_schema, parse
from graphql.execution import ExecutionContext

from subgraphs.common.plain import PlainFieldsExecutionContext
from subgraphs.common.variables import coerce_simple_variables

SCHEMA = build_schema(
    """
    scalar _Any
    scalar Picky
    enum Color { RED BLUE }
    input Pair { a: String! b: Int }
    type Query { f(x: String): String }
    """
)
SCHEMA.type_map["_Any"].parse_value = lambda value: value  # type: ignore[attr-defined]


def _picky(value: Any) -> Any:
    if value == "refused":
        raise ValueError("picky refuses it")
    if value == "undefined":
        from graphql.pyutils import Undefined

        return Undefined
    return value


SCHEMA.type_map["Picky"].parse_value = _picky  # type: ignore[attr-defined]

NAMED = ["ID", "Int", "String", "Float", "Boolean", "_Any", "Picky", "Color", "Pair"]
VALUES: list[Any] = [
    "7",
    7,
    1.5,
    True,
    None,
    "refused",
    "undefined",
    "RED",
    {"__typename": "User", "id": "3"},
    {"a": "x", "b": 2},
    [1, 2],
    2**40,
]
GOOD: dict[str, Any] = {
    "ID": "7",
    "Int": 7,
    "String": "text",
    "Float": 1.5,
    "Boolean": True,
    "_Any": {"__typename": "User", "id": "3"},
    "Picky": "fine",
    "Color": "RED",
    "Pair": {"a": "x"},
}


def _type(rng: random.Random) -> str:
    text = rng.choice(NAMED)
    if rng.random() < 0.5:
        text += "!"
    if rng.random() < 0.6:
        text = f"[{text}]"
        if rng.random() < 0.2:
            text = f"[{text}]"
        if rng.random() < 0.5:
            text += "!"
    return text


def _value(rng: random.Random, type_text: str) -> Any:
    if type_text.startswith("[") and rng.random() < 0.8:
        inner = type_text.rstrip("!")[1:-1]
        return [_value(rng, inner) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.75:  # mostly a good value
        return GOOD[type_text.strip("[]!")]
    return rng.choice(VALUES)


def _case(rng: random.Random) -> tuple[str, dict[str, Any]]:
    definitions = []
    inputs: dict[str, Any] = {}
    for i in range(rng.randint(1, 3)):
        type_text = _type(rng)
        default = ""
        if rng.random() < 0.1 and type_text.rstrip("!") == "Int":
            default = " = 3"
        definitions.append(f"$v{i}: {type_text}{default}")
        if rng.random() < 0.9:
            inputs[f"v{i}"] = _value(rng, type_text)
    return f"query Q({', '.join(definitions)}) {{ f }}", inputs


def _built(cls: Any, document: Any, inputs: dict[str, Any]) -> Any:
    built = cls.build(SCHEMA, document, raw_variable_values=inputs)
    if isinstance(built, list):
        return "errors", [(e.message, e.locations) for e in built]
    return "values", built.variable_values


@pytest.mark.parametrize("seed", range(20))
def test_simple_variables_are_coerced_as_graphql_core_does(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        text, inputs = _case(rng)
        document = parse(text)
        general = _built(ExecutionContext, document, inputs)
        simple = _built(PlainFieldsExecutionContext, document, inputs)
        assert simple == general, (text, inputs)


def test_the_generated_cases_take_both_ways() -> None:
    """Not vacuous: the simple way answers many cases, graphql-core errs in many."""
    taken = refused = errors = 0
    for seed in range(20):
        rng = random.Random(seed)
        for _ in range(100):
            text, inputs = _case(rng)
            document = parse(text)
            operation: Any = document.definitions[0]
            simple = coerce_simple_variables(SCHEMA, operation, inputs)
            taken += simple is not None
            refused += simple is None
            errors += _built(ExecutionContext, document, inputs)[0] == "errors"
    assert taken > 250 and refused > 300 and errors > 200, (taken, refused, errors)
