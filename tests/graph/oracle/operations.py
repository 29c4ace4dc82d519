"""Random valid operations over an API schema, on hypothesis.

What an operation may hold:

- fields, with arguments as literals, as variables and as variables with a default (given a
  value or not); `__typename`, at any level, also at the root;
- aliases: fresh names, names of other fields of the same type (`id: name`), and
  `__typename` on another field (`__typename: name`, which validation allows);
- repeated fields: a field asked again under the same response key with another
  sub-selection (and other directives), which the executor must merge;
- inline fragments without a type condition, on the type itself, on an interface or union
  it belongs to, on a member of an abstract type; named fragments, nested in each other and
  spread in several places;
- `@skip` / `@include` with literals, with variables (`Boolean!`) and with variables that
  have a default (sent or not); both at once on one selection.

Invalid combinations (two fields under one response key that cannot merge) are left to the
caller's validation. The draws go through a few cached strategies (an index into the
options, a boolean): hypothesis shrinks every choice towards the first option, so the
simplest choice comes first in every list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
)
from hypothesis import strategies as st

_BOOL = st.booleans()

_KINDS = ["field"] * 6 + ["typename", "inline", "inline", "spread", "repeat", "reuse"]
_ALIASES = ["", "", "", "alias", "other", "typename"]
_CONDITIONS = ["", "", "", "skip", "include", "both"]
_HOW = ["true", "false", "var", "default"]
_ARG = ["none", "literal", "var", "default"]
_FRESH = ["x", "y", "id", "name"]
_LITERALS = {
    "String": ['"1"', '"a"', '"USD"'],
    "Boolean": ["true", "false"],
    "Float": ["1.5", "0"],
}


@cache
def _index(n: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=n - 1)


class _Keys:
    """The response keys of one selection set (with the fragments merged into it): what each
    key is (field name and arguments) and the keys of its sub-selection. A key drawn again
    for something else gets a fresh alias instead, so that fields merge (the operations are
    mostly valid; a reused named fragment may still clash)."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, str, _Keys]] = {}

    def take(self, key: str, what: str, args: str) -> _Keys | None:
        """The sub-selection's keys, or None when `key` already holds something else."""
        hit = self.entries.get(key)
        if hit is None:
            hit = self.entries[key] = (what, args, _Keys())
        elif hit[:2] != (what, args):
            return None
        return hit[2]


class Chooser:
    """Where the choices come from: hypothesis (`draw`, shrinkable) or a plain
    `random.Random` (the fast long runs of tests/graph/oracle/deep.py)."""

    def index(self, n: int) -> int:
        raise NotImplementedError

    def flag(self) -> bool:
        raise NotImplementedError


class _Drawn(Chooser):
    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def index(self, n: int) -> int:
        return self.draw(_index(n))

    def flag(self) -> bool:
        return self.draw(_BOOL)


class RandomChooser(Chooser):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def index(self, n: int) -> int:
        return self.rng.randrange(n)

    def flag(self) -> bool:
        return self.rng.random() < 0.5


@dataclass
class _Doc:
    choose: Chooser
    schema: GraphQLSchema
    fragments: dict[str, str] = field(default_factory=dict)
    fragment_types: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)  # name -> definition text
    values: dict[str, Any] = field(default_factory=dict)
    aliases: int = 0

    def pick(self, options: list[Any]) -> Any:
        if len(options) == 1:
            return options[0]
        return options[self.choose.index(len(options))]

    def number(self, low: int, high: int) -> int:
        return low + self.choose.index(high - low + 1) if high > low else low

    def flag(self) -> bool:
        return self.choose.flag()

    def fresh(self) -> str:
        """A new alias (`a0: `, `a1: `, ...), taken by nothing yet."""
        self.aliases += 1
        return f"a{self.aliases}: "


def _named(t: Any) -> Any:
    while isinstance(t, GraphQLNonNull | GraphQLList):
        t = t.of_type
    return t


@st.composite
def operations(draw: st.DrawFn, schema: GraphQLSchema) -> tuple[str, dict[str, Any]]:
    """(operation text, variable values) of a random valid-or-not query on `schema`."""
    return operation(schema, _Drawn(draw))


