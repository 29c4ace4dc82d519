"""Static cost of an operation, and the actual cost of its response, as Apollo Router's demand
control computes them (the IBM GraphQL cost specification, with `@cost` and `@listSize`).

Estimated cost, per field: `count * (weight + cost of its selections) + arguments + @requires`:

- weight: the field's `@cost(weight:)`, else the `@cost` of the type it returns, else 1 for an
  object, interface or union and 0 for a scalar or enum;
- count: 1, or for a list the size named by its parent's `@listSize(sizedFields:)`, else the
  largest slicing argument given (or its default) or `@listSize(assumedSize:)`, else the
  configured `list_size`;
- arguments: an input object costs its `@cost` (1 without) plus its fields, a list its
  `@cost` (0 without) plus its items, any other value its `@cost` (0 without); variables are
  read from the request;
- `@requires`: a field that needs other fields from its subgraph adds what those cost.

A mutation adds 10. Fields skipped with a literal `@skip(if: true)` / `@include(if: false)`
cost nothing. The actual cost walks the response instead: each object returned costs its
weight (1), each value its `@cost`, so lists count what really came back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    is_list_type,
    is_non_null_type,
    parse,
)

from graph.supergraph.features import ListSize, SpecDirectives
from graph.supergraph.model import Supergraph

MUTATION_COST = 10.0


class CostError(Exception):
    """The operation cannot be costed (`COST_QUERY_PARSE_FAILURE`), e.g. a field whose
    `@listSize` requires exactly one slicing argument got none or two."""


@dataclass(frozen=True)
class _Sizing:
    """A list field's `@listSize`, resolved against the request."""

    expected: int | None
    sized_fields: frozenset[str]

    def size_of(self, field_name: str) -> int | None:
        return self.expected if field_name in self.sized_fields else None


class CostCalculator:
    """Scores operations against one API schema and the supergraph's cost directives."""

    def __init__(
        self, schema: GraphQLSchema, spec: SpecDirectives, supergraph: Supergraph | None = None
    ) -> None:
        self.schema = schema
        self.spec = spec
        self._requires: dict[tuple[str, str], SelectionSetNode | None] = {}
        self.supergraph = supergraph

    # -- estimate -------------------------------------------------------------------------
    def estimate(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
        list_size: int,
    ) -> float:
        run = _Estimate(self, _fragments(document), variables or {}, list_size)
        kind = operation.operation.value
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            raise CostError(f"the schema has no {kind} type")
        cost = MUTATION_COST if kind == "mutation" else 0.0
        return cost + run.selection_set(operation.selection_set, root.name, None)

    def requires_of(self, parent: str, field_name: str) -> SelectionSetNode | None:
        """The `@requires` selection of a field (from its first `@join__field`, as Apollo
        Router reads it), parsed once."""
        key = (parent, field_name)
        if key not in self._requires:
            text = None
            if self.supergraph is not None:
                t = self.supergraph.types.get(parent)
                f = t.fields.get(field_name) if t is not None else None
                if f is not None and f.joins:
                    text = f.joins[0].requires
            if text:
                op = parse("{" + text + "}", no_location=True).definitions[0]
                assert isinstance(op, OperationDefinitionNode)
                self._requires[key] = op.selection_set
            else:
                self._requires[key] = None
        return self._requires[key]

    def weight(self, parent: str, field_name: str, returns: str) -> float | None:
        """`@cost` of a field, else of the type it returns; None when neither has one."""
        w = self.spec.field_costs.get((parent, field_name))
        return w if w is not None else self.spec.type_costs.get(returns)

    def field_def(self, parent: str, name: str) -> Any:
        t = self.schema.get_type(parent)
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            return t.fields.get(name)
        return None

    # -- arguments ------------------------------------------------------------------------
    def argument_cost(
        self, value: ValueNode, type_: Any, weight: float | None, variables: Mapping[str, Any]
    ) -> float:
        named = get_named_type(type_)
        if isinstance(value, VariableNode):
            return self.variable_cost(variables.get(value.name.value), type_, weight)
        if isinstance(value, NullValueNode):
            return 0.0
        if isinstance(value, ObjectValueNode) and isinstance(named, GraphQLInputObjectType):
            cost = 1.0 if weight is None else weight
            for f in value.fields:
                fdef = named.fields.get(f.name.value)
                if fdef is None:
                    raise CostError(f'input field "{f.name.value}" is not in {named.name}')
                cost += self.argument_cost(
                    f.value,
                    fdef.type,
                    self._input_weight(named.name, f.name.value, fdef.type),
                    variables,
                )
            return cost
        if isinstance(value, ListValueNode):
            cost = 0.0 if weight is None else weight
            return cost + sum(self.argument_cost(v, type_, weight, variables) for v in value.values)
        return 0.0 if weight is None else weight

    def variable_cost(self, value: Any, type_: Any, weight: float | None) -> float:
        named = get_named_type(type_)
        if value is None:
            return 0.0
        if isinstance(value, dict) and isinstance(named, GraphQLInputObjectType):
            cost = 1.0 if weight is None else weight
            for name, v in value.items():
                fdef = named.fields.get(name)
                if fdef is None:
                    continue  # bad variables are refused at execution (BAD_USER_INPUT)
                cost += self.variable_cost(
                    v, fdef.type, self._input_weight(named.name, name, fdef.type)
                )
            return cost
        if isinstance(value, list):
            cost = 0.0 if weight is None else weight
            return cost + sum(self.variable_cost(v, type_, weight) for v in value)
        return 0.0 if weight is None else weight

    def _input_weight(self, owner: str, name: str, type_: Any) -> float | None:
        w = self.spec.input_costs.get((owner, name, ""))
        return w if w is not None else self.spec.type_costs.get(get_named_type(type_).name)

    def arguments_cost(
        self, parent: str, node: FieldNode, fdef: Any, variables: Mapping[str, Any]
    ) -> float:
        cost = 0.0
        for arg in node.arguments or ():
            adef = fdef.args.get(arg.name.value)
            if adef is None:
                raise CostError(f'argument "{arg.name.value}" of {parent}.{node.name.value}')
            weight = self.spec.input_costs.get((parent, node.name.value, arg.name.value))
            if weight is None:
                weight = self.spec.type_costs.get(get_named_type(adef.type).name)
            cost += self.argument_cost(arg.value, adef.type, weight, variables)
        return cost

    # -- actual ---------------------------------------------------------------------------
    def actual(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        data: Mapping[str, Any] | None,
        variables: Mapping[str, Any] | None,
    ) -> float:
        """The cost of what a response returned (0 for no data)."""
        if not data:
            return 0.0
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0.0
        run = _Actual(self, _fragments(document), variables or {})
        return run.object(operation.selection_set, root.name, data)


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _is_list(t: Any) -> bool:
    return bool(is_list_type(t.of_type if is_non_null_type(t) else t))


