"""The in-memory model of a Federation 2 supergraph (the `@link` / `join__*` format).

`Supergraph.from_sdl(sdl)` reads what Apollo's and The Guild's composition emit and answers
the questions the planner asks: which subgraph resolves a field, with which keys an entity
can be fetched, which object types a subgraph knows behind an interface or union, what a
`@requires` / `@provides` asks for.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    EnumValueNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListTypeNode,
    ListValueNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ObjectValueNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    StringValueNode,
    TypeNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    ValueNode,
    parse,
)
from graphql.error import GraphQLError

from graph.supergraph.errors import SupergraphError

_OBJECT_NODES = (ObjectTypeDefinitionNode, ObjectTypeExtensionNode)
_INTERFACE_NODES = (InterfaceTypeDefinitionNode, InterfaceTypeExtensionNode)
_UNION_NODES = (UnionTypeDefinitionNode, UnionTypeExtensionNode)
_ENUM_NODES = (EnumTypeDefinitionNode, EnumTypeExtensionNode)
_INPUT_NODES = (InputObjectTypeDefinitionNode, InputObjectTypeExtensionNode)
_SCALAR_NODES = (ScalarTypeDefinitionNode, ScalarTypeExtensionNode)


@dataclass(frozen=True)
class Subgraph:
    """One subgraph: its name in the supergraph, its `join__Graph` enum value and its URL."""

    name: str
    enum_value: str
    url: str


@dataclass(frozen=True)
class JoinType:
    """One `@join__type` of a type: the key it can be fetched by in one subgraph."""

    graph: str
    key: str | None = None
    resolvable: bool = True
    extension: bool = False
    interface_object: bool = False


@dataclass(frozen=True)
class ContextArgument:
    """An argument whose value the router takes from the context `context` (`@context`, set
    by an enclosing object of a type that declares it): the `selection` of that object
    (federation v2.8's `@fromContext`)."""

    context: str
    name: str
    type: str
    selection: str


@dataclass(frozen=True)
class JoinField:
    """One `@join__field` of a field."""

    graph: str | None
    requires: str | None = None
    provides: str | None = None
    type: str | None = None
    external: bool = False
    override: str | None = None
    used_overridden: bool = False
    # progressive @override: the subgraph taking the field over has `override` and the
    # label, the one it is taken from the label only; which of them resolves the field
    # depends on the labels on for an operation (Supergraph.with_labels)
    override_label: str | None = None
    context_arguments: tuple[ContextArgument, ...] = ()


@dataclass
class FieldInfo:
    name: str
    type_node: TypeNode
    named_type: str
    joins: list[JoinField] = field(default_factory=list)
    # graph -> how to reach the field there: the type to put in the `... on X` of an entity
    # fetch (the parent type itself, or the interface for an @interfaceObject subgraph).
    resolvers: dict[str, str] = field(default_factory=dict)
    # graph -> the JoinField of that graph (requires/provides), when there is one.
    by_graph: dict[str, JoinField] = field(default_factory=dict)
    external_in: set[str] = field(default_factory=set)
    parent: str = ""

    @property
    def is_list(self) -> bool:
        return list_depth(self.type_node) > 0


@dataclass
class TypeInfo:
    name: str
    kind: str  # object | interface | union | enum | input | scalar
    joins: list[JoinType] = field(default_factory=list)
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    interfaces: list[str] = field(default_factory=list)
    # graph -> interfaces this type implements there (join__implements)
    implements: dict[str, set[str]] = field(default_factory=dict)
    # graph -> union members there (join__unionMember)
    members: dict[str, set[str]] = field(default_factory=dict)
    all_members: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)  # the @context names it sets

    @property
    def graphs(self) -> list[str]:
        seen: list[str] = []
        for j in self.joins:
            if j.graph not in seen:
                seen.append(j.graph)
        return seen

    @property
    def is_abstract(self) -> bool:
        return self.kind in ("interface", "union")

    def keys_in(self, graph: str) -> list[str]:
        return [j.key for j in self.joins if j.graph == graph and j.key and j.resolvable]

    def is_interface_object_in(self, graph: str) -> bool:
        return any(j.graph == graph and j.interface_object for j in self.joins)


