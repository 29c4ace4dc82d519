"""An operation's variables coerced without graphql-core's general walk, when they are simple.

graphql-core coerces every variable through `get_variable_values`: the variable's type from
its AST (`type_from_ast`, each request), a depth check over the value, then
`coerce_input_value` for each list item with its path, non-null and leaf dispatch. For
`_entities`' `representations: [_Any!]!` of a home feed page (20 representations), that is
~75 us of a ~700 us request in users.

`coerce_simple_variables` gives the same coerced values directly when every variable of the
operation is simple and given: a scalar (not an enum), or a list of a scalar, nullable or
not, whose value (a `list` for a list type) is null only where null is allowed and whose
every scalar's `parse_value` answers without raising and without `Undefined`. It says None
for anything else (a missing variable, a default, an enum, an input object, a nested list,
a value that is not a list, a null where it is not allowed, a scalar that refuses a value):
then graphql-core's own `get_variable_values` coerces, and reports the errors as before.
The result equals graphql-core's in every case it answers: such values are never nested
deeper than two levels (graphql-core's depth check passes), and graphql-core coerces them
with these same `parse_value` calls (tests/subgraphs/common/test_variables.py compares
both over generated variables and values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableDefinitionNode,
    type_from_ast,
)
from graphql.pyutils import Undefined

# A simple variable's shape: (non-null, is a list, items non-null, the scalar's parse_value)
Shape = tuple[bool, bool, bool, Callable[[Any], Any]]

# (id of the schema, id of the variable definition) -> (schema, node, shape or None); the
# schema and node are kept, so their ids are not reused while the entry is here
_shapes: dict[tuple[int, int], tuple[GraphQLSchema, VariableDefinitionNode, Shape | None]] = {}
SHAPE_CACHE_SIZE = 5_000


def _shape_of(schema: GraphQLSchema, node: VariableDefinitionNode) -> Shape | None:
    key = (id(schema), id(node))
    found = _shapes.get(key)
    if found is not None and found[0] is schema and found[1] is node:
        return found[2]
    shape = _shape(schema, node)
    if len(_shapes) >= SHAPE_CACHE_SIZE:
        _shapes.clear()
    _shapes[key] = (schema, node, shape)
    return shape


def _shape(schema: GraphQLSchema, node: VariableDefinitionNode) -> Shape | None:
    if node.default_value is not None:
        return None
    var_type: Any = type_from_ast(schema, node.type)
    non_null = isinstance(var_type, GraphQLNonNull)
    if non_null:
        var_type = var_type.of_type
    is_list = isinstance(var_type, GraphQLList)
    items_non_null = False
    if is_list:
        var_type = var_type.of_type
        items_non_null = isinstance(var_type, GraphQLNonNull)
        if items_non_null:
            var_type = var_type.of_type
    # exactly a scalar type: an enum (a subclass of neither) or an input object is general
    if type(var_type) is not GraphQLScalarType:
        return None
    return non_null, is_list, items_non_null, var_type.parse_value


def _parsed(parse_value: Callable[[Any], Any], value: Any) -> Any:
    """`parse_value(value)`, or Undefined when it raises (the general path reports it)."""
    try:
        return parse_value(value)
    except Exception:
        return Undefined


def coerce_simple_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, inputs: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The coerced variables, or None when graphql-core must coerce (module docstring)."""
    definitions = operation.variable_definitions
    if not definitions:
        return {}
    if inputs is None:
        return None
    coerced: dict[str, Any] = {}
    for node in definitions:
        shape = _shape_of(schema, node)
        if shape is None:
            return None
        name = node.variable.name.value
        if name not in inputs:
            return None
        value = inputs[name]
        if value is Undefined:
            return None
        non_null, is_list, items_non_null, parse_value = shape
        if value is None:
            if non_null:
                return None
            coerced[name] = None
            continue
        if not is_list:
            parsed = _parsed(parse_value, value)
            if parsed is Undefined:
                return None
            coerced[name] = parsed
            continue
        if type(value) is not list:
            return None
        items: list[Any] = []
        for item in value:
            if item is Undefined:
                return None
            if item is None:
                if items_non_null:
                    return None
                items.append(None)
                continue
            parsed = _parsed(parse_value, item)
            if parsed is Undefined:
                return None
            items.append(parsed)
        coerced[name] = items
    return coerced
