"""Loading a supergraph: the join model and the API schema."""

from __future__ import annotations

import pytest
from graphql import print_schema

from graph.supergraph import Supergraph, SupergraphError, build_api_schema
from tests.graph.fixtures.subgraphs import supergraph_sdl


@pytest.fixture(scope="module")
def sg() -> Supergraph:
    return Supergraph.from_sdl(supergraph_sdl({"accounts": "http://a.example/graphql"}))


def test_subgraphs_and_urls(sg: Supergraph) -> None:
    assert list(sg.subgraphs) == ["accounts", "inventory", "products", "reviews"]
    assert sg.url_of("accounts") == "http://a.example/graphql"
    assert sg.root_types["mutation"] == "Mutation"


def test_join_model(sg: Supergraph) -> None:
    product = sg.types["Product"]
    assert product.keys_in("inventory") == ["upc"]
    assert set(product.graphs) == {"inventory", "products", "reviews"}
    estimate = product.fields["shippingEstimate"]
    assert estimate.resolvers == {"inventory": "Product"}
    assert estimate.by_graph["inventory"].requires == "price weight"
    price = product.fields["price"]
    assert price.resolvers == {"products": "Product"}  # external in inventory
    assert price.external_in == {"inventory"}
    upc = product.fields["upc"]
    assert set(upc.resolvers) == {"inventory", "products", "reviews"}  # no join__field: all
    author = sg.types["Review"].fields["author"]
    assert author.by_graph["reviews"].provides == "username"
    assert sg.possible_types("Node") == ["Product", "User"]
    assert sg.possible_types_in("Node", "products") == ["Product"]


def test_api_schema_drops_machinery_and_inaccessible(sg: Supergraph) -> None:
    sdl = print_schema(build_api_schema(sg))
    assert "join__" not in sdl and "link__" not in sdl and "@link" not in sdl
    assert "secret" not in sdl  # @inaccessible field
    assert "shippingEstimate: Int" in sdl
    assert "type Subscription" in sdl


def test_inaccessible_types_values_and_arguments() -> None:
    sdl = (
        supergraph_sdl({}).replace(
            "  secret: String @join__field(graph: ACCOUNTS) @inaccessible",
            "  secret(level: Level @inaccessible): Level @join__field(graph: ACCOUNTS)\n"
            "  hidden: Hidden @join__field(graph: ACCOUNTS) @inaccessible",
        )
        + """
enum Level @join__type(graph: ACCOUNTS) {
  LOW @join__enumValue(graph: ACCOUNTS)
  TOP @join__enumValue(graph: ACCOUNTS) @inaccessible
}
type Hidden @join__type(graph: ACCOUNTS) @inaccessible { id: ID }
"""
    )
    api = print_schema(build_api_schema(Supergraph.from_sdl(sdl)))
    assert "secret: Level" in api and "level:" not in api
    assert "LOW" in api and "TOP" not in api
    assert "Hidden" not in api and "hidden" not in api


@pytest.mark.parametrize("sdl", ["type Query {", "type Query { a: Int }"])
def test_bad_supergraphs(sdl: str) -> None:
    with pytest.raises(SupergraphError):
        Supergraph.from_sdl(sdl)
