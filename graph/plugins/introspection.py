"""``supergraph.introspection: false`` turns away ``__schema`` and ``__type`` queries.

``__typename`` stays allowed: clients and the federation machinery rely on it.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
)

from graph.plugins.limits import select_operation
from graph.serving.stage import Check, Stage

_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


def uses_introspection(document: DocumentNode, operation_name: str | None) -> bool:
    """Does the operation that would run select ``__schema`` or ``__type`` anywhere?"""
    operation = select_operation(document, operation_name)
    if operation is None:
        return False
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> bool:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in _INTROSPECTION_ROOTS:
                    return True
                if selection.selection_set is not None and walk(selection.selection_set):
                    return True
            elif isinstance(selection, InlineFragmentNode):
                if walk(selection.selection_set):
                    return True
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    if walk(fragment.selection_set):
                        return True
        return False

    return walk(operation.selection_set)


def introspection_disabled_check(
    document: DocumentNode, operation_name: str | None
) -> list[GraphQLError]:
    """The check used when introspection is off."""
    if uses_introspection(document, operation_name):
        return [
            GraphQLError(
                "Introspection is disabled on this router; set supergraph.introspection: true "
                "in router.yaml to allow __schema and __type.",
                extensions={"code": "INTROSPECTION_DISABLED"},
            )
        ]
    return []


class IntrospectionStage(Stage):
    """``supergraph.introspection``: refuses ``__schema``/``__type`` when off."""

    name = "introspection"

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def checks(self) -> list[Check]:
        return [] if self.enabled else [introspection_disabled_check]
