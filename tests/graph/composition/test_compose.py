"""Good compositions: the output is the supergraph Apollo's composition prints for the same
subgraphs (each `cases/*/supergraph.graphql` was produced by @apollo/composition 2.14.1 and is
byte-identical to ours), and our own router loads it."""

from __future__ import annotations

import pytest
from graphql import build_ast_schema, parse

from graph.composition import Subgraph, build_supergraph, compose
from graph.supergraph.api_schema import build_api_schema
from graph.supergraph.model import Supergraph as LoadedSupergraph
from tests.graph.composition.conftest import CASES, load_case

CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASE_NAMES)
def test_composes_like_apollo(case: str) -> None:
    expected = (CASES / case / "supergraph.graphql").read_text()
    assert compose(load_case(case)) == expected


@pytest.mark.parametrize("case", CASE_NAMES)
def test_output_is_valid_sdl_and_loads_in_the_router(case: str) -> None:
    sdl = compose(load_case(case))
    build_ast_schema(parse(sdl))  # a valid GraphQL schema with every directive defined
    loaded = LoadedSupergraph.from_sdl(sdl)
    assert set(loaded.subgraphs) == {s.name for s in load_case(case)}
    api = build_api_schema(loaded)
    assert api.query_type is not None


def test_subgraph_order_does_not_change_the_output() -> None:
    subgraphs = load_case("shop")
    assert compose(subgraphs) == compose(list(reversed(subgraphs)))


def test_shop_join_metadata() -> None:
    supergraph = build_supergraph(load_case("shop"))
    product = supergraph.types["Product"]
    assert [(j.graph, j.key) for j in product.join_types] == [
        ("INVENTORY", "upc"),
        ("PRODUCTS", "upc"),
        ("REVIEWS", "upc"),
    ]
    estimate = product.fields["shippingEstimate"].joins
    assert [(j.graph, j.requires) for j in estimate] == [("INVENTORY", "price weight")]
    weight = product.fields["weight"].joins
    assert [(j.graph, j.external) for j in weight] == [("INVENTORY", True), ("PRODUCTS", False)]
    author = supergraph.types["Review"].fields["author"].joins
    assert [(j.graph, j.provides) for j in author] == [("REVIEWS", "username")]
    # Query exists in every subgraph's schema (each has _entities), so each gets a join__type.
    assert [j.graph for j in supergraph.types["Query"].join_types] == [
        "ACCOUNTS",
        "INVENTORY",
        "PRODUCTS",
        "REVIEWS",
    ]


def test_features_override_interface_object_inaccessible_and_enums() -> None:
    sdl = compose(load_case("features"))
    assert 'pages: Int @join__field(graph: B, override: "a")' in sdl
    assert '@join__type(graph: B, key: "id", isInterfaceObject: true)' in sdl
    # The field an @interfaceObject adds shows up on the implementations with a bare join.
    assert "createdBy: String @join__field\n" in sdl
    assert "GREEN @inaccessible @join__enumValue(graph: A) @join__enumValue(graph: B)" in sdl
    assert '@link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)' in sdl
    assert '@tag(name: "public")' in sdl
    # Input types keep only the fields every subgraph defines.
    assert "extra: String" not in sdl
    assert '@join__type(graph: B, key: "k", extension: true)' in sdl


def test_fed1_subgraphs_are_upgraded() -> None:
    sdl = compose(load_case("fed1"))
    # Federation 1 fields are shareable, and @external on a key field only restated the key.
    assert "  id: ID!\n" in sdl
    assert 'greeting: String @join__field(graph: B, requires: "name")' in sdl


def test_type_differences_get_join_field_type() -> None:
    sdl = compose(load_case("value_types"))
    assert (
        'nick: String @join__field(graph: A, type: "String!") '
        '@join__field(graph: B, type: "String")'
    ) in sdl


def test_renamed_imports_root_types_and_descriptions() -> None:
    sdl = compose(load_case("renamed"))
    assert "type RootQuery" not in sdl and "mutation: Mutation" in sdl
    assert '@join__type(graph: CATALOG, key: "id")' in sdl  # @primaryKey is @key
    assert '"""\nAnything that has a name.\nSecond line of the description.\n"""' in sdl
    assert '@deprecated(reason: "use EUR")' in sdl


def test_service_sdl_machinery_is_dropped() -> None:
    """What `_service { sdl }` of some servers returns: federation types and directive
    definitions included. They must not leak into the supergraph."""
    sdl = """
    schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"]) {
      query: Query
    }
    directive @key(fields: _FieldSet!, resolvable: Boolean = true) repeatable on OBJECT
    directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA
    directive @lower on FIELD
    scalar _FieldSet
    scalar _Any
    scalar link__Import
    type _Service { sdl: String! }
    union _Entity = User
    type Query {
      _service: _Service!
      _entities(representations: [_Any!]!): [_Entity]!
      me: User
    }
    type User @key(fields: "id") { id: ID! }
    """
    out = compose([Subgraph("users", "http://users/graphql", sdl)])
    for leaked in ("_Service", "_Any", "_Entity", "scalar _FieldSet", "_entities", "_service"):
        assert leaked not in out
    # An executable directive defined by every subgraph is kept.
    assert "directive @lower on FIELD" in out
    assert "me: User\n" in out


def test_graph_enum_names_are_sanitised_and_unique() -> None:
    sdl_a = "type Query { a: Int }"
    sdl_b = "type Query { b: Int }"
    out = compose(
        [
            Subgraph("my-users", "http://a/graphql", sdl_a),
            Subgraph("my_users", "http://b/graphql", sdl_b),
        ]
    )
    assert 'MY_USERS @join__graph(name: "my-users", url: "http://a/graphql")' in out
    assert 'MY_USERS_1 @join__graph(name: "my_users", url: "http://b/graphql")' in out
