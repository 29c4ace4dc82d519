"""Print a `Supergraph` as SDL in the layout Apollo's composition uses."""

from __future__ import annotations

from graphql import print_ast
from graphql.language import DirectiveNode
from graphql.language.block_string import print_block_string
from graphql.language.print_string import print_string

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
    return f"@join__field({', '.join(args)})"


def _element_directives(
    inaccessible: bool, tags: list[str], deprecated: str | None, composed: list[DirectiveNode]
) -> list[str]:
    out = ["@inaccessible"] if inaccessible else []
    out += [f"@tag(name: {print_string(tag)})" for tag in tags]
    if deprecated is not None:
        out.append(
            "@deprecated"
            if deprecated == "No longer supported"
            else f"@deprecated(reason: {print_string(deprecated)})"
        )
    out += [print_ast(d) for d in composed]
    return out


def _args(args: dict[str, Argument], indent: str) -> str:
    if not args:
        return ""
    parts = []
    for arg in args.values():
        text = f"{arg.name}: {arg.type}"
        if arg.default is not None:
            text += f" = {print_ast(arg.default)}"
        extra = _element_directives(arg.inaccessible, arg.tags, arg.deprecated, [])
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


def _field(f: MergedField) -> str:
    text = f"  {f.name}{_args(f.args, '  ')}: {f.type}"
    if f.default is not None:
        text += f" = {print_ast(f.default)}"
    directives = ["@inaccessible"] if f.inaccessible else []
    directives += [_join_field(j) for j in f.joins]
    directives += _element_directives(False, f.tags, f.deprecated, f.composed)
    return _description(f.description, "  ") + " ".join([text, *directives])


def _value(v: MergedValue) -> str:
    directives = ["@inaccessible"] if v.inaccessible else []
    directives += [f"@join__enumValue(graph: {g})" for g in v.graphs]
    directives += _element_directives(False, v.tags, v.deprecated, [])
    return _description(v.description, "  ") + " ".join([f"  {v.name}", *directives])


def _type(t: MergedType) -> str:
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
    if t.specified_by is not None:
        directives.append(f"@specifiedBy(url: {print_string(t.specified_by)})")
    directives += _element_directives(t.inaccessible, t.tags, None, t.composed)
    out = _description(t.description) + head + "".join(f"\n  {d}" for d in directives)
    if t.kind is Kind.UNION:
        return out + ("\n = " if directives else " = ") + " | ".join(t.members)
    if t.kind is Kind.SCALAR:
        return out
    if t.kind is Kind.ENUM:
        body = [_value(v) for v in t.values.values()]
    else:
        body = [_field(f) for f in t.fields.values()]
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
    text = _description(d.description) + f"directive @{d.name}{_args(d.args, '')}"
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
    if supergraph.uses_tag:
        links.append(f'@link(url: "{TAG_URL}")')
    else:
        del directives["tag"]
    if supergraph.uses_inaccessible:
        links.append(f'@link(url: "{INACCESSIBLE_URL}", for: SECURITY)')
    else:
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
    for t in supergraph.types.values():
        typed[t.name] = _type(t)
    blocks += [typed[name] for name in sorted(typed, key=lambda n: (n.lower(), n))]
    return "\n\n".join(blocks) + "\n"


def _ordered_roots(roots: dict[str, str]) -> list[tuple[str, str]]:
    return [(op, roots[op]) for op in ("query", "mutation", "subscription") if op in roots]