def list_depth(t: TypeNode) -> int:
    depth = 0
    while not hasattr(t, "name") or isinstance(t, NonNullTypeNode | ListTypeNode):
        if isinstance(t, ListTypeNode):
            depth += 1
        t = t.type  # type: ignore[attr-defined]
    return depth


def named_type_of(t: TypeNode) -> str:
    while isinstance(t, NonNullTypeNode | ListTypeNode):
        t = t.type
    return t.name.value  # type: ignore[attr-defined]


def _arg(d: DirectiveNode, name: str) -> ValueNode | None:
    for a in d.arguments or ():
        if a.name.value == name:
            return a.value
    return None


def _str(d: DirectiveNode, name: str) -> str | None:
    v = _arg(d, name)
    if isinstance(v, StringValueNode):
        return v.value
    if isinstance(v, EnumValueNode):
        return v.value
    return None


def _context_arguments(d: DirectiveNode) -> tuple[ContextArgument, ...]:
    value = _arg(d, "contextArguments")
    if not isinstance(value, ListValueNode):
        return ()
    out: list[ContextArgument] = []
    for item in value.values:
        if not isinstance(item, ObjectValueNode):
            continue
        fields = {
            f.name.value: f.value.value for f in item.fields if isinstance(f.value, StringValueNode)
        }
        if {"context", "name", "type", "selection"} <= set(fields):
            out.append(
                ContextArgument(
                    fields["context"], fields["name"], fields["type"], fields["selection"]
                )
            )
    return tuple(out)


def _bool(d: DirectiveNode, name: str, default: bool = False) -> bool:
    v = _arg(d, name)
    if isinstance(v, BooleanValueNode):
        return v.value
    return default