def _composite(t: Any) -> bool:
    return isinstance(
        get_named_type(t), GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType
    )


def _skipped(node: FieldNode) -> bool:
    """Skipped by a literal condition (variables are not resolved, as in Apollo Router)."""
    for d in node.directives or ():
        for arg in d.arguments or ():
            if arg.name.value == "if" and isinstance(arg.value, BooleanValueNode):
                if d.name.value == "skip" and arg.value.value:
                    return True
                if d.name.value == "include" and not arg.value.value:
                    return True
    return False


class _Estimate:
    def __init__(
        self,
        calc: CostCalculator,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        list_size: int,
    ) -> None:
        self.calc = calc
        self.fragments = fragments
        self.variables = variables
        self.list_size = list_size

    def selection_set(
        self, sel: SelectionSetNode | None, parent: str, sizing: _Sizing | None
    ) -> float:
        if sel is None:
            return 0.0
        cost = 0.0
        for s in sel.selections:
            if isinstance(s, FieldNode):
                upstream = sizing.size_of(s.name.value) if sizing is not None else None
                cost += self.field(s, parent, upstream)
            elif isinstance(s, InlineFragmentNode):
                cond = s.type_condition.name.value if s.type_condition else parent
                cost += self.selection_set(s.selection_set, cond, sizing)
            elif isinstance(s, FragmentSpreadNode):
                frag = self.fragments.get(s.name.value)
                if frag is None:
                    raise CostError(f'fragment "{s.name.value}" is not defined')
                cost += self.selection_set(
                    frag.selection_set, frag.type_condition.name.value, sizing
                )
        return cost

    def field(self, node: FieldNode, parent: str, upstream: int | None) -> float:
        name = node.name.value
        if name.startswith("__") or _skipped(node):
            return 0.0
        fdef = self.calc.field_def(parent, name)
        if fdef is None:
            raise CostError(f'field "{parent}.{name}" is not in the schema')
        returns = get_named_type(fdef.type).name
        directive = self.calc.spec.list_sizes.get((parent, name))
        sizing = self._sizing(directive, node, fdef) if directive is not None else None
        if not _is_list(fdef.type):
            count = 1
        elif upstream is not None:
            count = upstream
        elif sizing is not None and sizing.expected is not None:
            count = sizing.expected
        else:
            count = self.list_size
        weight = self.calc.weight(parent, name, returns)
        type_cost = weight if weight is not None else (1.0 if _composite(fdef.type) else 0.0)
        type_cost += self.selection_set(node.selection_set, returns, sizing)
        arguments = self.calc.arguments_cost(parent, node, fdef, self.variables)
        requires = self.calc.requires_of(parent, name)
        required = self.selection_set(requires, parent, sizing) if requires is not None else 0.0
        return count * type_cost + arguments + required

    def _sizing(self, directive: ListSize, node: FieldNode, fdef: Any) -> _Sizing:
        values: dict[str, int] = {}
        if directive.slicing_arguments:
            for name in directive.slicing_arguments:
                adef = fdef.args.get(name)
                default = getattr(adef, "default_value", None) if adef is not None else None
                if isinstance(default, int) and not isinstance(default, bool):
                    values[name] = default
            for arg in node.arguments or ():
                if arg.name.value not in directive.slicing_arguments:
                    continue
                v: Any = None
                if isinstance(arg.value, IntValueNode):
                    v = int(arg.value.value)
                elif isinstance(arg.value, VariableNode):
                    v = self.variables.get(arg.value.name.value)
                if isinstance(v, int) and not isinstance(v, bool):
                    values[arg.name.value] = v
            if directive.require_one_slicing_argument and len(values) != 1:
                raise CostError(
                    f'"{node.name.value}" needs exactly one slicing argument '
                    f"({', '.join(directive.slicing_arguments)}), but found {len(values)}"
                )
        expected = max(values.values()) if values else directive.assumed_size
        return _Sizing(expected, frozenset(directive.sized_fields))


