"""Print a `Supergraph` as SDL in the layout Apollo's composition uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import print_ast
from graphql.language import DirectiveNode
from graphql.language.block_string import print_block_string
from graphql.language.print_string import print_string

from graph.composition.features import (
    ACCESS_CONTROL,
    DEFINITIONS,
    FEATURES,
    default_name,
    link_line,
    print_applied,
)
from graph.composition.model import Argument, DirectiveDef, Kind
from graph.composition.supergraph import (
    JoinField,
    JoinType,
    MergedField,
    MergedType,
    MergedValue,
    Supergraph,
)

JOIN_URL = "https://specs.apollo.dev/join/v{version}"
LINK_URL = "https://specs.apollo.dev/link/v1.0"
TAG_URL = "https://specs.apollo.dev/tag/v0.3"
INACCESSIBLE_URL = "https://specs.apollo.dev/inaccessible/v0.2"

_ELEMENT_LOCATIONS = (
    "FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | "
    "ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION"
)
_FIXED_DIRECTIVES = {
    "inaccessible": f"directive @inaccessible on {_ELEMENT_LOCATIONS}",
    "join__enumValue": "directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE",
    "join__field": (
        "directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: "
        "join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: "
        "Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION"
    ),
    "join__graph": "directive @join__graph(name: String!, url: String!) on ENUM_VALUE",
    "join__implements": (
        "directive @join__implements(graph: join__Graph!, interface: String!) repeatable on "
        "OBJECT | INTERFACE"
    ),
    "join__type": (
        "directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = "
        "false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on "
        "OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR"
    ),
    "join__unionMember": (
        "directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION"
    ),
    "link": (
        "directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) "
        "repeatable on SCHEMA"
    ),
    "tag": f"directive @tag(name: String!) repeatable on {_ELEMENT_LOCATIONS} | SCHEMA",
}
_JOIN_DIRECTIVE = (
    "directive @join__directive(graphs: [join__Graph!], name: String!, args: "
    "join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE | FIELD_DEFINITION"
)
_CONTEXT_ARGUMENT = """input join__ContextArgument {
  name: String!
  type: String!
  context: String!
  selection: join__FieldValue!
}"""
_LINK_PURPOSE = '''enum link__Purpose {
  """
  `SECURITY` features provide metadata necessary to securely resolve fields.
  """
  SECURITY

  """
  `EXECUTION` features provide metadata necessary for operation execution.
  """
  EXECUTION
}'''
_KEYWORDS = {
    Kind.OBJECT: "type",
    Kind.INTERFACE: "interface",
    Kind.UNION: "union",
    Kind.ENUM: "enum",
    Kind.INPUT: "input",
    Kind.SCALAR: "scalar",
}


def _description(text: str | None, indent: str = "") -> str:
    if text is None:
        return ""
    block = print_block_string(text)
    return "\n".join(indent + line if line else line for line in block.split("\n")) + "\n"


def _join_type(j: JoinType) -> str:
    args = [f"graph: {j.graph}"]
    if j.key is not None:
        args.append(f"key: {print_string(j.key)}")
    if j.extension:
        args.append("extension: true")
    if not j.resolvable or j.resolvable_explicit:
        args.append(f"resolvable: {'true' if j.resolvable else 'false'}")
    if j.is_interface_object:
        args.append("isInterfaceObject: true")
    return f"@join__type({', '.join(args)})"


def _join_field(j: JoinField) -> str:
    if j.graph is None:
        return "@join__field"
    args = [f"graph: {j.graph}"]
    if j.requires is not None:
        args.append(f"requires: {print_string(j.requires)}")
    if j.provides is not None:
        args.append(f"provides: {print_string(j.provides)}")
    if j.type is not None:
        args.append(f"type: {print_string(j.type)}")
    if j.external:
        args.append("external: true")
    if j.override is not None:
        args.append(f"override: {print_string(j.override)}")
    if j.used_overridden:
        args.append("usedOverridden: true")
    if j.override_label is not None:
        args.append(f"overrideLabel: {print_string(j.override_label)}")
    if j.context_arguments:
        items = ", ".join(
            f"{{context: {print_string(c)}, name: {print_string(n)}, type: {print_string(t)}, "
            f"selection: {print_string(s)}}}"
            for c, n, t, s in j.context_arguments
        )
        args.append(f"contextArguments: [{items}]")
    return f"@join__field({', '.join(args)})"


@dataclass
class _Context:
    """What element printing needs from the whole supergraph."""

    names: dict[str, str] = field(default_factory=dict)  # spec directive -> supergraph name
    access: list[str] = field(default_factory=list)  # access-control directives, in order


def _element_directives(
    inaccessible: bool,
    tags: list[str],
    deprecated: str | None,
    composed: list[DirectiveNode],
    order: list[str] | None = None,
    spec: dict[str, dict[str, Any]] | None = None,
    ctx: _Context | None = None,
    access_first: bool = False,
) -> list[str]:
    """The merged directives of one element, in the order composition applies them: the
    sources' order (first appearance across subgraphs), access control first on fields and
    interfaces."""
    out = ["@inaccessible"] if inaccessible else []
    spec = spec or {}
    ctx = ctx or _Context()
    printed: set[str] = set()

    def applied(directive: str) -> str:
        return print_applied(
            ctx.names.get(directive, default_name(directive)), directive, spec[directive]
        )

    if access_first:
        for directive in ctx.access:
            if directive in spec:
                out.append(applied(directive))
                printed.add(f"spec:{directive}")
    keys = list(order or [])
    keys += [k for k in ("tag", "deprecated") if k not in keys]
    keys += [f"custom:{d.name.value}" for d in composed if f"custom:{d.name.value}" not in keys]
    keys += [f"spec:{d}" for d in spec if f"spec:{d}" not in keys]
    for key in keys:
        if key in printed:
            continue
        printed.add(key)
        if key == "tag":
            out += [f"@tag(name: {print_string(tag)})" for tag in tags]
        elif key == "deprecated" and deprecated is not None:
            out.append(
                "@deprecated"
                if deprecated == "No longer supported"
                else f"@deprecated(reason: {print_string(deprecated)})"
            )
        elif key.startswith("custom:"):
            out += [print_ast(d) for d in composed if d.name.value == key[len("custom:") :]]
        elif key.startswith("spec:") and key[len("spec:") :] in spec:
            out.append(applied(key[len("spec:") :]))
    return out


def _args(args: dict[str, Argument], indent: str, ctx: _Context) -> str:
    if not args:
        return ""
    parts = []
    for arg in args.values():
        text = f"{arg.name}: {arg.type}"
        if arg.default is not None:
            text += f" = {print_ast(arg.default)}"
        extra = _element_directives(
            arg.inaccessible, arg.tags, arg.deprecated, [], arg.order, arg.spec, ctx
        )
        parts.append(" ".join([text, *extra]))
    if not any(a.description for a in args.values()):
        return "(" + ", ".join(parts) + ")"
    inner = indent + "  "
    lines = [
        ("\n" if arg.description and i else "")
        + _description(arg.description, inner)
        + inner
        + part
        for i, (arg, part) in enumerate(zip(args.values(), parts, strict=True))
    ]
    return "(\n" + "\n".join(lines) + "\n" + indent + ")"


def _field(f: MergedField, ctx: _Context) -> str:
    text = f"  {f.name}{_args(f.args, '  ', ctx)}: {f.type}"
    if f.default is not None:
        text += f" = {print_ast(f.default)}"
    directives = ["@inaccessible"] if f.inaccessible else []
    joins = [_join_field(j) for j in f.joins]
    others = _element_directives(
        False, f.tags, f.deprecated, f.composed, f.order, f.spec, ctx, access_first=True
    )
    # A field copied from an @interfaceObject gets its bare @join__field after the copied
    # directives, as Apollo's composition applies them.
    copied = [j.graph for j in f.joins] == [None]
    directives += [*others, *joins] if copied else [*joins, *others]
    return _description(f.description, "  ") + " ".join([text, *directives])


def _value(v: MergedValue, ctx: _Context) -> str:
    directives = ["@inaccessible"] if v.inaccessible else []
    directives += [f"@join__enumValue(graph: {g})" for g in v.graphs]
    directives += _element_directives(False, v.tags, v.deprecated, [], v.order, None, ctx)
    return _description(v.description, "  ") + " ".join([f"  {v.name}", *directives])


def _type(t: MergedType, ctx: _Context) -> str:
    head = f"{_KEYWORDS[t.kind]} {t.name}"
    if t.interfaces:
        head += " implements " + " & ".join(t.interfaces)
    directives = [
        f"@join__implements(graph: {g}, interface: {print_string(i)})" for g, i in t.implements
    ]
    directives += [_join_type(j) for j in t.join_types]
    directives += [
        f"@join__unionMember(graph: {g}, member: {print_string(m)})" for g, m in t.member_joins
    ]
    directives += [f"@context(name: {print_string(c)})" for c in t.contexts]
    if t.specified_by is not None:
        directives.append(f"@specifiedBy(url: {print_string(t.specified_by)})")
    directives += _element_directives(
        t.inaccessible,
        t.tags,
        None,
        t.composed,
        t.order,
        t.spec,
        ctx,
        access_first=t.kind is Kind.INTERFACE,
    )
    out = _description(t.description) + head + "".join(f"\n  {d}" for d in directives)
    if t.kind is Kind.UNION:
        return out + ("\n = " if directives else " = ") + " | ".join(t.members)
    if t.kind is Kind.SCALAR:
        return out
    if t.kind is Kind.ENUM:
        body = [_value(v, ctx) for v in t.values.values()]
    else:
        body = [_field(f, ctx) for f in t.fields.values()]
    described = [
        bool(item.description)
        for item in (t.values.values() if t.kind is Kind.ENUM else t.fields.values())
    ]
    body = [
        ("\n" if has_desc and i else "") + line
        for i, (line, has_desc) in enumerate(zip(body, described, strict=True))
    ]
    return out + ("\n{\n" if directives else " {\n") + "\n".join(body) + "\n}"


def _directive_definition(d: DirectiveDef) -> str:
    text = _description(d.description) + f"directive @{d.name}{_args(d.args, '', _Context())}"
    if d.repeatable:
        text += " repeatable"
    return text + " on " + " | ".join(d.locations)


def print_supergraph(supergraph: Supergraph) -> str:
    version = supergraph.join_version
    join_url = JOIN_URL.format(version=version)
    links = [f'@link(url: "{LINK_URL}")', f'@link(url: "{join_url}", for: EXECUTION)']
    directives = dict(_FIXED_DIRECTIVES)
    extra_types: dict[str, str] = {}
    if version != "0.3":
        directives["join__directive"] = _JOIN_DIRECTIVE
        extra_types["join__DirectiveArguments"] = "scalar join__DirectiveArguments"
        field_args = "overrideLabel: String"
        if version == "0.5":
            field_args += ", contextArguments: [join__ContextArgument!]"
            extra_types["join__ContextArgument"] = _CONTEXT_ARGUMENT
            extra_types["join__FieldValue"] = "scalar join__FieldValue"
        directives["join__field"] = directives["join__field"].replace(
            "usedOverridden: Boolean)", f"usedOverridden: Boolean, {field_args})"
        )
    features = list(supergraph.feature_order)
    features += [f for f in ("tag", "inaccessible") if f not in features]
    spec_names = supergraph.spec_names
    for feature in features:
        if feature == "tag" and supergraph.uses_tag:
            links.append(f'@link(url: "{TAG_URL}")')
        elif feature == "inaccessible" and supergraph.uses_inaccessible:
            links.append(f'@link(url: "{INACCESSIBLE_URL}", for: SECURITY)')
        elif feature in FEATURES:
            spec = FEATURES[feature]
            names = {d: spec_names[d] for d in spec.directives if d in spec_names}
            links.append(link_line(spec, names))
            for directive in spec.directives:
                name = names.get(directive, default_name(directive))
                directives[name] = DEFINITIONS[directive].format(name=name)
            if spec.scalar is not None:
                scalar = f"{feature}__{spec.scalar}"
                extra_types[scalar] = f"scalar {scalar}"
    if not supergraph.uses_tag:
        del directives["tag"]
    if not supergraph.uses_inaccessible:
        del directives["inaccessible"]
    for url, imports in supergraph.composed_links:
        links.append(
            f"@link(url: {print_string(url)}, import: [{', '.join(map(print_string, imports))}])"
        )
    for d in supergraph.directives:
        directives[d.name] = _directive_definition(d)
    roots = "".join(f"  {op}: {name}\n" for op, name in _ordered_roots(supergraph.roots))
    blocks = ["schema" + "".join(f"\n  {link}" for link in links) + "\n{\n" + roots + "}"]
    blocks += [directives[name] for name in sorted(directives, key=str.lower)]
    graphs = "\n".join(
        f"  {g.enum} @join__graph(name: {print_string(g.name)}, url: {print_string(g.url)})"
        for g in supergraph.graphs
    )
    typed: dict[str, str] = {
        "join__FieldSet": "scalar join__FieldSet",
        "join__Graph": "enum join__Graph {\n" + graphs + "\n}",
        "link__Import": "scalar link__Import",
        "link__Purpose": _LINK_PURPOSE,
        **extra_types,
    }
    order = {f: i for i, f in enumerate(supergraph.feature_order)}
    ctx = _Context(
        spec_names,
        sorted(
            (d for d in ACCESS_CONTROL if d in spec_names), key=lambda d: order.get(d, len(order))
        ),
    )
    for t in supergraph.types.values():
        typed[t.name] = _type(t, ctx)
    blocks += [typed[name] for name in sorted(typed, key=lambda n: (n.lower(), n))]
    return "\n\n".join(blocks) + "\n"


def _ordered_roots(roots: dict[str, str]) -> list[tuple[str, str]]:
    return [(op, roots[op]) for op in ("query", "mutation", "subscription") if op in roots]
