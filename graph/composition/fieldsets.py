"""Field sets (`@key(fields:)`, `@requires(fields:)`, `@provides(fields:)`): parsing and
checking them against a subgraph's types."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from graphql import GraphQLError, parse
from graphql.language import (
    FieldNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from graph.composition.model import Kind, SubgraphSchema, base_type


class FieldSetError(Exception):
    """A field set does not parse or names something the type does not have."""


@lru_cache(maxsize=1024)
def parse_field_set(text: str) -> SelectionSetNode:
    try:
        doc = parse("{" + text + "}", no_location=True)
    except GraphQLError as exc:
        raise FieldSetError(f"invalid field set: {exc.message}") from exc
    operation = doc.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation.selection_set


def field_names(text: str) -> set[str]:
    """Top-level field names of a field set (empty when it does not parse)."""
    try:
        selection = parse_field_set(text)
    except FieldSetError:
        return set()
    return {s.name.value for s in selection.selections if isinstance(s, FieldNode)}


@dataclass(frozen=True)
class SelectedField:
    type_name: str
    field_name: str
    depth: int
    leaf: bool = True
    under_external: bool = False


def walk(
    schema: SubgraphSchema, type_name: str, text: str, *, allow_fragments: bool = True
) -> Iterator[SelectedField]:
    """Every field a field set selects, checked against `schema`; raises `FieldSetError`."""
    yield from _walk(schema, type_name, parse_field_set(text), 0, allow_fragments, False)


def _walk(
    schema: SubgraphSchema,
    type_name: str,
    selection_set: SelectionSetNode,
    depth: int,
    allow_fragments: bool,
    under_external: bool,
) -> Iterator[SelectedField]:
    parent = schema.types.get(type_name)
    if parent is None:
        raise FieldSetError(f'Unknown type "{type_name}"')
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            if not allow_fragments:
                raise FieldSetError("fragments are not allowed here")
            cond = selection.type_condition.name.value if selection.type_condition else type_name
            yield from _walk(
                schema, cond, selection.selection_set, depth, allow_fragments, under_external
            )
            continue
        if not isinstance(selection, FieldNode):
            raise FieldSetError("named fragment spreads are not allowed in a field set")
        name = selection.name.value
        if name == "__typename":
            continue
        if selection.alias is not None:
            raise FieldSetError(f'aliases are not allowed (on "{name}")')
        if selection.directives:
            raise FieldSetError(f'directives are not allowed (on "{name}")')
        fld = parent.fields.get(name)
        if fld is None or parent.kind in (Kind.INPUT, Kind.ENUM, Kind.SCALAR, Kind.UNION):
            raise FieldSetError(f'Cannot query field "{name}" on type "{type_name}"')
        yield SelectedField(type_name, name, depth, selection.selection_set is None, under_external)
        target = schema.types.get(base_type(fld.type))
        composite = target is not None and target.kind in (
            Kind.OBJECT,
            Kind.INTERFACE,
            Kind.UNION,
        )
        if selection.selection_set is not None:
            if not composite:
                raise FieldSetError(
                    f'Field "{type_name}.{name}" of type "{fld.type}" must not have a selection'
                )
            yield from _walk(
                schema,
                base_type(fld.type),
                selection.selection_set,
                depth + 1,
                allow_fragments,
                under_external or fld.external,
            )
        elif composite:
            raise FieldSetError(
                f'Field "{type_name}.{name}" of type "{fld.type}" must have a selection of '
                "subfields"
            )
