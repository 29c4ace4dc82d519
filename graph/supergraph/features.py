"""The spec directives a supergraph carries for the router itself, read through its `@link`s:
authorization (`@authenticated`, `@requiresScopes`, `@policy`) and demand control (`@cost`,
`@listSize`).

A supergraph names each directive through its link: imported (`import: ["@listSize"]`,
renamed with `{name: "@cost", as: "@weight"}`), or prefixed by the feature's name
(`@cost__listSize`), and the directive named like its feature keeps that name (`@cost`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
)
from graphql.utilities import value_from_ast_untyped

_URL = re.compile(r"^https?://specs\.apollo\.dev/(?P<name>[A-Za-z_][\w-]*)/v\d+\.\d+")

# Feature name -> the directives it defines (the first one is named like the feature).
KNOWN_FEATURES: dict[str, tuple[str, ...]] = {
    "link": ("link",),
    "join": (
        "graph",
        "type",
        "field",
        "implements",
        "unionMember",
        "enumValue",
        "directive",
        "owner",
    ),
    "tag": ("tag",),
    "inaccessible": ("inaccessible",),
    "authenticated": ("authenticated",),
    "requiresScopes": ("requiresScopes",),
    "policy": ("policy",),
    "cost": ("cost", "listSize"),
    "context": ("context", "fromContext"),
}


@dataclass
class Links:
    """The `@link`s of a supergraph: each known feature's alias and imports."""

    aliases: dict[str, str] = field(default_factory=dict)  # feature -> alias
    imports: dict[tuple[str, str], str] = field(default_factory=dict)  # (feature, dir) -> name

    @classmethod
    def read(cls, document: DocumentNode) -> Links:
        links = cls()
        for definition in document.definitions:
            if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                continue
            for directive in definition.directives or ():
                if directive.name.value != "link":
                    continue
                args = _args(directive)
                match = _URL.match(str(args.get("url") or ""))
                if match is None or match.group("name") not in KNOWN_FEATURES:
                    continue
                feature = match.group("name")
                links.aliases[feature] = str(args.get("as") or feature)
                for item in args.get("import") or ():
                    if isinstance(item, dict):
                        name = str(item.get("name", "")).lstrip("@")
                        alias = str(item.get("as") or name).lstrip("@")
                    else:
                        name = alias = str(item).lstrip("@")
                    links.imports[(feature, name)] = alias
        return links

    def name_of(self, feature: str, directive: str) -> str | None:
        """The directive's name in this supergraph, or None when its feature is not linked."""
        if feature not in self.aliases:
            return None
        imported = self.imports.get((feature, directive))
        if imported is not None:
            return imported
        alias = self.aliases[feature]
        return alias if directive == feature else f"{alias}__{directive}"

    def machinery(self) -> tuple[set[str], tuple[str, ...]]:
        """Directive names and type-name prefixes of every linked known feature."""
        directives: set[str] = set()
        prefixes: list[str] = []
        for feature, alias in self.aliases.items():
            prefixes.append(f"{alias}__")
            for directive in KNOWN_FEATURES[feature]:
                name = self.name_of(feature, directive)
                if name is not None:
                    directives.add(name)
        return directives, tuple(prefixes)


def _args(node: DirectiveNode) -> dict[str, Any]:
    return {a.name.value: value_from_ast_untyped(a.value) for a in node.arguments or ()}


@dataclass(frozen=True)
class Requirement:
    """What reading one element needs: authentication, scopes and policies, each an OR of
    ANDs (`[["a", "b"], ["c"]]`: a and b, or c)."""

    authenticated: bool = False
    scopes: tuple[frozenset[str], ...] | None = None
    policies: tuple[frozenset[str], ...] | None = None

    @property
    def policy_names(self) -> frozenset[str]:
        return frozenset(p for group in self.policies or () for p in group)

    @property
    def scope_names(self) -> frozenset[str]:
        return frozenset(s for group in self.scopes or () for s in group)


@dataclass(frozen=True)
class ListSize:
    """`@listSize`: how many items a list field returns, for the cost estimate."""

    assumed_size: int | None = None
    slicing_arguments: tuple[str, ...] = ()
    sized_fields: tuple[str, ...] = ()
    require_one_slicing_argument: bool = True


