"""Query plans for representative operations, snapshot-tested (format_plan output).

Run with UPDATE_SNAPSHOTS=1 to rewrite the snapshots after an intended planner change, then
review the diff.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse, validate

from graph.planning import (
    FetchNode,
    FlattenNode,
    Planner,
    PlanningError,
    QueryPlan,
    SequenceNode,
    format_plan,
    normalize_operation,
)
from graph.supergraph import Supergraph, build_api_schema
from tests.graph.fixtures.subgraphs import supergraph_sdl

SNAPSHOTS = Path(__file__).parent / "snapshots"

OPERATIONS = {
    "single_fetch": "{ me { id name } }",
    "entity_chain": """
        query TopProducts {
          topProducts { name reviews { body author { name } } }
        }""",
    "requires": "{ topProducts { upc shippingEstimate } }",
    "provides": "{ me { reviews { author { username name } } } }",
    "parallel_roots": "{ me { name } topProducts(first: 2) { name inStock } }",
    "mutation_in_order": """
        mutation {
          a: createReview(upc: "p1", body: "x") { id product { name } }
          b: createReview(upc: "p2", body: "y") { id }
        }""",
    "skip_include": """
        query ($withStock: Boolean!, $noReviews: Boolean!) {
          topProducts {
            upc
            inStock @include(if: $withStock)
            ... @skip(if: $noReviews) { reviews { body } }
          }
        }""",
    "abstract_fragments_aliases": """
        query Nodes($first: Int) {
          nodes { __typename ...N }
          top: topProducts(first: $first) { label: name ...N }
        }
        fragment N on Node { id ... on Product { stock: inStock } ... on User { name } }""",
    "typename_only": "{ __typename me { __typename } }",
    # @defer: the deferred fields of an entity go back to its subgraph through its key;
    # a nested @defer waits for the part it is in; a root-level @defer has root fetches.
    "defer_entity_fields": """
        query ($d: Boolean!) {
          topProducts {
            name
            ... @defer(label: "details") {
              price inStock
              reviews { body ... @defer(if: $d) { author { name } } }
            }
          }
          ... @defer { me { name } }
        }""",
    # @stream: the items after the initial count get their entity fetches in the stream's
    # part, a @defer inside the items once per side of the count.
    "stream_items": """
        { users @stream(initialCount: 1) {
            name reviews { body ... @defer { product { name } } } } }""",
}


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    return Supergraph.from_sdl(supergraph_sdl({}))


def plan_for(supergraph: Supergraph, query: str) -> QueryPlan:
    doc = parse(query)
    assert validate(build_api_schema(supergraph), doc) == []
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    frags = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    return Planner(supergraph).plan(normalize_operation(op, frags))


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_plan_snapshot(supergraph: Supergraph, name: str) -> None:
    text = format_plan(plan_for(supergraph, OPERATIONS[name])) + "\n"
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 to write it"
    assert text == path.read_text()


def test_plans_are_frozen_plain_data(supergraph: Supergraph) -> None:
    plan = plan_for(supergraph, OPERATIONS["requires"])
    assert isinstance(plan.node, SequenceNode)
    root, flatten = plan.node.nodes
    assert isinstance(root, FetchNode) and root.subgraph == "products"
    assert isinstance(flatten, FlattenNode) and flatten.path == ("topProducts", "@")
    [target] = flatten.node.entities
    assert [getattr(r, "repr_key", None) for r in target.requires] == ["upc", "price", "weight"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        root.subgraph = "other"  # type: ignore[misc]
    assert plan == plan_for(supergraph, OPERATIONS["requires"])  # deterministic


def test_unsatisfiable_operation_is_a_planning_error() -> None:
    sdl = supergraph_sdl({}).replace(
        "inStock: Boolean @join__field(graph: INVENTORY)",
        "inStock: Boolean @join__field(graph: INVENTORY)\n"
        "  hidden: Int @join__field(graph: ACCOUNTS)",
    )
    with pytest.raises(PlanningError, match="hidden"):
        plan_for(Supergraph.from_sdl(sdl), "{ topProducts { hidden } }")
