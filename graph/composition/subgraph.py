"""Read one subgraph's SDL into a `SubgraphSchema`: resolve `@link` imports and aliases,
merge type extensions, rename root types, drop the federation machinery (`_service`,
`_entities`, `_Any`, ...)."""

from __future__ import annotations

import re
from typing import Any

from graphql import GraphQLError, parse
from graphql.language import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    FieldDefinitionNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    TypeNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
)

from graph.composition.errors import IssueCollector
from graph.composition.features import SPEC_DIRECTIVES
from graph.composition.links import (
    BUILTIN_DIRECTIVES,
    DEFAULT_ROOTS,
    EXECUTABLE_LOCATIONS,
    UNSUPPORTED,
    LinkNames,
    directive_args,
)
from graph.composition.model import (
    Argument,
    DirectiveDef,
    EnumValue,
    Field,
    Key,
    Kind,
    Subgraph,
    SubgraphSchema,
    TypeDef,
)

_KINDS: dict[type, Kind] = {
    ObjectTypeDefinitionNode: Kind.OBJECT,
    ObjectTypeExtensionNode: Kind.OBJECT,
    InterfaceTypeDefinitionNode: Kind.INTERFACE,
    InterfaceTypeExtensionNode: Kind.INTERFACE,
    UnionTypeDefinitionNode: Kind.UNION,
    UnionTypeExtensionNode: Kind.UNION,
    EnumTypeDefinitionNode: Kind.ENUM,
    EnumTypeExtensionNode: Kind.ENUM,
    InputObjectTypeDefinitionNode: Kind.INPUT,
    InputObjectTypeExtensionNode: Kind.INPUT,
    ScalarTypeDefinitionNode: Kind.SCALAR,
    ScalarTypeExtensionNode: Kind.SCALAR,
}
_EXTENSIONS = (
    ObjectTypeExtensionNode,
    InterfaceTypeExtensionNode,
    UnionTypeExtensionNode,
    EnumTypeExtensionNode,
    InputObjectTypeExtensionNode,
    ScalarTypeExtensionNode,
)


def _print_type(node: TypeNode, rename: dict[str, str]) -> str:
    if isinstance(node, NonNullTypeNode):
        return _print_type(node.type, rename) + "!"
    if isinstance(node, ListTypeNode):
        return "[" + _print_type(node.type, rename) + "]"
    assert isinstance(node, NamedTypeNode)
    return rename.get(node.name.value, node.name.value)


def _node_name(node: Any) -> str:
    return str(node.name.value)


def _description(node: Any) -> str | None:
    desc = getattr(node, "description", None)
    return None if desc is None else str(desc.value)


