"""Validation rules for `@defer` and `@stream` (graphql-js 17's, which graphql-core 3.2 does not
have yet): run with the specified rules when the API schema has the directives.

- a label is a static string, unique among the operation's `@defer`s and `@stream`s;
- no `@defer` on the root type of a mutation or subscription, no `@stream` on a root field of
  one (their root fields must run and be delivered in order, as one event);
- no `@defer` / `@stream` in a subscription unless its `if:` can be false (events are
  delivered whole: the router then always treats it as off);
- `@stream` only on a list field, and one response key gets the same `@stream` everywhere.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    print_ast,
    specified_rules,
)


def _argument(node: DirectiveNode, name: str) -> ArgumentNode | None:
    return next((a for a in node.arguments or () if a.name.value == name), None)


def _can_be_false(node: DirectiveNode) -> bool:
    arg = _argument(node, "if")
    if arg is None:
        return False
    v = arg.value
    return isinstance(v, VariableNode) or (isinstance(v, BooleanValueNode) and not v.value)


class DeferStreamLabelRule(ValidationRule):
    """Labels are static strings, unique in the document."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.labels: dict[str, DirectiveNode] = {}

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if node.name.value not in ("defer", "stream"):
            return
        arg = _argument(node, "label")
        if arg is None:
            return
        if not isinstance(arg.value, StringValueNode):
            self.report_error(
                GraphQLError(
                    f'Directive "{node.name.value}"\'s label argument must be a static string.',
                    node,
                )
            )
            return
        label = arg.value.value
        seen = self.labels.get(label)
        if seen is not None:
            self.report_error(
                GraphQLError(
                    f'Defer/Stream directive label argument "{label}" must be unique: give '
                    "each @defer and @stream its own label.",
                    [seen, node],
                )
            )
        else:
            self.labels[label] = node


class DeferStreamOnRootFieldRule(ValidationRule):
    """Neither @defer on a mutation's or subscription's root type, nor @stream on their
    root fields."""

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        name = node.name.value
        if name not in ("defer", "stream"):
            return
        schema = self.context.schema
        # the type whose selection set holds the fragment (@defer) or the field (@stream)
        parent = self.context.get_parent_type()
        for kind, root in (
            ("mutation", schema.mutation_type),
            ("subscription", schema.subscription_type),
        ):
            if root is not None and parent is root:
                what = "Defer" if name == "defer" else "Stream"
                self.report_error(
                    GraphQLError(
                        f'{what} directive cannot be used on root {kind} type "{root.name}": '
                        f"its root fields are delivered in order, as one result.",
                        node,
                    )
                )


class DeferStreamInSubscriptionRule(ValidationRule):
    """In a subscription, @defer / @stream only where `if:` can turn them off."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.in_subscription: set[str] = set()
        for d in context.document.definitions:
            if isinstance(d, OperationDefinitionNode) and d.operation == OperationType.SUBSCRIPTION:
                for frag in context.get_recursively_referenced_fragments(d):
                    self.in_subscription.add(frag.name.value)
        self.current: bool = False

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        self.current = node.operation == OperationType.SUBSCRIPTION

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: Any) -> None:
        self.current = node.name.value in self.in_subscription

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if not self.current or node.name.value not in ("defer", "stream"):
            return
        if not _can_be_false(node):
            what = "Defer" if node.name.value == "defer" else "Stream"
            self.report_error(
                GraphQLError(
                    f"{what} directive not supported on subscription operations: a "
                    f"subscription's events are delivered whole. Remove @{node.name.value}, "
                    "or disable it by setting its `if` argument to `false`.",
                    node,
                )
            )


class StreamOnListFieldRule(ValidationRule):
    """@stream only on a list field; one response key, one @stream."""

    def enter_directive(
        self, node: DirectiveNode, _key: Any, _parent: Any, _path: Any, ancestors: Any
    ) -> None:
        if node.name.value != "stream":
            return
        field_def = self.context.get_field_def()
        owner = ancestors[-1] if ancestors else None
        if field_def is None or not isinstance(owner, FieldNode):
            return
        if not is_list_type(get_nullable_type(field_def.type)):  # type: ignore[arg-type]
            parent = self.context.get_parent_type()
            self.report_error(
                GraphQLError(
                    f'Stream directive cannot be used on non-list field "{owner.name.value}"'
                    f' on type "{get_named_type(parent).name if parent else "?"}".',
                    node,
                )
            )

    def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> None:
        fields: dict[str, list[FieldNode]] = {}
        self._collect(node, fields, set())
        for key, same in fields.items():
            streams = {_stream_text(f) for f in same}
            if len(streams) > 1:
                self.report_error(
                    GraphQLError(
                        f'Fields "{key}" conflict because they have differing stream '
                        "directives. Use different aliases on the fields to fetch both "
                        "if this was intentional.",
                        same,
                    )
                )

    def _collect(
        self, node: SelectionSetNode, out: dict[str, list[FieldNode]], seen: set[str]
    ) -> None:
        for s in node.selections:
            if isinstance(s, FieldNode):
                out.setdefault(s.alias.value if s.alias else s.name.value, []).append(s)
            elif isinstance(s, InlineFragmentNode):
                self._collect(s.selection_set, out, seen)
            elif isinstance(s, FragmentSpreadNode) and s.name.value not in seen:
                seen.add(s.name.value)
                frag = self.context.get_fragment(s.name.value)
                if frag is not None:
                    self._collect(frag.selection_set, out, seen)


def _stream_text(f: FieldNode) -> str:
    d = next((d for d in f.directives or () if d.name.value == "stream"), None)
    return "" if d is None else print_ast(d)


INCREMENTAL_RULES = (
    DeferStreamLabelRule,
    DeferStreamOnRootFieldRule,
    DeferStreamInSubscriptionRule,
    StreamOnListFieldRule,
)
RULES_WITH_INCREMENTAL = (*specified_rules, *INCREMENTAL_RULES)
