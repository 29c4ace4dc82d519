"""The API schema: the supergraph minus `@inaccessible` elements and the join/link machinery."""

from __future__ import annotations

from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DocumentNode,
    GraphQLSchema,
    NamedTypeNode,
    Node,
    SchemaDefinitionNode,
    build_ast_schema,
    parse,
)
from graphql.error import GraphQLError

from graph.supergraph.errors import SupergraphError
from graph.supergraph.features import Links
from graph.supergraph.model import Supergraph, named_type_of

# Directives that belong to federation machinery and never reach the API schema.
_MACHINERY_DIRECTIVES = {
    "link",
    "tag",
    "authenticated",
    "requiresScopes",
    "policy",
    "cost",
    "listSize",
    "context",
    "fromContext",
}


# The incremental delivery directives (graphql-js 17's definitions, as Apollo Router adds
# @defer to the API schema): the router answers them itself, subgraphs never see them.
INCREMENTAL_DIRECTIVES = {
    "defer": "directive @defer(label: String, if: Boolean! = true) "
    "on FRAGMENT_SPREAD | INLINE_FRAGMENT",
    "stream": "directive @stream(label: String, if: Boolean! = true, initialCount: Int = 0) "
    "on FIELD",
}


def build_api_schema(supergraph: Supergraph, *, incremental: bool = True) -> GraphQLSchema:
    """The API schema; with `incremental`, it has `@defer` and `@stream` (unless the
    supergraph defines directives of those names itself)."""
    jp = supergraph.join_prefix
    inacc = supergraph.inaccessible
    # Every linked spec's directives and types (`@cost__listSize`, `requiresScopes__Scope`,
    # an imported `@listSize` renamed `@size`) belong to the supergraph, not to the API.
    linked_directives, linked_prefixes = Links.read(supergraph.document).machinery()

    def is_machinery_directive(name: str) -> bool:
        return (
            name.startswith(jp)
            or name == inacc
            or name in _MACHINERY_DIRECTIVES
            or name in linked_directives
        )

    def hidden(node: Any) -> bool:
        return any(d.name.value == inacc for d in getattr(node, "directives", None) or ())

    removed_types: set[str] = set()
    for d in supergraph.document.definitions:
        name = getattr(getattr(d, "name", None), "value", None)
        if name is None:
            continue
        if isinstance(d, DirectiveDefinitionNode):
            continue
        if (
            name.startswith(jp)
            or name.startswith("link__")
            or name.startswith(linked_prefixes)
            or hidden(d)
        ):
            removed_types.add(name)

    def strip_directives(node: Any) -> Any:
        ds = getattr(node, "directives", None)
        if not ds:
            return node
        kept = tuple(x for x in ds if not is_machinery_directive(x.name.value))
        return _copy(node, directives=kept)

    def visible_type_ref(t: Any) -> bool:
        return named_type_of(t) not in removed_types

    new_defs: list[Node] = []
    for d in supergraph.document.definitions:
        if isinstance(d, DirectiveDefinitionNode):
            if is_machinery_directive(d.name.value):
                continue
            new_defs.append(d)
            continue
        if isinstance(d, SchemaDefinitionNode):
            ops = tuple(o for o in d.operation_types if o.type.name.value not in removed_types)
            new_defs.append(_copy(d, directives=(), operation_types=ops))
            continue
        name = getattr(getattr(d, "name", None), "value", None)
        if name is None or name in removed_types:
            continue
        changes: dict[str, Any] = {}
        fields = getattr(d, "fields", None)
        if fields is not None:
            kept_fields = []
            for f in fields:
                if hidden(f) or not visible_type_ref(f.type):
                    continue
                f = strip_directives(f)
                args = getattr(f, "arguments", None)
                if args:
                    f = _copy(
                        f,
                        arguments=tuple(
                            strip_directives(a)
                            for a in args
                            if not hidden(a) and visible_type_ref(a.type)
                        ),
                    )
                kept_fields.append(f)
            changes["fields"] = tuple(kept_fields)
        values = getattr(d, "values", None)
        if values is not None:
            changes["values"] = tuple(strip_directives(v) for v in values if not hidden(v))
        members = getattr(d, "types", None)
        if members is not None:
            changes["types"] = tuple(m for m in members if m.name.value not in removed_types)
        interfaces = getattr(d, "interfaces", None)
        if interfaces is not None:
            changes["interfaces"] = tuple(
                i
                for i in interfaces
                if isinstance(i, NamedTypeNode) and i.name.value not in removed_types
            )
        d = _copy(d, **changes)
        new_defs.append(strip_directives(d))
    if incremental:
        defined = {d.name.value for d in new_defs if isinstance(d, DirectiveDefinitionNode)}
        for name, sdl in INCREMENTAL_DIRECTIVES.items():
            if name not in defined:
                new_defs.append(parse(sdl, no_location=True).definitions[0])
    doc = DocumentNode(definitions=tuple(new_defs))
    try:
        return build_ast_schema(doc, assume_valid_sdl=True)
    except (GraphQLError, TypeError) as exc:
        raise SupergraphError(f"cannot build the API schema: {exc}") from exc


def _copy(node: Any, **changes: Any) -> Any:
    kwargs = {k: getattr(node, k) for k in node.keys}
    kwargs.update(changes)
    return type(node)(**kwargs)