def operation(schema: GraphQLSchema, choose: Chooser) -> tuple[str, dict[str, Any]]:
    """(operation text, variable values), with the choices from `choose`."""
    doc = _Doc(choose, schema)
    query = schema.query_type
    assert query is not None
    body = _selection_set(doc, query, 0, _Keys())
    defs = ""
    if doc.variables:
        defs = "(" + ", ".join(doc.variables.values()) + ")"
    text = f"query Q{defs} {body}\n" + "\n".join(doc.fragments.values())
    return text, doc.values


def _directive(doc: _Doc, kind: str) -> str:
    how = doc.pick(_HOW)
    if how in ("true", "false"):
        return f" @{kind}(if: {how})"
    name = f"v{len(doc.variables)}"
    if how == "default":
        default = doc.flag()
        doc.variables[name] = f"${name}: Boolean = {str(default).lower()}"
        if doc.flag():
            doc.values[name] = doc.flag()
    else:
        doc.variables[name] = f"${name}: Boolean!"
        doc.values[name] = doc.flag()
    return f" @{kind}(if: ${name})"


def _condition(doc: _Doc) -> str:
    kind = doc.pick(_CONDITIONS)
    if not kind:
        return ""
    if kind == "both":
        return _directive(doc, "skip") + _directive(doc, "include")
    return _directive(doc, kind)


# A field drawn in a selection set: (text up to its directives, target type, sub-keys).
_Field = tuple[str, Any, _Keys]


def _selection_set(doc: _Doc, t: Any, depth: int, keys: _Keys) -> str:
    n = doc.number(1, 4 if depth < 2 else 2)
    items: list[str] = []
    fields: list[_Field] = []
    for _ in range(n):
        items.append(_selection(doc, t, depth, fields, keys))
    return "{ " + " ".join(items) + " }"


def _selection(doc: _Doc, t: Any, depth: int, fields: list[_Field], keys: _Keys) -> str:
    what = doc.pick(_KINDS)
    if what == "typename" or not getattr(t, "fields", None):
        alias = doc.pick(["", "", "t: "])
        if keys.take(alias[:-2] or "__typename", "__typename", "") is None:
            alias = doc.fresh()
        return f"{alias}__typename{_condition(doc)}"
    if what == "repeat" and fields:
        # The same response key again (same field, alias and arguments), another selection.
        head, target, sub = doc.pick(fields)
        return head + _condition(doc) + _sub(doc, target, depth, sub)
    if what == "reuse" and doc.fragment_types:
        usable = [n for n, tc in doc.fragment_types.items() if _spreadable(doc.schema, tc, t)]
        if usable:
            return f"...{doc.pick(usable)}{_condition(doc)}"
    if what in ("inline", "spread", "reuse") and depth < 4:
        tc = doc.pick(_conditions_for(doc.schema, t))
        target = doc.schema.get_type(tc) if tc else t
        inner = _selection_set(doc, target, depth + 1, keys)
        directive = _condition(doc)
        if what == "inline":
            head = f"... on {tc}" if tc else "..."
            return f"{head}{directive} {inner}"
        name = f"F{len(doc.fragments)}"
        doc.fragments[name] = f"fragment {name} on {tc or t.name} {inner}"
        doc.fragment_types[name] = tc or t.name
        return f"...{name}{directive}"
    names = [f for f in t.fields if not f.startswith("__")]
    name = doc.pick(names)
    fdef = t.fields[name]
    alias = ""
    alias_kind = doc.pick(_ALIASES)
    if alias_kind == "alias":
        alias = doc.pick(_FRESH) + ": "
    elif alias_kind == "other":
        alias = doc.pick(names) + ": "
    elif alias_kind == "typename":
        alias = "__typename: "
    args = _arguments(doc, fdef)
    sub = keys.take(alias[:-2] or name, name, args)
    if sub is None:  # the key is taken by another field: a fresh alias
        alias = doc.fresh()
        sub = keys.take(alias[:-2], name, args)
        assert sub is not None
    head = f"{alias}{name}{args}"
    target = _named(fdef.type)
    fields.append((head, target, sub))
    return head + _condition(doc) + _sub(doc, target, depth, sub)


