"""`compose(subgraphs) -> supergraph SDL`: pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from graph.composition.access import validate_spec_usage
from graph.composition.errors import CompositionError, IssueCollector
from graph.composition.merge import Merger
from graph.composition.model import Subgraph, SubgraphSchema
from graph.composition.printer import print_supergraph
from graph.composition.satisfiability import check_satisfiability
from graph.composition.subgraph import SubgraphReader
from graph.composition.supergraph import Supergraph
from graph.composition.validate import SubgraphValidator, validate_across


def build_supergraph(subgraphs: Iterable[Subgraph]) -> Supergraph:
    """Compose into the supergraph's data model; raises `CompositionError` listing every issue."""
    subs = sorted(subgraphs, key=lambda s: s.name)
    issues = IssueCollector()
    seen: set[str] = set()
    for sub in subs:
        if sub.name in seen:
            issues.add(
                "DUPLICATE_SUBGRAPH_NAME",
                f'Two subgraphs are named "{sub.name}"',
                subgraphs=[sub.name],
            )
        seen.add(sub.name)
    if not subs:
        issues.add("NO_SUBGRAPHS", "There are no subgraphs to compose")
    issues.raise_if_any()
    schemas: list[SubgraphSchema] = []
    for sub in subs:
        schema = SubgraphReader(sub, issues).read()
        if schema is not None:
            schemas.append(schema)
    issues.raise_if_any()
    for schema in schemas:
        SubgraphValidator(schema, issues).validate()
        validate_spec_usage(schema, issues)
    validate_across(schemas, issues)
    issues.raise_if_any()
    supergraph = Merger(schemas, issues).merge()
    issues.raise_if_any()
    check_satisfiability(schemas, supergraph, issues)
    issues.raise_if_any()
    return supergraph


def compose(subgraphs: Iterable[Subgraph]) -> str:
    """Compose subgraph SDLs into a supergraph SDL (join v0.3), as Apollo's and The Guild's
    composition print it. Raises `CompositionError` listing every issue found."""
    return print_supergraph(build_supergraph(subgraphs))


__all__ = ["CompositionError", "Subgraph", "build_supergraph", "compose"]