class SubgraphReader:
    """Turns a `Subgraph` into a `SubgraphSchema`, reporting problems to `issues`."""

    def __init__(self, subgraph: Subgraph, issues: IssueCollector) -> None:
        self.subgraph = subgraph
        self.issues = issues
        self.rename: dict[str, str] = {}
        self.names: LinkNames
        self.applied: set[str] = set()
        self.spec_names: dict[str, str] = {}

    def read(self) -> SubgraphSchema | None:
        name = self.subgraph.name
        try:
            doc = parse(self.subgraph.sdl)
        except GraphQLError as exc:
            self.issues.add("INVALID_GRAPHQL", f"[{name}] {exc.message}", subgraphs=[name])
            return None
        self.names = LinkNames(doc)
        for unknown in self.names.unknown_imports:
            self.issues.add(
                "INVALID_LINK_DIRECTIVE_USAGE",
                f'[{name}] Cannot import unknown element "@{unknown}" (federation '
                f"v{self.names.version[0]}.{self.names.version[1]} does not define it: link a "
                "newer federation version)",
                subgraphs=[name],
            )
        schema = SubgraphSchema(
            name=name, url=self.subgraph.url, fed2=self.names.fed2, version=self.names.version
        )
        schema.applied = self.applied
        schema.spec_names = self.spec_names
        self._read_roots(doc, schema)
        definitions: dict[str, list[Any]] = {}
        for definition in doc.definitions:
            if isinstance(definition, DirectiveDefinitionNode):
                self._read_directive_definition(definition, schema)
            elif type(definition) in _KINDS:
                definitions.setdefault(_node_name(definition), []).append(definition)
        for type_name, nodes in definitions.items():
            if self.names.is_machinery_type(type_name):
                continue
            typedef = self._read_type(self.rename.get(type_name, type_name), nodes)
            if typedef is not None:
                schema.types[typedef.name] = typedef
        query = schema.types.get("Query")
        if query is not None:
            query.fields.pop("_service", None)
            query.fields.pop("_entities", None)
            if not query.fields:
                del schema.types["Query"]
        for op, type_name in list(schema.roots.items()):
            if type_name not in schema.types:
                del schema.roots[op]
        self._read_compose_directives(doc, schema)
        return schema

    def _read_roots(self, doc: DocumentNode, schema: SubgraphSchema) -> None:
        declared = False
        for definition in doc.definitions:
            if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                for op_type in definition.operation_types or ():
                    declared = True
                    schema.roots[op_type.operation.value] = op_type.type.name.value
        if not declared:
            present = {_node_name(d) for d in doc.definitions if type(d) in _KINDS}
            schema.roots = {op: name for op, name in DEFAULT_ROOTS.items() if name in present}
        for op, type_name in schema.roots.items():
            if type_name != DEFAULT_ROOTS[op]:
                self.rename[type_name] = DEFAULT_ROOTS[op]
        schema.roots = {op: DEFAULT_ROOTS[op] for op in schema.roots}

    def _read_directive_definition(
        self, node: DirectiveDefinitionNode, schema: SubgraphSchema
    ) -> None:
        name = node.name.value
        if name in BUILTIN_DIRECTIVES or name == "link" or name in self.names.to_canonical:
            return
        if name.startswith(("link__", "join__", f"{self.names.prefix}__")):
            return
        schema.directives[name] = DirectiveDef(
            name=name,
            args={arg.name.value: self._argument(arg) for arg in node.arguments or ()},
            locations=[loc.value for loc in node.locations],
            repeatable=node.repeatable,
            description=_description(node),
        )

    def _read_compose_directives(self, doc: DocumentNode, schema: SubgraphSchema) -> None:
        composed: list[str] = []
        for definition in doc.definitions:
            if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                for directive in definition.directives:
                    if self.names.canonical(directive) == "composeDirective":
                        composed.append(str(directive_args(directive).get("name", "")).lstrip("@"))
        for url, imports in self.names.links:
            names = [str(i.get("name") if isinstance(i, dict) else i).lstrip("@") for i in imports]
            used = [n for n in names if n in composed]
            if used:
                schema.composed_links.append((url, [f"@{n}" for n in used]))
        keep = set(composed)
        for name in list(schema.directives):
            kept = schema.directives[name]
            if name not in keep and not set(kept.locations) <= EXECUTABLE_LOCATIONS:
                del schema.directives[name]

    # -- types ---------------------------------------------------------------------------

    def _read_type(self, name: str, nodes: list[Any]) -> TypeDef | None:
        kind = _KINDS[type(nodes[0])]
        typedef = TypeDef(name=name, kind=kind)
        has_base = False
        for node in nodes:
            if _KINDS[type(node)] != kind:
                self.issues.add(
                    "TYPE_KIND_MISMATCH",
                    f'[{self.subgraph.name}] Type "{name}" is defined with different kinds',
                    subgraphs=[self.subgraph.name],
                    type_name=name,
                )
                return None
            is_extension = isinstance(node, _EXTENSIONS)
            node_shareable = self._node_has(node, "shareable")
            node_external = self._node_has(node, "external")
            has_base = has_base or not is_extension
            typedef.description = typedef.description or _description(node)
            self._type_directives(typedef, node)
            for iface in getattr(node, "interfaces", None) or ():
                typedef.interfaces.append(self.rename.get(iface.name.value, iface.name.value))
            for member in getattr(node, "types", None) or ():
                typedef.members.append(self.rename.get(member.name.value, member.name.value))
            for value in getattr(node, "values", None) or ():
                typedef.values[value.name.value] = self._enum_value(value)
            for field_node in getattr(node, "fields", None) or ():
                fld = self._field(field_node, typedef)
                fld.shareable = fld.shareable or node_shareable
                fld.external = fld.external or node_external
                typedef.fields[fld.name] = fld
        if not has_base and kind in (Kind.OBJECT, Kind.INTERFACE) and self.names.fed2:
            typedef.extension = True
        typedef.extension = typedef.extension or typedef.extends_directive
        if not self.names.fed2:
            self._fed1_upgrade(typedef)
        elif typedef.extension:
            self._unexternal_keys(typedef)
        return typedef

    def _node_has(self, node: Any, directive: str) -> bool:
        return any(self.names.canonical(d) == directive for d in node.directives or ())

    def _note(
        self, element: Any, directive: DirectiveNode, canonical: str | None, args: dict[str, Any]
    ) -> None:
        """Record a directive composition merges: its place among the element's directives
        and, for the spec directives, its arguments."""
        if canonical is not None:
            self.applied.add(canonical)
        if canonical in SPEC_DIRECTIVES:
            assert canonical is not None
            self.spec_names.setdefault(canonical, directive.name.value)
            element.spec[canonical] = args
            key = f"spec:{canonical}"
        elif canonical == "tag":
            key = "tag"
        elif canonical is None and directive.name.value == "deprecated":
            key = "deprecated"
        elif canonical is None and directive.name.value not in BUILTIN_DIRECTIVES:
            key = f"custom:{directive.name.value}"
        else:
            return
        if key not in element.order:
            element.order.append(key)

    def _known(self, directive: DirectiveNode) -> bool:
        name = directive.name.value
        if self.names.is_known(name):
            return True
        if name in self.names.unknown_imports:
            return False  # reported once, as an import of an unknown element
        self.issues.add(
            "INVALID_GRAPHQL",
            f'[{self.subgraph.name}] Unknown directive "@{name}".',
            subgraphs=[self.subgraph.name],
        )
        return False

    def _type_directives(self, typedef: TypeDef, node: Any) -> None:
        for directive in node.directives or ():
            if not self._known(directive):
                continue
            canonical = self.names.canonical(directive)
            args = directive_args(directive)
            self._note(typedef, directive, canonical, args)
            if canonical == "key":
                typedef.keys.append(
                    Key(
                        str(args.get("fields", "")),
                        bool(args.get("resolvable", True)),
                        "resolvable" in args,
                    )
                )
            elif canonical == "shareable":
                typedef.shareable = True
            elif canonical == "inaccessible":
                typedef.inaccessible = True
            elif canonical == "interfaceObject":
                typedef.interface_object = True
            elif canonical == "extends":
                typedef.extends_directive = True
            elif canonical == "tag":
                typedef.tags.append(str(args.get("name", "")))
            elif canonical == "context":
                typedef.contexts.append(str(args.get("name", "")))
            elif canonical in SPEC_DIRECTIVES:
                pass
            elif canonical in UNSUPPORTED:
                self._unsupported(canonical, typedef.name)
            elif directive.name.value == "specifiedBy":
                typedef.specified_by = str(args.get("url", ""))
            elif canonical is None and directive.name.value not in BUILTIN_DIRECTIVES:
                typedef.composed.append(directive)

    def _unsupported(self, directive: str, where: str) -> None:
        self.issues.add(
            "UNSUPPORTED_FEATURE",
            f'[{self.subgraph.name}] @{directive} on "{where}" is not supported by this '
            "composition",
            subgraphs=[self.subgraph.name],
            type_name=where.split(".")[0],
        )

    def _argument(self, node: InputValueDefinitionNode) -> Argument:
        arg = Argument(
            name=node.name.value,
            type=_print_type(node.type, self.rename),
            default=node.default_value,
            description=_description(node),
        )
        for directive in node.directives or ():
            if not self._known(directive):
                continue
            canonical = self.names.canonical(directive)
            self._note(arg, directive, canonical, directive_args(directive))
            if canonical == "inaccessible":
                arg.inaccessible = True
            elif canonical == "tag":
                arg.tags.append(str(directive_args(directive).get("name", "")))
            elif canonical == "fromContext":
                arg.from_context = str(directive_args(directive).get("field", ""))
            elif directive.name.value == "deprecated":
                arg.deprecated = str(directive_args(directive).get("reason", "No longer supported"))
        return arg

    def _enum_value(self, node: Any) -> EnumValue:
        value = EnumValue(name=node.name.value, description=_description(node))
        for directive in node.directives or ():
            if not self._known(directive):
                continue
            canonical = self.names.canonical(directive)
            self._note(value, directive, canonical, directive_args(directive))
            if canonical == "inaccessible":
                value.inaccessible = True
            elif canonical == "tag":
                value.tags.append(str(directive_args(directive).get("name", "")))
            elif directive.name.value == "deprecated":
                reason = directive_args(directive).get("reason", "No longer supported")
                value.deprecated = str(reason)
        return value

    def _field(self, node: FieldDefinitionNode | InputValueDefinitionNode, owner: TypeDef) -> Field:
        fld = Field(
            name=node.name.value,
            type=_print_type(node.type, self.rename),
            description=_description(node),
        )
        if isinstance(node, InputValueDefinitionNode):
            fld.default = node.default_value
        else:
            fld.args = {arg.name.value: self._argument(arg) for arg in node.arguments or ()}
        for directive in node.directives or ():
            if not self._known(directive):
                continue
            canonical = self.names.canonical(directive)
            args = directive_args(directive)
            self._note(fld, directive, canonical, args)
            if canonical == "external":
                fld.external = True
            elif canonical == "shareable":
                fld.shareable = True
            elif canonical == "inaccessible":
                fld.inaccessible = True
            elif canonical == "requires":
                fld.requires = str(args.get("fields", ""))
            elif canonical == "provides":
                fld.provides = str(args.get("fields", ""))
            elif canonical == "override":
                fld.override = str(args.get("from", ""))
                label = args.get("label")
                if label is not None and self.names.version < (2, 7):
                    self.issues.add(
                        "INVALID_GRAPHQL",
                        f'[{self.subgraph.name}] Unknown argument "label" on directive '
                        f'"@{directive.name.value}".',
                        subgraphs=[self.subgraph.name],
                    )
                    label = None
                fld.override_label = None if label is None else str(label)
            elif canonical == "tag":
                fld.tags.append(str(args.get("name", "")))
            elif canonical in SPEC_DIRECTIVES:
                pass
            elif canonical in UNSUPPORTED:
                self._unsupported(canonical, f"{owner.name}.{fld.name}")
            elif directive.name.value == "deprecated":
                fld.deprecated = str(args.get("reason", "No longer supported"))
            elif canonical is None and directive.name.value not in BUILTIN_DIRECTIVES:
                fld.composed.append(directive)
        return fld

    def _fed1_upgrade(self, typedef: TypeDef) -> None:
        """Federation 1 had no @shareable: every field may be shared. `@external` on a key
        field of a type extension only restated the key, so it is not external."""
        if typedef.kind is not Kind.OBJECT:
            return
        for fld in typedef.fields.values():
            fld.shareable = True
        self._unexternal_keys(typedef)

    @staticmethod
    def _unexternal_keys(typedef: TypeDef) -> None:
        key_fields = {
            name for key in typedef.keys for name in re.findall(r"[_A-Za-z]\w*", key.fields)
        }
        for fld in typedef.fields.values():
            if fld.external and fld.name in key_fields:
                fld.external = False
