"""Directives in an operation: at most ``limits.max_directives`` of them (each use counted,
in the whole document), and unknown ones answered with one error that names them all,
before validation (which would answer one error per use: ten unknown directives, ten
errors, each a schema lookup and a message to build)."""

from __future__ import annotations

from graphql import DirectiveNode, DocumentNode, GraphQLError, GraphQLSchema, Visitor, visit

from graph.serving.stage import Check


class _Count(Visitor):
    def __init__(self, known: frozenset[str]) -> None:
        super().__init__()
        self.known = known
        self.count = 0
        self.unknown: dict[str, None] = {}  # in order of first use

    def enter_directive(self, node: DirectiveNode, *_: object) -> None:
        self.count += 1
        name = node.name.value
        if name not in self.known:
            self.unknown.setdefault(name)


class DirectiveCheck:
    def __init__(self, schema: GraphQLSchema, max_directives: int | None) -> None:
        self.known = frozenset(d.name for d in schema.directives)
        self.max_directives = max_directives

    def check(self, document: DocumentNode, operation_name: str | None) -> list[GraphQLError]:
        counter = _Count(self.known)
        visit(document, counter)
        errors: list[GraphQLError] = []
        if self.max_directives is not None and counter.count > self.max_directives:
            errors.append(
                GraphQLError(
                    f"Maximum directives limit exceeded in this document: it has "
                    f"{counter.count}, the router allows {self.max_directives} "
                    "(limits.max_directives).",
                    extensions={
                        "code": "MAX_DIRECTIVES_LIMIT",
                        "limit": self.max_directives,
                        "measured": counter.count,
                    },
                )
            )
        elif counter.unknown:
            names = list(counter.unknown)
            shown = ", ".join(f"@{n}" for n in names[:10])
            more = f" and {len(names) - 10} more" if len(names) > 10 else ""
            errors.append(
                GraphQLError(
                    f"Unknown directive{'s' if len(names) > 1 else ''} {shown}{more}: "
                    "this graph does not define them.",
                    extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
                )
            )
        return errors


def directive_checks(schema: GraphQLSchema | None, max_directives: int | None) -> list[Check]:
    if schema is None:
        return []
    return [DirectiveCheck(schema, max_directives).check]