_Collected = dict[str, tuple[FieldNode, str, list[SelectionSetNode]]]


class _Actual:
    def __init__(
        self,
        calc: CostCalculator,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.calc = calc
        self.fragments = fragments
        self.variables = variables

    def collect(
        self,
        sel: SelectionSetNode,
        parent: str,
        typename: Any,
        out: dict[str, tuple[FieldNode, str, list[SelectionSetNode]]],
    ) -> None:
        for s in sel.selections:
            if isinstance(s, FieldNode):
                key = s.alias.value if s.alias else s.name.value
                if key in out:
                    if s.selection_set is not None:
                        out[key][2].append(s.selection_set)
                else:
                    out[key] = (s, parent, [s.selection_set] if s.selection_set else [])
                continue
            if isinstance(s, InlineFragmentNode):
                cond = s.type_condition.name.value if s.type_condition else parent
                inner = s.selection_set
            elif isinstance(s, FragmentSpreadNode):
                frag = self.fragments.get(s.name.value)
                if frag is None:
                    continue
                cond, inner = frag.type_condition.name.value, frag.selection_set
            else:
                continue
            if isinstance(typename, str) and not self._applies(cond, typename):
                continue
            self.collect(inner, cond if typename is None else typename, typename, out)

    def _applies(self, condition: str, typename: str) -> bool:
        if condition == typename:
            return True
        cond_t = self.calc.schema.get_type(condition)
        obj_t = self.calc.schema.get_type(typename)
        return (
            isinstance(cond_t, GraphQLInterfaceType | GraphQLUnionType)
            and isinstance(obj_t, GraphQLObjectType)
            and self.calc.schema.is_sub_type(cond_t, obj_t)
        )

    def object(self, sel: SelectionSetNode, parent: str, value: Mapping[str, Any]) -> float:
        typename = value.get("__typename")
        if isinstance(typename, str) and self.calc.schema.get_type(typename) is not None:
            parent = typename
        fields: _Collected = {}
        self.collect(sel, parent, typename if isinstance(typename, str) else None, fields)
        cost = 0.0
        for key, (node, owner, subs) in fields.items():
            if key not in value or node.name.value.startswith("__"):
                continue
            fdef = self.calc.field_def(owner, node.name.value)
            if fdef is None:
                continue
            returns = get_named_type(fdef.type).name
            weight = self.calc.weight(owner, node.name.value, returns)
            merged = SelectionSetNode(selections=tuple(x for sub in subs for x in sub.selections))
            cost += self.value(value[key], merged, returns, weight)
            try:
                cost += self.calc.arguments_cost(owner, node, fdef, self.variables)
            except CostError:
                pass
        return cost

    def value(self, v: Any, sel: SelectionSetNode, returns: str, weight: float | None) -> float:
        if isinstance(v, list):
            return sum(self.value(x, sel, returns, weight) for x in v)
        if isinstance(v, dict):
            cost = 1.0 if weight is None else weight
            return cost + self.object(sel, returns, v)
        return 0.0 if weight is None else weight
