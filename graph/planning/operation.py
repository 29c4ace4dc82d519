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

DEFER = "defer"
STREAM = "stream"


@dataclass(frozen=True, slots=True)
class Deferral:
    """One `@defer` fragment or `@stream` field of the operation: a part of the response that
    may be delivered after the initial payload (incremental delivery).

    `condition` is the variable of `if:` (None: always deferred, when the client can take an
    incremental response); `parent` is the deferral it is nested in (None: the initial
    payload); `initial_count` is `@stream`'s, a literal or a variable name. Ids are given in
    the operation's order, so a parent's id is smaller than its children's."""

    id: int
    kind: str  # DEFER | STREAM
    label: str | None = None
    condition: str | None = None
    parent: int | None = None
    initial_count: int | str = 0


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
    stream: Deferral | None = None  # `@stream` on this (list) field
    # The key in the client's response when it is not `response_key`: a client alias
    # `__typename` on another field (`__typename: name`, which validation allows). The
    # field travels under a private `response_key` in subgraph queries and the merged data,
    # where `__typename` is the planner's own (the concrete type of every object).
    client_key: str | None = None

    @property
    def is_typename(self) -> bool:
        return self.name == "__typename"

    @property
    def output_key(self) -> str:
        """The key of this field in the client's response."""
        return self.client_key or self.response_key


@dataclass(eq=False, slots=True)
class OpFragment:
    type_condition: str | None
    selections: tuple[OpSelection, ...]
    directives_text: str = ""
    conditions: tuple[Condition, ...] = ()
    variables: frozenset[str] = frozenset()
    defer: Deferral | None = None  # `@defer` on this fragment


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
    # Every @defer fragment and @stream field, by id (empty for most operations).
    deferrals: tuple[Deferral, ...] = ()
    # Private response keys of client fields aliased `__typename` -> "__typename" (see
    # OpField.client_key), to give errors at those fields their client paths.
    client_keys: dict[str, str] = field(default_factory=dict)


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


class _Normalizer:
    """Inlines named fragments and reads `@skip`/`@include`, `@defer` and `@stream`."""

    def __init__(
        self, fragments: dict[str, FragmentDefinitionNode], incremental: bool = True
    ) -> None:
        self.fragments = fragments
        self.incremental = incremental  # False: @defer/@stream are ignored (subscriptions)
        self.deferrals: list[Deferral] = []

    def _deferral(
        self,
        kind: str,
        directives: tuple[DirectiveNode, ...] | list[DirectiveNode] | None,
        parent: int | None,
    ) -> Deferral | None:
        """The `@defer`/`@stream` of a selection (its variables are the router's alone: they
        are never forwarded to a subgraph)."""
        if not self.incremental:
            return None
        found = next((d for d in directives or () if d.name.value == kind), None)
        if found is None:
            return None
        label: str | None = None
        condition: str | None = None
        count: int | str = 0
        for a in found.arguments or ():
            v = a.value
            name = a.name.value
            if name == "if":
                if isinstance(v, VariableNode):
                    condition = v.name.value
                elif getattr(v, "value", True) is False:
                    return None  # @defer(if: false): an ordinary fragment
            elif name == "label" and isinstance(getattr(v, "value", None), str):
                label = v.value  # type: ignore[attr-defined]
            elif name == "initialCount":
                if isinstance(v, VariableNode):
                    count = v.name.value
                else:
                    try:
                        count = max(0, int(getattr(v, "value", 0)))
                    except (TypeError, ValueError):
                        count = 0
        d = Deferral(len(self.deferrals), kind, label, condition, parent, count)
        self.deferrals.append(d)
        return d

    def selection_set(
        self,
        sel_set: SelectionSetNode | None,
        parent: int | None = None,
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
                stream = self._deferral(STREAM, s.directives, parent)
                inner = stream.id if stream is not None else parent
                sub = (
                    self.selection_set(s.selection_set, inner, _seen)
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
                        stream=stream,
                    )
                )
            elif isinstance(s, InlineFragmentNode):
                vs = set()
                decided = _conditions(s.directives, vs)
                if isinstance(decided, str):
                    continue
                dtext, conds = decided
                defer = self._deferral(DEFER, s.directives, parent)
                out.append(
                    OpFragment(
                        type_condition=s.type_condition.name.value if s.type_condition else None,
                        selections=self.selection_set(
                            s.selection_set, defer.id if defer is not None else parent, _seen
                        ),
                        directives_text=dtext,
                        conditions=conds,
                        variables=frozenset(vs),
                        defer=defer,
                    )
                )
            elif isinstance(s, FragmentSpreadNode):
                name = s.name.value
                frag = self.fragments.get(name)
                if frag is None or name in _seen:
                    continue
                vs = set()
                decided = _conditions(s.directives, vs)
                if isinstance(decided, str):
                    continue
                dtext, conds = decided
                defer = self._deferral(DEFER, s.directives, parent)
                out.append(
                    OpFragment(
                        type_condition=frag.type_condition.name.value,
                        selections=self.selection_set(
                            frag.selection_set,
                            defer.id if defer is not None else parent,
                            _seen | {name},
                        ),
                        directives_text=dtext,
                        conditions=conds,
                        variables=frozenset(vs),
                        defer=defer,
                    )
                )
        return tuple(out)


def normalize_selection_set(
    sel_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> tuple[OpSelection, ...]:
    return _Normalizer(fragments).selection_set(sel_set)


def normalize_operation(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> NormalizedOperation:
    var_defs = {}
    for vd in operation.variable_definitions or ():
        text = f"${vd.variable.name.value}: {print_ast(vd.type)}"
        if vd.default_value is not None:
            text += f" = {print_ast(vd.default_value)}"
        var_defs[vd.variable.name.value] = text
    kind = operation.operation.value
    # A subscription's events are delivered whole (@defer/@stream are refused there unless
    # they can be turned off, and then they are).
    normalizer = _Normalizer(fragments, incremental=kind != "subscription")
    selections = normalizer.selection_set(operation.selection_set)
    prefix = _free_prefix(selections)
    return NormalizedOperation(
        kind=kind,
        name=operation.name.value if operation.name else None,
        selections=selections,
        variable_definitions=var_defs,
        internal_prefix=prefix,
        deferrals=tuple(normalizer.deferrals),
        client_keys=_private_typename_aliases(selections, prefix + TYPENAME),
    )


TYPENAME = "__typename"


def _private_typename_aliases(selections: tuple[OpSelection, ...], key: str) -> dict[str, str]:
    """Give every client field aliased `__typename` (on a field that is not `__typename`) the
    private response key `key` (the operation's internal prefix + `__typename`: the planner
    never makes that key for a field of its own). In one selection set at most one field has
    the response key `__typename` (validation), so one private key serves them all."""
    found = False
    stack = list(selections)
    while stack:
        s = stack.pop()
        if isinstance(s, OpField) and s.response_key == TYPENAME and s.name != TYPENAME:
            s.client_key = TYPENAME
            s.response_key = key
            found = True
        if s.selections:
            stack.extend(s.selections)
    return {key: TYPENAME} if found else {}


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