def _sub(doc: _Doc, target: Any, depth: int, keys: _Keys) -> str:
    if not isinstance(target, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
        return ""
    if depth >= 3:
        if keys.take("__typename", "__typename", "") is None:  # taken by an alias
            alias = doc.fresh()
            keys.take(alias[:-2], "__typename", "")
            return f" {{ {alias}__typename }}"
        return " { __typename }"
    return " " + _selection_set(doc, target, depth + 1, keys)


def _arguments(doc: _Doc, fdef: Any) -> str:
    parts = []
    for aname, adef in fdef.args.items():
        tname = _named(adef.type).name
        if tname == "Int":
            how = doc.pick(_ARG)
            if how == "literal" or (how == "none" and _required(adef)):
                parts.append(f"{aname}: {doc.number(0, 3)}")
            elif how == "var":
                v = f"m{len(doc.variables)}"
                doc.variables[v] = f"${v}: Int!"
                doc.values[v] = doc.number(0, 3)
                parts.append(f"{aname}: ${v}")
            elif how == "default":
                v = f"m{len(doc.variables)}"
                doc.variables[v] = f"${v}: Int = {doc.number(0, 3)}"
                if doc.flag():
                    doc.values[v] = doc.number(0, 3)
                parts.append(f"{aname}: ${v}")
        elif tname == "ID":
            parts.append(f'{aname}: "{doc.pick(_ids(doc.schema, fdef))}"')
        elif tname in _LITERALS:
            parts.append(f"{aname}: {doc.pick(_LITERALS[tname])}")
        elif isinstance(_named(adef.type), GraphQLEnumType):
            parts.append(f"{aname}: {doc.pick(list(_named(adef.type).values))}")
        elif isinstance(_named(adef.type), GraphQLInputObjectType) and (
            _required(adef) or doc.flag()
        ):
            parts.append(f"{aname}: {_literal(doc, adef.type, 0)}")
    return "(" + ", ".join(parts) + ")" if parts else ""


def _required(arg: Any) -> bool:
    return isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined


def _literal(doc: _Doc, t: Any, depth: int) -> str:
    """A literal of input type `t`: input objects with their required fields and, while not
    deep, some optional ones; lists of one item or none; scalars from _LITERALS."""
    if isinstance(t, GraphQLNonNull):
        t = t.of_type
    if isinstance(t, GraphQLList):
        return "[]" if depth > 1 and doc.flag() else f"[{_literal(doc, t.of_type, depth + 1)}]"
    if isinstance(t, GraphQLEnumType):
        return str(doc.pick(list(t.values)))
    if isinstance(t, GraphQLInputObjectType):
        fields = [
            f"{name}: {_literal(doc, f.type, depth + 1)}"
            for name, f in t.fields.items()
            if (isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined)
            or (depth < 2 and doc.flag())
        ]
        return "{" + ", ".join(fields) + "}"
    if t.name in ("Int", "ID"):
        return str(doc.number(0, 3)) if t.name == "Int" else f'"{doc.number(1, 3)}"'
    return str(doc.pick(_LITERALS.get(t.name, ['"1"'])))


def _conditions_for(schema: GraphQLSchema, t: Any) -> list[str | None]:
    out: list[str | None] = [None, t.name]
    if isinstance(t, GraphQLObjectType):
        out.extend(i.name for i in t.interfaces)
        for u in schema.type_map.values():
            if isinstance(u, GraphQLUnionType) and t in u.types:
                out.append(u.name)
    else:
        out.extend(p.name for p in schema.get_possible_types(t))
    return out


def _spreadable(schema: GraphQLSchema, condition: str, t: Any) -> bool:
    """Whether a fragment on `condition` may be spread where the type is `t`."""
    c = schema.get_type(condition)
    if c is None:
        return False
    mine = {p.name for p in _possible(schema, t)}
    return bool(mine & {p.name for p in _possible(schema, c)})


def _possible(schema: GraphQLSchema, t: Any) -> list[Any]:
    if isinstance(t, GraphQLObjectType):
        return [t]
    return list(schema.get_possible_types(t))


def _ids(schema: GraphQLSchema, fdef: Any) -> list[str]:
    """Ids for an `id:` argument: ids of the objects the world has (`e0-1`), and some not."""
    names = [p.name.lower() for p in _possible(schema, _named(fdef.type))]
    return [f"{n}-{i}" for n in names for i in range(4)] + ["1", "2"]