@dataclass
class SpecDirectives:
    """Every element of the supergraph that carries one of the spec directives."""

    type_requirements: dict[str, Requirement] = field(default_factory=dict)
    field_requirements: dict[tuple[str, str], Requirement] = field(default_factory=dict)
    type_costs: dict[str, float] = field(default_factory=dict)
    field_costs: dict[tuple[str, str], float] = field(default_factory=dict)
    # (type, field, argument) for arguments; (input type, field, "") for input fields
    input_costs: dict[tuple[str, str, str], float] = field(default_factory=dict)
    list_sizes: dict[tuple[str, str], ListSize] = field(default_factory=dict)

    @property
    def has_authorization(self) -> bool:
        return bool(self.type_requirements or self.field_requirements)

    @classmethod
    def read(cls, document: DocumentNode) -> SpecDirectives:
        links = Links.read(document)
        names = {
            directive: links.name_of(feature, directive)
            for feature, directive in (
                ("authenticated", "authenticated"),
                ("requiresScopes", "requiresScopes"),
                ("policy", "policy"),
                ("cost", "cost"),
                ("cost", "listSize"),
            )
        }
        by_name = {name: d for d, name in names.items() if name is not None}
        out = cls()
        if not by_name:
            return out
        for definition in document.definitions:
            type_name = getattr(getattr(definition, "name", None), "value", None)
            if type_name is None or isinstance(definition, SchemaDefinitionNode):
                continue
            found = _applied(definition, by_name)
            requirement = _requirement(found)
            if requirement is not None:
                out.type_requirements[type_name] = requirement
            if "cost" in found:
                out.type_costs[type_name] = float(found["cost"].get("weight", 0))
            if isinstance(definition, _INPUT_NODES):
                for input_field in definition.fields or ():
                    cost = _applied(input_field, by_name).get("cost")
                    if cost is not None:
                        key = (type_name, input_field.name.value, "")
                        out.input_costs[key] = float(cost["weight"])
                continue
            if not isinstance(definition, _FIELDED_NODES):
                continue
            for f in definition.fields or ():
                coord = (type_name, f.name.value)
                found = _applied(f, by_name)
                requirement = _requirement(found)
                if requirement is not None:
                    out.field_requirements[coord] = requirement
                if "cost" in found:
                    out.field_costs[coord] = float(found["cost"].get("weight", 0))
                if "listSize" in found:
                    out.list_sizes[coord] = _list_size(found["listSize"])
                for a in f.arguments or ():
                    cost = _applied(a, by_name).get("cost")
                    if cost is not None:
                        out.input_costs[(type_name, f.name.value, a.name.value)] = float(
                            cost["weight"]
                        )
        return out


_FIELDED_NODES = (
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
)
_INPUT_NODES = (InputObjectTypeDefinitionNode, InputObjectTypeExtensionNode)


def _applied(node: Any, by_name: dict[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for d in getattr(node, "directives", None) or ():
        canonical = by_name.get(d.name.value)
        if canonical is not None:
            out[canonical] = _args(d)
    return out


def _groups(value: Any) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(str(x) for x in group) for group in value or ())


def _requirement(found: dict[str, dict[str, Any]]) -> Requirement | None:
    if not {"authenticated", "requiresScopes", "policy"} & found.keys():
        return None
    return Requirement(
        authenticated="authenticated" in found,
        scopes=_groups(found["requiresScopes"].get("scopes"))
        if "requiresScopes" in found
        else None,
        policies=_groups(found["policy"].get("policies")) if "policy" in found else None,
    )


def _list_size(args: dict[str, Any]) -> ListSize:
    assumed = args.get("assumedSize")
    require = args.get("requireOneSlicingArgument")
    return ListSize(
        assumed_size=int(assumed) if isinstance(assumed, int) else None,
        slicing_arguments=tuple(str(s) for s in args.get("slicingArguments") or ()),
        sized_fields=tuple(str(s) for s in args.get("sizedFields") or ()),
        require_one_slicing_argument=True if require is None else bool(require),
    )
