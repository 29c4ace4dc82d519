"""Plans for federation features on small hand-written supergraphs: @override,
@interfaceObject, @requires with conflicting arguments, keys reached through another subgraph,
a shared value type split across subgraphs, unions whose members differ per subgraph."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from graph.planning import FetchNode, FlattenNode, QueryPlan, format_plan
from graph.supergraph import Supergraph
from tests.graph.planning.test_plans import plan_for

SNAPSHOTS = Path(__file__).parent / "snapshots"

HEADER = """
schema @link(url: "https://specs.apollo.dev/link/v1.0")
       @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) { query: Query }
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet,
  type: String, external: Boolean, override: String, usedOverridden: Boolean)
  repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!)
  repeatable on OBJECT | INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false,
  resolvable: Boolean! = true, isInterfaceObject: Boolean! = false)
  repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import])
  repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
enum join__Graph {
  A @join__graph(name: "a", url: "http://a")
  B @join__graph(name: "b", url: "http://b")
  C @join__graph(name: "c", url: "http://c")
}
"""

CASES: dict[str, tuple[str, str]] = {
    "override": (
        """
type Query @join__type(graph: A) @join__type(graph: B) { feed: [Post] @join__field(graph: A) }
type Post @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  title: String @join__field(graph: A, usedOverridden: true) @join__field(graph: B, override: "a")
  body: String @join__field(graph: A)
}""",
        "{ feed { body title } }",
    ),
    "interface_object": (
        """
type Query @join__type(graph: A) @join__type(graph: B) {
  accounts: [Account] @join__field(graph: A)
}
interface Account @join__type(graph: A, key: "id")
    @join__type(graph: B, key: "id", isInterfaceObject: true) {
  id: ID!
  name: String @join__field(graph: A)
  credits: Int @join__field(graph: B)
}
type User implements Account @join__implements(graph: A, interface: "Account")
    @join__type(graph: A, key: "id") {
  id: ID!
  name: String
  credits: Int @join__field
}""",
        "{ accounts { name credits ... on User { id } } }",
    ),
    "requires_conflicting_arguments": (
        """
type Query @join__type(graph: A) @join__type(graph: B) {
  products: [Product] @join__field(graph: B)
}
type Product @join__type(graph: A, key: "upc") @join__type(graph: B, key: "upc") {
  upc: String!
  price(currency: String!): Int @join__field(graph: A, external: true) @join__field(graph: B)
  usd: Int @join__field(graph: A, requires: "price(currency: \\"USD\\")")
  eur: Int @join__field(graph: A, requires: "price(currency: \\"EUR\\")")
}""",
        "{ products { usd eur } }",
    ),
    "key_through_another_subgraph": (
        """
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) {
  books: [Book] @join__field(graph: A)
}
type Book @join__type(graph: A, key: "upc") @join__type(graph: B, key: "upc")
    @join__type(graph: B, key: "id") @join__type(graph: C, key: "id") {
  upc: ID! @join__field(graph: A) @join__field(graph: B)
  id: ID! @join__field(graph: B) @join__field(graph: C)
  author: String @join__field(graph: C)
}""",
        "{ books { upc author } }",
    ),
    "shared_value_type_split": (
        """
type Query @join__type(graph: A) @join__type(graph: B) { viewer: Viewer }
type Viewer @join__type(graph: A) @join__type(graph: B) {
  name: String @join__field(graph: A)
  karma: Int @join__field(graph: B)
}""",
        "{ viewer { name karma } }",
    ),
    "union_members_per_subgraph": (
        """
type Query @join__type(graph: A) @join__type(graph: B) { media: [Media] @join__field(graph: A) }
union Media @join__type(graph: A) @join__type(graph: B)
  @join__unionMember(graph: A, member: "Book") @join__unionMember(graph: B, member: "Book")
  @join__unionMember(graph: B, member: "Movie") = Book | Movie
type Book @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  title: String @join__field(graph: B)
}
type Movie @join__type(graph: B, key: "id") { id: ID! title: String }
""",
        "{ media { ... on Book { title } ... on Movie { title } } }",
    ),
}


def plan_case(name: str) -> QueryPlan:
    body, query = CASES[name]
    return plan_for(Supergraph.from_sdl(HEADER + body), query)


@pytest.mark.parametrize("name", sorted(CASES))
def test_feature_plan_snapshot(name: str) -> None:
    text = format_plan(plan_case(name)) + "\n"
    path = SNAPSHOTS / f"feature_{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 to write it"
    assert text == path.read_text()


def test_override_fetches_the_field_from_its_new_owner() -> None:
    fetches = plan_case("override").fetches()
    assert [f.subgraph for f in fetches] == ["a", "b"]
    assert "title" not in fetches[0].operation and "title" in fetches[1].operation


def test_interface_object_is_fetched_by_interface_typename() -> None:
    [_, flatten] = plan_case("interface_object").node.nodes  # type: ignore[union-attr]
    assert isinstance(flatten, FlattenNode) and flatten.node.subgraph == "b"
    [target] = flatten.node.entities
    assert target.type_name == "Account" and "User" in target.runtime_types


def test_conflicting_requires_use_separate_fetches() -> None:
    fetches = plan_case("requires_conflicting_arguments").fetches()
    assert [f.subgraph for f in fetches] == ["b", "a", "a"]
    root = fetches[0].operation
    assert "_fed_price_" in root and '(currency: "USD")' in root and '(currency: "EUR")' in root


def test_key_reached_through_another_subgraph() -> None:
    assert [f.subgraph for f in plan_case("key_through_another_subgraph").fetches()] == [
        "a",
        "b",
        "c",
    ]


def test_shared_value_type_is_split_across_subgraphs() -> None:
    fetches = plan_case("shared_value_type_split").fetches()
    assert sorted(f.subgraph for f in fetches) == ["a", "b"]
    assert all(isinstance(f, FetchNode) and not f.entities for f in fetches)


def test_union_member_unknown_to_a_subgraph_is_not_asked_there() -> None:
    root, *_ = plan_case("union_members_per_subgraph").fetches()
    assert "Movie" not in root.operation
