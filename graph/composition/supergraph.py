"""The composed supergraph as plain data, before it is printed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql.language import ConstValueNode, DirectiveNode

from graph.composition.model import Argument, DirectiveDef, Kind


@dataclass
class JoinType:
    graph: str
    key: str | None = None
    extension: bool = False
    resolvable: bool = True
    is_interface_object: bool = False
    resolvable_explicit: bool = False


@dataclass
class JoinField:
    """One `@join__field`; `graph=None` prints the bare form used for fields that an
    `@interfaceObject` adds to the implementations of an interface."""

    graph: str | None
    requires: str | None = None
    provides: str | None = None
    type: str | None = None
    external: bool = False
    override: str | None = None
    used_overridden: bool = False
    # progressive @override (federation v2.7): on the field of the subgraph that takes it
    # over (with `override`) and on the one it is taken from
    override_label: str | None = None
    # @fromContext arguments (federation v2.8): (context, name, type, selection) each
    context_arguments: list[tuple[str, str, str, str]] = field(default_factory=list)


@dataclass
class MergedField:
    name: str
    type: str
    args: dict[str, Argument] = field(default_factory=dict)
    description: str | None = None
    default: ConstValueNode | None = None
    deprecated: str | None = None
    inaccessible: bool = False
    tags: list[str] = field(default_factory=list)
    joins: list[JoinField] = field(default_factory=list)
    composed: list[DirectiveNode] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    spec: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Every application of each spec directive, in source order (merged into `spec` last,
    # after interfaces got the requirements of their implementations).
    spec_sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class MergedValue:
    name: str
    description: str | None = None
    deprecated: str | None = None
    inaccessible: bool = False
    tags: list[str] = field(default_factory=list)
    graphs: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)


@dataclass
class MergedType:
    name: str
    kind: Kind
    description: str | None = None
    join_types: list[JoinType] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)
    implements: list[tuple[str, str]] = field(default_factory=list)
    fields: dict[str, MergedField] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)
    member_joins: list[tuple[str, str]] = field(default_factory=list)
    values: dict[str, MergedValue] = field(default_factory=dict)
    inaccessible: bool = False
    tags: list[str] = field(default_factory=list)
    specified_by: str | None = None
    composed: list[DirectiveNode] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    spec: dict[str, dict[str, Any]] = field(default_factory=dict)
    spec_sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    contexts: list[str] = field(default_factory=list)  # "<subgraph>__<name>" (@context)


@dataclass
class GraphEntry:
    enum: str
    name: str
    url: str


@dataclass
class Supergraph:
    graphs: list[GraphEntry]
    types: dict[str, MergedType]
    roots: dict[str, str]
    directives: list[DirectiveDef] = field(default_factory=list)
    composed_links: list[tuple[str, list[str]]] = field(default_factory=list)
    join_version: str = "0.3"
    # Features (tag, inaccessible, authenticated, ...) in the order composition met them.
    feature_order: list[str] = field(default_factory=list)
    # Spec directive (canonical) -> its name in the supergraph, for those applied anywhere.
    spec_names: dict[str, str] = field(default_factory=dict)

    @property
    def uses_inaccessible(self) -> bool:
        return any(_walk_inaccessible(t) for t in self.types.values())

    @property
    def uses_tag(self) -> bool:
        return any(_walk_tags(t) for t in self.types.values())


def _walk_inaccessible(t: MergedType) -> bool:
    if t.inaccessible:
        return True
    for f in t.fields.values():
        if f.inaccessible or any(a.inaccessible for a in f.args.values()):
            return True
    return any(v.inaccessible for v in t.values.values())


def _walk_tags(t: MergedType) -> bool:
    if t.tags:
        return True
    for f in t.fields.values():
        if f.tags or any(a.tags for a in f.args.values()):
            return True
    return any(v.tags for v in t.values.values())
