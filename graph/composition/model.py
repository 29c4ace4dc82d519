"""Plain data for one subgraph's schema, as composition sees it (federation machinery removed)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from graphql.language import ConstValueNode, DirectiveNode

_WRAPPERS = re.compile(r"[\[\]!]")


class Kind(StrEnum):
    OBJECT = "Object Type"
    INTERFACE = "Interface Type"
    UNION = "Union Type"
    ENUM = "Enum Type"
    INPUT = "Input Object Type"
    SCALAR = "Scalar Type"


def base_type(type_ref: str) -> str:
    """`[User!]!` -> `User`."""
    return _WRAPPERS.sub("", type_ref)


@dataclass(frozen=True)
class Subgraph:
    """A subgraph as composition's input: its name, routing URL and SDL."""

    name: str
    url: str
    sdl: str


@dataclass
class Argument:
    name: str
    type: str
    default: ConstValueNode | None = None
    description: str | None = None
    inaccessible: bool = False
    tags: list[str] = field(default_factory=list)
    deprecated: str | None = None
    # Keys of the directives composition merges, in the order the source applies them:
    # "tag", "deprecated", "spec:<cost|listSize|authenticated|...>", "custom:<name>".
    order: list[str] = field(default_factory=list)
    # Spec directives (authenticated, requiresScopes, policy, cost, listSize) -> arguments.
    spec: dict[str, dict[str, Any]] = field(default_factory=dict)
    # @fromContext(field: "$context { selection }"): the argument's value comes from the
    # context set by an enclosing object (federation v2.8); not in the supergraph's field
    from_context: str | None = None


@dataclass
class Field:
    name: str
    type: str
    args: dict[str, Argument] = field(default_factory=dict)
    description: str | None = None
    default: ConstValueNode | None = None  # input fields only
    external: bool = False
    shareable: bool = False
    inaccessible: bool = False
    requires: str | None = None
    provides: str | None = None
    override: str | None = None
    override_label: str | None = None
    tags: list[str] = field(default_factory=list)
    deprecated: str | None = None
    composed: list[DirectiveNode] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    spec: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class EnumValue:
    name: str
    description: str | None = None
    inaccessible: bool = False
    tags: list[str] = field(default_factory=list)
    deprecated: str | None = None
    order: list[str] = field(default_factory=list)
    spec: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Key:
    fields: str
    resolvable: bool = True
    resolvable_explicit: bool = False


@dataclass
class TypeDef:
    name: str
    kind: Kind
    description: str | None = None
    fields: dict[str, Field] = field(default_factory=dict)
    keys: list[Key] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    values: dict[str, EnumValue] = field(default_factory=dict)
    shareable: bool = False
    inaccessible: bool = False
    interface_object: bool = False
    extension: bool = False
    extends_directive: bool = False
    tags: list[str] = field(default_factory=list)
    specified_by: str | None = None
    composed: list[DirectiveNode] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    spec: dict[str, dict[str, Any]] = field(default_factory=dict)
    contexts: list[str] = field(default_factory=list)  # @context(name:) (federation v2.8)

    @property
    def resolvable_keys(self) -> list[Key]:
        return [key for key in self.keys if key.resolvable]


@dataclass
class DirectiveDef:
    """A directive definition kept for the supergraph (executable or @composeDirective)."""

    name: str
    args: dict[str, Argument]
    locations: list[str]
    repeatable: bool
    description: str | None = None


@dataclass
class SubgraphSchema:
    name: str
    url: str
    fed2: bool
    version: tuple[int, int] = (1, 0)
    types: dict[str, TypeDef] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)  # operation -> type name
    directives: dict[str, DirectiveDef] = field(default_factory=dict)
    composed_links: list[tuple[str, list[str]]] = field(default_factory=list)
    # Federation directives (canonical names) applied somewhere in this subgraph, and the
    # name this subgraph uses for each spec directive (an import alias, `federation__cost`).
    applied: set[str] = field(default_factory=set)
    spec_names: dict[str, str] = field(default_factory=dict)
