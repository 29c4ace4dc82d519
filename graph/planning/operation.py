"""A normalised operation: named fragment spreads inlined, only what the router needs kept.

The planner and the response shaper both walk this tree instead of the graphql-core AST.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    parse,
    print_ast,
)

# A condition is ("skip" | "include", bool or variable name).
Condition = tuple[str, "bool | str"]


@dataclass(eq=False, slots=True)
class OpField:
    response_key: str
    name: str
    args_text: str = ""
    directives_text: str = ""
    conditions: tuple[Condition, ...] = ()
    selections: tuple[OpSelection, ...] | None = None
    variables: frozenset[str] = frozenset()
    internal: bool = False  # added by the planner (a key or @requires field), not asked for
    # Removed by authorization: never planned; the shaper answers null for it (with GraphQL's
    # null propagation) and adds no error of its own (authorization reported it).
    denied: bool = False

    @property
    def is_typename(self) -> bool:
        return self.name == "__typename"


@dataclass(eq=False, slots=True)
class OpFragment:
    type_condition: str | None
    selections: tuple[OpSelection, ...]
    directives_text: str = ""
    conditions: tuple[Condition, ...] = ()
    variables: frozenset[str] = frozenset()


OpSelection = OpField | OpFragment


DEFAULT_INTERNAL_PREFIX = "_fed_"


@dataclass(slots=True)
class NormalizedOperation:
    kind: str  # query | mutation | subscription
    name: str | None
    selections: tuple[OpSelection, ...]
    variable_definitions: dict[str, str] = field(default_factory=dict)  # name -> "$x: T = d"
    # The response keys of fields the planner adds (keys, @requires) start with this prefix,
    # which no response key of the operation starts with: a client alias never collides.
    internal_prefix: str = DEFAULT_INTERNAL_PREFIX


def _collect_vars(value: ValueNode, out: set[str]) -> None:
    if isinstance(value, VariableNode):
        out.add(value.name.value)
    elif isinstance(value, ListValueNode):
        for v in value.values:
            _collect_vars(v, out)
    elif isinstance(value, ObjectValueNode):
        for f in value.fields:
            _collect_vars(f.value, out)


def args_text(arguments: tuple[ArgumentNode, ...] | list[ArgumentNode] | None) -> str:
    if not arguments:
        return ""
    return "(" + ", ".join(f"{a.name.value}: {print_ast(a.value)}" for a in arguments) + ")"


_ALWAYS_SKIPPED = "skipped"


def _conditions(
    directives: tuple[DirectiveNode, ...] | list[DirectiveNode] | None, vars_out: set[str]
) -> tuple[str, tuple[Condition, ...]] | str:
    """The `@skip`/`@include` of a selection as (text to forward, conditions); literal
    conditions are decided here: a literal that always passes is dropped, one that never
    passes gives `_ALWAYS_SKIPPED` (the selection is left out of the operation)."""
    if not directives:
        return "", ()
    texts = []
    conds: list[Condition] = []
    for d in directives:
        name = d.name.value
        if name not in ("skip", "include"):
            continue
        for a in d.arguments or ():
            if a.name.value != "if":
                continue
            v = a.value
            if isinstance(v, VariableNode):
                conds.append((name, v.name.value))
                vars_out.add(v.name.value)
                texts.append(f"@{name}(if: {print_ast(v)})")
            elif bool(getattr(v, "value", False)) == (name == "skip"):
                return _ALWAYS_SKIPPED
    return (" " + " ".join(texts)) if texts else "", tuple(conds)


def normalize_selection_set(
    sel_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    _seen: frozenset[str] = frozenset(),
) -> tuple[OpSelection, ...]:
    if sel_set is None:
        return ()
    out: list[OpSelection] = []
    for s in sel_set.selections:
        if isinstance(s, FieldNode):
            vs: set[str] = set()
            for a in s.arguments or ():
                _collect_vars(a.value, vs)
            decided = _conditions(s.directives, vs)
            if isinstance(decided, str):
                continue
            dtext, conds = decided
            sub = (
                normalize_selection_set(s.selection_set, fragments, _seen)
                if s.selection_set is not None
                else None
            )
            out.append(
                OpField(
                    response_key=s.alias.value if s.alias else s.name.value,
                    name=s.name.value,
                    args_text=args_text(s.arguments),
                    directives_text=dtext,
                    conditions=conds,
                    selections=sub,
                    variables=frozenset(vs),
                )
            )
        elif isinstance(s, InlineFragmentNode):
            vs = set()
            decided = _conditions(s.directives, vs)
            if isinstance(decided, str):
                continue
            dtext, conds = decided
            out.append(
                OpFragment(
                    type_condition=s.type_condition.name.value if s.type_condition else None,
                    selections=normalize_selection_set(s.selection_set, fragments, _seen),
                    directives_text=dtext,
                    conditions=conds,
                    variables=frozenset(vs),
                )
            )
        elif isinstance(s, FragmentSpreadNode):
            name = s.name.value
            frag = fragments.get(name)
            if frag is None or name in _seen:
                continue
            vs = set()
            decided = _conditions(s.directives, vs)
            if isinstance(decided, str):
                continue
            dtext, conds = decided
            out.append(
                OpFragment(
                    type_condition=frag.type_condition.name.value,
                    selections=normalize_selection_set(
                        frag.selection_set, fragments, _seen | {name}
                    ),
                    directives_text=dtext,
                    conditions=conds,
                    variables=frozenset(vs),
                )
            )
    return tuple(out)


def normalize_operation(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> NormalizedOperation:
    var_defs = {}
    for vd in operation.variable_definitions or ():
        text = f"${vd.variable.name.value}: {print_ast(vd.type)}"
        if vd.default_value is not None:
            text += f" = {print_ast(vd.default_value)}"
        var_defs[vd.variable.name.value] = text
    selections = normalize_selection_set(operation.selection_set, fragments)
    return NormalizedOperation(
        kind=operation.operation.value,
        name=operation.name.value if operation.name else None,
        selections=selections,
        variable_definitions=var_defs,
        internal_prefix=_free_prefix(selections),
    )


def _free_prefix(selections: tuple[OpSelection, ...]) -> str:
    keys: set[str] = set()
    stack = list(selections)
    while stack:
        s = stack.pop()
        if isinstance(s, OpField):
            keys.add(s.response_key)
        if s.selections:
            stack.extend(s.selections)
    prefix = DEFAULT_INTERNAL_PREFIX
    n = 0
    while any(k.startswith(prefix) for k in keys):
        n += 1
        prefix = f"_fed{n}_"
    return prefix


def parse_field_set(text: str, prefix: str | None) -> tuple[OpSelection, ...]:
    """Parse a `join__FieldSet` (a key, @requires or @provides) into internal selections.

    With a `prefix`, every field gets a private response key (`prefix` + name, plus a hash of
    its arguments when it has some) that no client alias can take; without one, fields keep
    their names (for reading a @provides tree).
    """
    doc = parse("{" + text + "}", no_location=True)
    op = doc.definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    sels = normalize_selection_set(op.selection_set, {})
    return _mark_internal(sels, prefix)


def _mark_internal(sels: tuple[OpSelection, ...], prefix: str | None) -> tuple[OpSelection, ...]:
    out: list[OpSelection] = []
    for s in sels:
        if isinstance(s, OpField):
            sub = _mark_internal(s.selections, prefix) if s.selections is not None else None
            key = s.response_key
            if prefix is not None and s.name != "__typename":
                key = prefix + s.name
                if s.args_text:
                    key += "_" + _short_hash(s.args_text)
            out.append(
                OpField(
                    key,
                    s.name,
                    s.args_text,
                    s.directives_text,
                    s.conditions,
                    sub,
                    s.variables,
                    internal=True,
                )
            )
        else:
            out.append(
                OpFragment(
                    s.type_condition,
                    _mark_internal(s.selections, prefix),
                    s.directives_text,
                    s.conditions,
                    s.variables,
                )
            )
    return tuple(out)


def _short_hash(text: str) -> str:
    h = 0
    for ch in text:
        h = (h * 131 + ord(ch)) & 0xFFFFFFFF
    return f"r{h:08x}"
