"""@interfaceObject end to end: two real subgraphs, one with the real interface and its
implementations, one that extends the interface as an object type."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from graphql import GraphQLSchema

from graph.execution.gateway import Gateway
from tests.graph.fixtures.subgraphs import SubgraphServer
from tests.graph.planning.test_federation_features import HEADER

ACCOUNTS = {"u1": ("User", "Ada"), "a1": ("Admin", "Root")}
CREDITS = {"u1": 10, "a1": 99}

SUPERGRAPH = (
    HEADER
    + """
type Query @join__type(graph: A) @join__type(graph: B) {
  accounts: [Account] @join__field(graph: A)
  topAccount: Account @join__field(graph: B)
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
}
type Admin implements Account @join__implements(graph: A, interface: "Account")
    @join__type(graph: A, key: "id") {
  id: ID!
  name: String
  credits: Int @join__field
}
"""
)


def _account(account_id: str) -> dict[str, Any]:
    typename, name = ACCOUNTS[account_id]
    return {"__typename": typename, "id": account_id, "name": name}


def subgraph_a() -> SubgraphServer:
    sdl = """
    interface Account { id: ID! name: String }
    type User implements Account { id: ID! name: String }
    type Admin implements Account { id: ID! name: String }
    type Query { accounts: [Account] }
    """

    def setup(schema: GraphQLSchema, server: SubgraphServer) -> None:
        schema.query_type.fields["accounts"].resolve = (  # type: ignore[union-attr]
            lambda *_: [_account(i) for i in ACCOUNTS]
        )
        schema.get_type("Account").resolve_type = (  # type: ignore[union-attr]
            lambda obj, *_: obj["__typename"]
        )
        # The interface entity: resolved to its concrete type here.
        server.references["Account"] = lambda rep: _account(rep["id"])
        server.references["User"] = lambda rep: _account(rep["id"])
        server.references["Admin"] = lambda rep: _account(rep["id"])

    return SubgraphServer("a", sdl, ["User", "Admin"], setup)


def subgraph_b() -> SubgraphServer:
    sdl = """
    type Account { id: ID! credits: Int }
    type Query { topAccount: Account }
    """

    def setup(schema: GraphQLSchema, server: SubgraphServer) -> None:
        schema.query_type.fields["topAccount"].resolve = (  # type: ignore[union-attr]
            lambda *_: {"id": "a1", "credits": CREDITS["a1"]}
        )
        server.references["Account"] = lambda rep: {
            "__typename": "Account",
            "id": rep["id"],
            "credits": CREDITS[rep["id"]],
        }

    return SubgraphServer("b", sdl, ["Account"], setup)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, SubgraphServer]]:
    made = {"a": subgraph_a().start(), "b": subgraph_b().start()}
    yield made
    for s in made.values():
        s.stop()


@pytest.fixture
async def gateway(servers: dict[str, SubgraphServer]) -> AsyncIterator[Gateway]:
    for s in servers.values():
        s.reset()
    sdl = SUPERGRAPH.replace("http://a", servers["a"].url).replace("http://b", servers["b"].url)
    gw = Gateway.from_supergraph_sdl(sdl)
    yield gw
    await gw.aclose()


async def test_fields_of_an_interface_object_are_fetched_for_implementations(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    result = await gateway.execute(
        gateway.prepare("{ accounts { __typename name credits } }", None), None
    )
    assert result == {
        "data": {
            "accounts": [
                {"__typename": "User", "name": "Ada", "credits": 10},
                {"__typename": "Admin", "name": "Root", "credits": 99},
            ]
        }
    }
    [reps] = servers["b"].entity_calls()  # one request for both implementations
    assert sorted(reps, key=lambda r: r["id"]) == [
        {"__typename": "Account", "id": "a1"},
        {"__typename": "Account", "id": "u1"},
    ]


async def test_concrete_type_behind_an_interface_object_is_resolved(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    query = "{ topAccount { __typename credits ... on Admin { name } ... on User { id } } }"
    result = await gateway.execute(gateway.prepare(query, None), None)
    assert result == {
        "data": {"topAccount": {"__typename": "Admin", "credits": 99, "name": "Root"}}
    }
    # First the concrete type from the interface entity, then the Admin's fields from an
    # entity fetch on Admin (no User is there: no fetch for User's fields).
    assert servers["a"].entity_calls() == [
        [{"__typename": "Account", "id": "a1"}],
        [{"__typename": "Admin", "id": "a1"}],
    ]
