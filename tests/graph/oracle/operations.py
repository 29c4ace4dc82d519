"""Random valid operations over an API schema, on hypothesis.

Fields with aliases (also aliases that are other fields' names), repeated fields with other
sub-selections, inline fragments (no type condition, the type itself, an interface, a member
of a union or interface), named fragments (nested), `@skip` / `@include` with literals and
variables (some with defaults), arguments as literals and variables, `__typename`. Invalid
combinations (an alias that clashes) are left to the caller's validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
)
from hypothesis import strategies as st


@dataclass
class _Doc:
    schema: GraphQLSchema
    fragments: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)  # name -> definition text
    values: dict[str, Any] = field(default_factory=dict)


def _named(t: Any) -> Any:
    while isinstance(t, GraphQLNonNull | GraphQLList):
        t = t.of_type
    return t


def _possible(schema: GraphQLSchema, t: Any) -> list[Any]:
    if isinstance(t, GraphQLObjectType):
        return [t]
    return list(schema.get_possible_types(t))


@st.composite
def operations(draw: st.DrawFn, schema: GraphQLSchema) -> tuple[str, dict[str, Any]]:
    doc = _Doc(schema)
    query = schema.query_type
    assert query is not None
    body = draw(_selection_set(doc, query, 0))
    defs = ""
    if doc.variables:
        defs = "(" + ", ".join(doc.variables.values()) + ")"
    text = f"query Q{defs} {body}\n" + "\n".join(doc.fragments.values())
    return text, doc.values


@st.composite
def _condition(draw: st.DrawFn, doc: _Doc) -> str:
    kind = draw(st.sampled_from(["", "", "", "skip", "include"]))
    if not kind:
        return ""
    how = draw(st.sampled_from(["true", "false", "var", "default"]))
    if how in ("true", "false"):
        return f" @{kind}(if: {how})"
    name = f"v{len(doc.variables)}"
    if how == "default":
        default = draw(st.booleans())
        doc.variables[name] = f"${name}: Boolean = {str(default).lower()}"
        if draw(st.booleans()):
            doc.values[name] = draw(st.booleans())
    else:
        doc.variables[name] = f"${name}: Boolean!"
        doc.values[name] = draw(st.booleans())
    return f" @{kind}(if: ${name})"


@st.composite
def _selection_set(draw: st.DrawFn, doc: _Doc, t: Any, depth: int) -> str:
    n = draw(st.integers(min_value=1, max_value=4 if depth < 2 else 2))
    items = [draw(_selection(doc, t, depth)) for _ in range(n)]
    return "{ " + " ".join(items) + " }"


@st.composite
def _selection(draw: st.DrawFn, doc: _Doc, t: Any, depth: int) -> str:
    what = draw(st.sampled_from(["field"] * 6 + ["typename", "inline", "inline", "spread"]))
    if what == "typename" or not getattr(t, "fields", None):
        alias = draw(st.sampled_from(["", "", "t: "]))
        return f"{alias}__typename{draw(_condition(doc))}"
    if what in ("inline", "spread") and depth < 4:
        conds = _conditions_for(doc.schema, t)
        tc = draw(st.sampled_from(conds))
        target = doc.schema.get_type(tc) if tc else t
        inner = draw(_selection_set(doc, target, depth + 1))
        directive = draw(_condition(doc))
        if what == "inline":
            head = f"... on {tc}" if tc else "..."
            return f"{head}{directive} {inner}"
        name = f"F{len(doc.fragments)}"
        doc.fragments[name] = f"fragment {name} on {tc or t.name} {inner}"
        return f"...{name}{directive}"
    fields = [f for f in t.fields if not f.startswith("__")]
    name = draw(st.sampled_from(fields))
    fdef = t.fields[name]
    alias_kind = draw(st.sampled_from(["", "", "", "alias", "other"]))
    alias = ""
    if alias_kind == "alias":
        alias = draw(st.sampled_from(["x", "y", "id", "name"])) + ": "
    elif alias_kind == "other":
        alias = draw(st.sampled_from(fields)) + ": "
    args = ""
    if fdef.args:
        parts = []
        for aname, adef in fdef.args.items():
            if _named(adef.type).name == "Int":
                how = draw(st.sampled_from(["none", "literal", "var"]))
                if how == "literal" or (how == "none" and isinstance(adef.type, GraphQLNonNull)):
                    parts.append(f"{aname}: {draw(st.integers(min_value=0, max_value=3))}")
                elif how == "var":
                    v = f"m{len(doc.variables)}"
                    doc.variables[v] = f"${v}: Int!"
                    doc.values[v] = draw(st.integers(min_value=0, max_value=3))
                    parts.append(f"{aname}: ${v}")
            elif _named(adef.type).name == "ID":
                parts.append(f'{aname}: "{draw(st.sampled_from(_ids(doc.schema, fdef)))}"')
        if parts:
            args = "(" + ", ".join(parts) + ")"
    directive = draw(_condition(doc))
    target = _named(fdef.type)
    if isinstance(target, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
        if depth >= 3:
            return f"{alias}{name}{args}{directive} {{ __typename }}"
        inner = draw(_selection_set(doc, target, depth + 1))
        return f"{alias}{name}{args}{directive} {inner}"
    return f"{alias}{name}{args}{directive}"


def _conditions_for(schema: GraphQLSchema, t: Any) -> list[str | None]:
    out: list[str | None] = [None, t.name]
    if isinstance(t, GraphQLObjectType):
        out.extend(i.name for i in t.interfaces)
        for u in schema.type_map.values():
            if isinstance(u, GraphQLUnionType) and t in u.types:
                out.append(u.name)
    else:
        out.extend(p.name for p in _possible(schema, t))
    return out


def _ids(schema: GraphQLSchema, fdef: Any) -> list[str]:
    entity = _named(fdef.type).name
    return [f"{entity.lower()}-{i}" for i in range(4)]
