"""Request limits: body size, parser tokens, and operation shape (depth, height, aliases,
root fields).

The operation limits are measured on the graphql-core AST of the operation that will run,
with fragments expanded, the way Apollo Router measures them:

- depth: the deepest nesting of fields (``{ a { b } }`` has depth 2);
- height: the number of distinct fields, counted once per (parent type, field name), so an
  aliased repeat of a field does not add to it;
- aliases: every aliased field, counted each time it is used;
- root fields: every field selected on the root type, counted each time it is used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)
from pydantic import Field

from graph.plugins.base import StrictModel
from graph.plugins.directives import directive_checks
from graph.serving.stage import Check, Stage

logger = logging.getLogger("graph.limits")


class LimitsConfig(StrictModel):
    """``limits``: what a request may weigh before the router works on it."""

    http_max_request_bytes: int = Field(default=2_000_000, gt=0)
    parser_max_tokens: int = Field(default=15_000, gt=0)
    max_depth: int | None = Field(default=None, gt=0)
    max_height: int | None = Field(default=None, gt=0)
    max_aliases: int | None = Field(default=None, ge=0)
    max_root_fields: int | None = Field(default=None, gt=0)
    max_directives: int | None = Field(default=50, gt=0)
    warn_only: bool = False


@dataclass
class OperationShape:
    """What the operation limits measure for one operation."""

    depth: int = 0
    height: int = 0
    aliases: int = 0
    root_fields: int = 0
    _seen: set[tuple[str, str]] = field(default_factory=set, repr=False)


def select_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation that would run: the named one, or the only one."""
    found: OperationDefinitionNode | None = None
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is None:
            if found is not None:
                return None
            found = definition
        elif definition.name is not None and definition.name.value == operation_name:
            return definition
    return found


def _root_type(
    schema: GraphQLSchema | None, operation: OperationDefinitionNode
) -> GraphQLObjectType | None:
    if schema is None:
        return None
    if operation.operation is OperationType.QUERY:
        return schema.query_type
    if operation.operation is OperationType.MUTATION:
        return schema.mutation_type
    return schema.subscription_type


def measure(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    schema: GraphQLSchema | None = None,
) -> OperationShape:
    """Measure one operation of ``document`` with its fragments expanded."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    shape = OperationShape()
    root = _root_type(schema, operation)
    root_name = root.name if root is not None else operation.operation.value

    def visit(
        selection_set: SelectionSetNode,
        parent: GraphQLObjectType | GraphQLInterfaceType | None,
        parent_name: str,
        depth: int,
        at_root: bool,
        active: frozenset[str],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if at_root:
                    shape.root_fields += 1
                if selection.alias is not None:
                    shape.aliases += 1
                key = (parent_name, name)
                if key not in shape._seen:
                    shape._seen.add(key)
                    shape.height += 1
                if depth > shape.depth:
                    shape.depth = depth
                if selection.selection_set is not None:
                    child: GraphQLObjectType | GraphQLInterfaceType | None = None
                    child_name = f"{parent_name}.{name}"
                    if parent is not None:
                        definition = parent.fields.get(name)
                        if definition is not None:
                            named = get_named_type(definition.type)
                            child_name = named.name
                            if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                                child = named
                    visit(selection.selection_set, child, child_name, depth + 1, False, active)
            elif isinstance(selection, InlineFragmentNode):
                sub_parent, sub_name = parent, parent_name
                if selection.type_condition is not None:
                    sub_parent, sub_name = _typed(schema, selection.type_condition.name.value)
                visit(selection.selection_set, sub_parent, sub_name, depth, at_root, active)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in active:
                    continue  # unknown or cyclic: validation reports those
                sub_parent, sub_name = _typed(schema, fragment.type_condition.name.value)
                visit(
                    fragment.selection_set,
                    sub_parent,
                    sub_name,
                    depth,
                    at_root,
                    active | {name},
                )

    visit(operation.selection_set, root, root_name, 1, True, frozenset())
    return shape


def _typed(
    schema: GraphQLSchema | None, type_name: str
) -> tuple[GraphQLObjectType | GraphQLInterfaceType | None, str]:
    if schema is None:
        return None, type_name
    named = schema.type_map.get(type_name)
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        return named, type_name
    return None, type_name


class OperationLimits:
    """Checks an operation's shape against ``limits.max_*``."""

    def __init__(self, config: LimitsConfig, schema: GraphQLSchema | None = None) -> None:
        self.config = config
        self.schema = schema

    @property
    def enabled(self) -> bool:
        c = self.config
        return any(
            v is not None for v in (c.max_depth, c.max_height, c.max_aliases, c.max_root_fields)
        )

    def check(self, document: DocumentNode, operation_name: str | None) -> list[GraphQLError]:
        """Errors for every limit the selected operation exceeds (none when within limits)."""
        if not self.enabled:
            return []
        operation = select_operation(document, operation_name)
        if operation is None:
            return []  # validation / operation selection reports it
        shape = measure(document, operation, self.schema)
        c = self.config
        errors: list[GraphQLError] = []
        for limit, value, what, code in (
            (c.max_depth, shape.depth, "depth", "MAX_DEPTH_LIMIT"),
            (c.max_height, shape.height, "height", "MAX_HEIGHT_LIMIT"),
            (c.max_aliases, shape.aliases, "aliases", "MAX_ALIASES_LIMIT"),
            (c.max_root_fields, shape.root_fields, "root fields", "MAX_ROOT_FIELDS_LIMIT"),
        ):
            if limit is not None and value > limit:
                errors.append(
                    GraphQLError(
                        f"Maximum {what} limit exceeded in this operation: it has {value}, "
                        f"the router allows {limit}.",
                        extensions={"code": code, "limit": limit, "measured": value},
                    )
                )
        if errors and c.warn_only:
            for error in errors:
                logger.warning("limits.warn_only: %s", error.message)
            return []
        return errors


class LimitsStage(Stage):
    """``limits``: the request size (enforced by the transports while reading), the parser's
    token limit (enforced by the parser) and the operation's shape (a document check)."""

    name = "limits"

    def __init__(self, config: LimitsConfig, schema: GraphQLSchema | None) -> None:
        self.max_body = config.http_max_request_bytes
        self.max_tokens = config.parser_max_tokens
        self.operation_limits = OperationLimits(config, schema)
        self.directives = directive_checks(schema, config.max_directives)

    def checks(self) -> list[Check]:
        # directives first: an unknown one is answered once, before anything is measured
        shape = [self.operation_limits.check] if self.operation_limits.enabled else []
        return [*self.directives, *shape]
