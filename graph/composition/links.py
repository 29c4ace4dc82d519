"""Federation's `@link`: which directive names a subgraph uses for federation's directives
(imports, `as:` renames, the `federation__` prefix), and the names composition treats as
machinery."""

from __future__ import annotations

import re
from typing import Any

from graphql.language import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
)
from graphql.utilities import value_from_ast_untyped

FEDERATION_DIRECTIVES = (
    "key",
    "requires",
    "provides",
    "external",
    "shareable",
    "override",
    "inaccessible",
    "tag",
    "extends",
    "interfaceObject",
    "composeDirective",
    "authenticated",
    "requiresScopes",
    "policy",
    "context",
    "fromContext",
    "cost",
    "listSize",
)
UNSUPPORTED: tuple[str, ...] = ()
# Lowest federation version that defines a directive (those not listed: every 2.x).
MIN_VERSION: dict[str, tuple[int, int]] = {
    "authenticated": (2, 5),
    "requiresScopes": (2, 5),
    "policy": (2, 6),
    "cost": (2, 9),
    "listSize": (2, 9),
    "context": (2, 8),
    "fromContext": (2, 8),
}
BUILTIN_DIRECTIVES = {"skip", "include", "deprecated", "specifiedBy", "oneOf", "defer", "stream"}
MACHINERY_TYPES = {
    "_Service",
    "_Any",
    "_Entity",
    "_FieldSet",
    "FieldSet",
    "link__Import",
    "link__Purpose",
}
EXECUTABLE_LOCATIONS = {
    "QUERY",
    "MUTATION",
    "SUBSCRIPTION",
    "FIELD",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION",
}
DEFAULT_ROOTS = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}
_FED_URL = re.compile(r"specs\.apollo\.dev/federation/v(\d+)\.(\d+)")


def directive_args(node: DirectiveNode) -> dict[str, Any]:
    return {arg.name.value: value_from_ast_untyped(arg.value) for arg in node.arguments}


class LinkNames:
    """Maps the directive names a subgraph uses to federation's canonical names."""

    def __init__(self, doc: DocumentNode) -> None:
        self.fed2 = False
        self.version = (1, 0)
        self.links: list[tuple[str, list[Any]]] = []
        self.to_canonical: dict[str, str] = {name: name for name in FEDERATION_DIRECTIVES}
        prefix = "federation"
        imports: dict[str, str] = {}
        for definition in doc.definitions:
            if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                continue
            for directive in definition.directives:
                if directive.name.value != "link":
                    continue
                args = directive_args(directive)
                url = str(args.get("url", ""))
                match = _FED_URL.search(url)
                if match is None:
                    self.links.append((url, list(args.get("import") or [])))
                    continue
                self.fed2 = int(match.group(1)) >= 2
                self.version = (int(match.group(1)), int(match.group(2)))
                prefix = str(args.get("as") or "federation")
                for item in args.get("import") or []:
                    if isinstance(item, dict):
                        name, alias = str(item.get("name", "")), str(item.get("as") or "")
                        imports[name.lstrip("@")] = (alias or name).lstrip("@")
                    else:
                        imports[str(item).lstrip("@")] = str(item).lstrip("@")
        self.prefix = prefix
        # Imported directives this federation version does not define.
        self.unknown_imports: list[str] = []
        if self.fed2:
            self.to_canonical = {}
            for name in FEDERATION_DIRECTIVES:
                if self.version < MIN_VERSION.get(name, (2, 0)):
                    if name in imports:
                        self.unknown_imports.append(name)
                    continue
                if name in imports:
                    self.to_canonical[imports[name]] = name
                else:
                    self.to_canonical[f"{prefix}__{name}"] = name
        self.local_names = {canonical: local for local, canonical in self.to_canonical.items()}
        self.defined = {
            d.name.value for d in doc.definitions if isinstance(d, DirectiveDefinitionNode)
        }

    def is_known(self, name: str) -> bool:
        return (
            name in self.to_canonical
            or name in self.defined
            or name in BUILTIN_DIRECTIVES
            or name == "link"
        )

    def canonical(self, directive: DirectiveNode) -> str | None:
        return self.to_canonical.get(directive.name.value)

    def is_machinery_type(self, name: str) -> bool:
        return (
            name in MACHINERY_TYPES
            or name.startswith(f"{self.prefix}__")
            or name.startswith("link__")
            or name.startswith("join__")
        )