class Supergraph:
    """A parsed supergraph. Build it with `Supergraph.from_sdl`."""

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.subgraphs: dict[str, Subgraph] = {}
        self.types: dict[str, TypeInfo] = {}
        self.root_types: dict[str, str] = {
            "query": "Query",
            "mutation": "Mutation",
            "subscription": "Subscription",
        }
        self.join_prefix = "join__"
        self.inaccessible = "inaccessible"
        self.context_directive = "context"
        self._possible: dict[str, list[str]] = {}
        self._contexts: dict[str, list[str]] = {}
        # progressive @override: label -> the (type, field) it moves; the labels on here
        self.label_fields: dict[str, set[tuple[str, str]]] = {}
        self.active_labels: frozenset[str] = frozenset()
        self._load()

    @classmethod
    def from_sdl(cls, sdl: str) -> Supergraph:
        try:
            document = parse(sdl, no_location=True)
        except GraphQLError as exc:
            raise SupergraphError(f"the supergraph SDL does not parse: {exc.message}") from exc
        return cls(document)

    # ------------------------------------------------------------------ loading
    def _load(self) -> None:
        defs = self.document.definitions
        self._read_links(defs)
        jp = self.join_prefix
        enum_to_graph: dict[str, str] = {}
        for d in defs:
            if isinstance(d, SchemaDefinitionNode):
                for op in d.operation_types:
                    self.root_types[op.operation.value] = op.type.name.value
            if isinstance(d, _ENUM_NODES) and d.name.value == f"{jp}Graph":
                for v in d.values or ():
                    for dn in v.directives or ():
                        if dn.name.value == f"{jp}graph":
                            name = _str(dn, "name") or v.name.value.lower()
                            url = _str(dn, "url") or ""
                            self.subgraphs[name] = Subgraph(name, v.name.value, url)
                            enum_to_graph[v.name.value] = name
        if not self.subgraphs:
            raise SupergraphError(
                "the supergraph has no join__Graph enum: is it a Federation 2 supergraph?"
            )
        self._enum_to_graph = enum_to_graph

        for d in defs:
            if not hasattr(d, "name") or isinstance(d, SchemaDefinitionNode):
                continue
            name = d.name.value
            if name.startswith(jp) or name.startswith("link__"):
                continue
            kind = self._kind(d)
            if kind is None:
                continue
            info = self.types.get(name) or TypeInfo(name, kind)
            self.types[name] = info
            for dn in d.directives or ():  # type: ignore[attr-defined]
                dname = dn.name.value
                if dname == f"{jp}type":
                    g = self._graph(dn)
                    if g is None:
                        continue
                    info.joins.append(
                        JoinType(
                            graph=g,
                            key=_str(dn, "key"),
                            resolvable=_bool(dn, "resolvable", True),
                            extension=_bool(dn, "extension"),
                            interface_object=_bool(dn, "isInterfaceObject"),
                        )
                    )
                elif dname == f"{jp}implements":
                    g = self._graph(dn)
                    iface = _str(dn, "interface")
                    if g and iface:
                        info.implements.setdefault(g, set()).add(iface)
                elif dname == f"{jp}unionMember":
                    g = self._graph(dn)
                    member = _str(dn, "member")
                    if g and member:
                        info.members.setdefault(g, set()).add(member)
                elif dname == self.context_directive:
                    context = _str(dn, "name")
                    if context:
                        info.contexts.append(context)
            if kind in ("object", "interface"):
                info.interfaces.extend(i.name.value for i in d.interfaces or ())  # type: ignore[attr-defined]
                for fd in d.fields or ():  # type: ignore[attr-defined]
                    fi = FieldInfo(fd.name.value, fd.type, named_type_of(fd.type), parent=name)
                    for dn in fd.directives or ():
                        if dn.name.value == f"{jp}field":
                            gv = _arg(dn, "graph")
                            g = self._graph(dn) if gv is not None else None
                            fi.joins.append(
                                JoinField(
                                    graph=g,
                                    requires=_str(dn, "requires"),
                                    provides=_str(dn, "provides"),
                                    type=_str(dn, "type"),
                                    external=_bool(dn, "external"),
                                    override=_str(dn, "override"),
                                    used_overridden=_bool(dn, "usedOverridden"),
                                    override_label=_str(dn, "overrideLabel"),
                                    context_arguments=_context_arguments(dn),
                                )
                            )
                    info.fields[fd.name.value] = fi
            if kind == "union":
                info.all_members.extend(t.name.value for t in d.types or ())  # type: ignore[attr-defined]
        self._resolve_fields()
        self._compute_possible()

    def _read_links(self, defs: object) -> None:
        for d in self.document.definitions:
            if not isinstance(d, SchemaDefinitionNode):
                continue
            for dn in d.directives or ():
                if dn.name.value != "link":
                    continue
                url = _str(dn, "url") or ""
                alias = _str(dn, "as")
                if "/join/" in url and alias:
                    self.join_prefix = f"{alias}__"
                if "/inaccessible/" in url:
                    self.inaccessible = alias or "inaccessible"
                if "/context/" in url and alias:
                    self.context_directive = alias

    @staticmethod
    def _kind(d: object) -> str | None:
        if isinstance(d, _OBJECT_NODES):
            return "object"
        if isinstance(d, _INTERFACE_NODES):
            return "interface"
        if isinstance(d, _UNION_NODES):
            return "union"
        if isinstance(d, _ENUM_NODES):
            return "enum"
        if isinstance(d, _INPUT_NODES):
            return "input"
        if isinstance(d, _SCALAR_NODES):
            return "scalar"
        return None

    def _graph(self, dn: DirectiveNode) -> str | None:
        v = _arg(dn, "graph")
        if isinstance(v, EnumValueNode):
            return self._enum_to_graph.get(v.value)
        return None

    def _resolve_fields(self) -> None:
        for t in self.types.values():
            if t.kind not in ("object", "interface"):
                continue
            for f in t.fields.values():
                self._resolve_field(t, f)
                for j in f.joins:
                    if j.override_label is not None:
                        self.label_fields.setdefault(j.override_label, set()).add((t.name, f.name))

    def _resolve_field(self, t: TypeInfo, f: FieldInfo) -> None:
        """Which subgraphs resolve `f` (with the labels on in `active_labels`)."""
        with_graph = [j for j in f.joins if j.graph is not None]
        for j in with_graph:
            assert j.graph is not None
            f.by_graph[j.graph] = j
            if j.external:
                f.external_in.add(j.graph)
            elif j.override_label is not None:
                # progressive @override: the subgraph taking the field over resolves it
                # while its label is on, the one it is taken from while it is off
                if (j.override_label in self.active_labels) == (j.override is not None):
                    f.resolvers[j.graph] = t.name
            elif not j.used_overridden:
                f.resolvers[j.graph] = t.name
        if not f.joins:
            for g in t.graphs:
                f.resolvers[g] = t.name
        # Fields an object gets from an @interfaceObject: reachable through the interface.
        for t in self.types.values():
            if t.kind != "object":
                continue
            for iname in t.interfaces:
                iface = self.types.get(iname)
                if iface is None:
                    continue
                for ij in iface.joins:
                    if not ij.interface_object:
                        continue
                    for fname, ifield in iface.fields.items():
                        of = t.fields.get(fname)
                        if of is None or ij.graph not in ifield.resolvers:
                            continue
                        if ij.graph not in of.resolvers and (
                            not of.joins
                            or any(j.graph is None for j in of.joins)
                            or ij.graph not in {j.graph for j in of.joins}
                        ):
                            of.resolvers[ij.graph] = iname
                            if ij.graph in ifield.by_graph:
                                of.by_graph.setdefault(ij.graph, ifield.by_graph[ij.graph])

    def _compute_possible(self) -> None:
        for t in self.types.values():
            if t.kind == "union":
                self._possible[t.name] = list(t.all_members)
            elif t.kind == "interface":
                self._possible[t.name] = sorted(
                    o.name
                    for o in self.types.values()
                    if o.kind == "object" and t.name in o.interfaces
                )
            elif t.kind == "object":
                self._possible[t.name] = [t.name]

    def with_labels(self, labels: frozenset[str]) -> Supergraph:
        """This supergraph as the planner sees it when the progressive-override labels
        `labels` are on (the fields they move are resolved by the subgraphs taking them
        over); the types and fields no label touches are shared."""
        labels = labels & frozenset(self.label_fields)
        if labels == self.active_labels:
            return self
        view = copy.copy(self)
        view.active_labels = labels
        view.types = dict(self.types)
        moved: dict[str, set[str]] = {}
        for fields in self.label_fields.values():
            for type_name, field_name in fields:
                moved.setdefault(type_name, set()).add(field_name)
        for type_name, field_names in moved.items():
            t = replace(self.types[type_name], fields=dict(self.types[type_name].fields))
            for name in field_names:
                f = replace(t.fields[name], resolvers={}, by_graph={}, external_in=set())
                view._resolve_field(t, f)
                t.fields[name] = f
            view.types[type_name] = t
        return view

    # ------------------------------------------------------------------ questions
    def contexts_of(self, type_name: str) -> list[str]:
        """The contexts an object of `type_name` sets: its own, and those of the interfaces
        it implements and the unions it is a member of."""
        found = self._contexts.get(type_name)
        if found is None:
            t = self.types.get(type_name)
            found = list(t.contexts) if t is not None else []
            for other in self.types.values():
                if (
                    other.contexts
                    and other.is_abstract
                    and type_name != other.name
                    and type_name in self._possible.get(other.name, ())
                ):
                    found += [c for c in other.contexts if c not in found]
            self._contexts[type_name] = found
        return found

    def possible_types(self, type_name: str) -> list[str]:
        return self._possible.get(type_name, [])

    def possible_types_in(self, type_name: str, graph: str) -> list[str]:
        """Object types a subgraph may return for an abstract type (as that subgraph sees it)."""
        t = self.types[type_name]
        if t.kind == "union":
            members = t.members.get(graph)
            if members is None:
                # A union without join__unionMember (older supergraphs): all members in graph.
                return [m for m in t.all_members if graph in self.types[m].graphs]
            return [m for m in t.all_members if m in members]
        if t.kind == "interface":
            out = []
            for o in self._possible.get(type_name, []):
                ot = self.types[o]
                impl = ot.implements.get(graph)
                if (impl is not None and type_name in impl) or (
                    not ot.implements and graph in ot.graphs and graph in t.graphs
                ):
                    out.append(o)
            return out
        return [type_name]

    def is_abstract(self, type_name: str) -> bool:
        t = self.types.get(type_name)
        return t is not None and t.is_abstract

    def type_in_graph(self, type_name: str, graph: str) -> bool:
        t = self.types.get(type_name)
        return t is not None and graph in t.graphs

    def runtime_type_applies(self, object_type: str, condition: str | None) -> bool:
        """Does a fragment with type `condition` apply to an object of type `object_type`?"""
        if condition is None or condition == object_type:
            return True
        return object_type in self._possible.get(condition, ())

    def url_of(self, graph: str) -> str:
        return self.subgraphs[graph].url
