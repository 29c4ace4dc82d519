"""Execution against real HTTP subgraphs: batching, @requires, @provides, mutations."""

from __future__ import annotations

from typing import Any

from graph.execution.gateway import Gateway
from tests.graph.fixtures.subgraphs import PRODUCTS, REVIEWS, USERS, SubgraphServer


async def run(
    gw: Gateway, query: str, variables: dict[str, Any] | None = None, name: str | None = None
) -> dict[str, Any]:
    return await gw.execute(gw.prepare(query, name), variables)


async def test_entity_representations_are_batched_and_deduplicated_per_fetch(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    result = await run(
        gateway,
        """
      { topProducts { upc name reviews { body author { name } } } }
    """,
    )
    assert "errors" not in result
    products = result["data"]["topProducts"]
    assert [p["upc"] for p in products] == list(PRODUCTS)
    by_product = {p["upc"]: [r["body"] for r in p["reviews"]] for p in products}
    for r in REVIEWS.values():
        assert r["body"] in by_product[r["product"]]
    authors = {r["author"]["name"] for p in products for r in p["reviews"]}
    assert authors == {u["name"] for u in USERS.values()}
    # One _entities fetch to reviews carrying all five products ...
    assert len(servers["reviews"].calls) == 1
    [reps] = servers["reviews"].entity_calls()
    assert sorted(r["upc"] for r in reps) == sorted(PRODUCTS)
    # ... and one to accounts with each of the ten reviews' two authors once.
    [user_reps] = servers["accounts"].entity_calls()
    assert sorted(r["id"] for r in user_reps) == ["u1", "u2"]
    assert len(servers["accounts"].calls) == 1
    assert servers["inventory"].calls == []


async def test_requires_sends_required_fields_in_representations(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    result = await run(gateway, "{ topProducts(first: 2) { upc shippingEstimate inStock } }")
    assert result == {
        "data": {
            "topProducts": [
                {"upc": "p1", "shippingEstimate": 1, "inStock": True},
                {"upc": "p2", "shippingEstimate": 4, "inStock": False},
            ]
        }
    }
    [reps] = servers["inventory"].entity_calls()
    assert reps == [
        {"__typename": "Product", "upc": "p1", "price": 10, "weight": 1},
        {"__typename": "Product", "upc": "p2", "price": 20, "weight": 2},
    ]
    # price and weight were fetched for the representation, not returned to the client.
    assert "price" not in result["data"]["topProducts"][0]


async def test_provides_avoids_a_fetch(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    result = await run(gateway, "{ me { reviews { author { username } } } }")
    assert "errors" not in result
    assert {r["author"]["username"] for r in result["data"]["me"]["reviews"]} == {"ada"}
    # username came from reviews (@provides): accounts saw only the root `me` fetch.
    assert len(servers["accounts"].calls) == 1
    assert servers["accounts"].entity_calls() == []


async def test_aliases_fragments_variables_and_typename(gateway: Gateway) -> None:
    query = """
      query Q($n: Int!, $withStock: Boolean!) {
        first: topProducts(first: $n) { ...P stock: inStock @include(if: $withStock) }
        again: topProducts(first: 1) { label: name __typename }
      }
      fragment P on Product { upc title: name }
    """
    result = await run(gateway, query, {"n": 2, "withStock": False})
    assert result == {
        "data": {
            "first": [{"upc": "p1", "title": "Product 1"}, {"upc": "p2", "title": "Product 2"}],
            "again": [{"label": "Product 1", "__typename": "Product"}],
        }
    }
    result = await run(gateway, query, {"n": 1, "withStock": True})
    assert result["data"]["first"] == [{"upc": "p1", "title": "Product 1", "stock": True}]


async def test_skipped_entity_fetch_is_not_sent(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    query = "query ($s: Boolean!) { topProducts { upc inStock @skip(if: $s) } }"
    result = await run(gateway, query, {"s": True})
    assert result == {"data": {"topProducts": [{"upc": u} for u in PRODUCTS]}}
    assert servers["inventory"].calls == []


async def test_abstract_types(gateway: Gateway) -> None:
    result = await run(
        gateway,
        """
      { nodes { __typename id ... on Product { name inStock } ... on User { name } } }
    """,
    )
    assert result == {
        "data": {
            "nodes": [
                {"__typename": "Product", "id": "product-p1", "name": "Product 1", "inStock": True},
                {
                    "__typename": "Product",
                    "id": "product-p2",
                    "name": "Product 2",
                    "inStock": False,
                },
            ]
        }
    }


async def test_mutations_run_in_order(gateway: Gateway, servers: dict[str, SubgraphServer]) -> None:
    result = await run(
        gateway,
        """
      mutation {
        a: createReview(upc: "p1", body: "first") { id body product { name } }
        b: createReview(upc: "p2", body: "second") { id body author { name } }
      }
    """,
    )
    assert "errors" not in result
    assert result["data"]["a"]["body"] == "first"
    assert result["data"]["a"]["product"] == {"name": "Product 1"}
    assert result["data"]["b"]["author"] == {"name": "Ada Lovelace"}
    bodies = [c["query"] for c in servers["reviews"].calls]
    assert len(bodies) == 1 and bodies[0].index('"first"') < bodies[0].index('"second"')
    first, second = result["data"]["a"]["id"], result["data"]["b"]["id"]
    assert int(first[3:]) < int(second[3:])


async def test_introspection_is_answered_by_the_router(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    result = await run(
        gateway,
        """
      { __type(name: "Query") { fields { name } } me { __typename } }
    """,
    )
    names = {f["name"] for f in result["data"]["__type"]["fields"]}
    assert "secret" not in names  # @inaccessible
    assert {"me", "users", "topProducts", "nodes"} <= names
    assert "_entities" not in names
    assert result["data"]["me"] == {"__typename": "User"}


async def test_subscription_events_go_through_entity_fetches(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    prepared = gateway.prepare(
        """
      subscription ($upc: String!) {
        reviewAdded(upc: $upc) { body product { name } author { name } }
      }
    """,
        None,
    )
    assert prepared.operation_type == "subscription"
    events = [e async for e in gateway.subscribe(prepared, {"upc": "p1"})]
    expected = [r for r in REVIEWS.values() if r["product"] == "p1"]
    assert [e["data"]["reviewAdded"]["body"] for e in events] == [r["body"] for r in expected]
    for event, review in zip(events, expected, strict=True):
        added = event["data"]["reviewAdded"]
        assert added["product"] == {"name": "Product 1"}
        assert added["author"] == {"name": USERS[review["author"]]["name"]}
    assert servers["reviews"].calls[0]["query"].startswith("subscription")


async def test_sibling_entity_fetches_share_one_request_across_paths(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    result = await run(
        gateway,
        """
      { nodes { ... on Product { upc inStock } } topProducts(first: 3) { upc inStock } }
    """,
    )
    assert result["data"]["nodes"] == [
        {"upc": "p1", "inStock": True},
        {"upc": "p2", "inStock": False},
    ]
    assert [p["inStock"] for p in result["data"]["topProducts"]] == [True, False, True]
    # One inventory request; p1 and p2 appear under both paths but are sent once.
    [reps] = servers["inventory"].entity_calls()
    assert sorted(r["upc"] for r in reps) == ["p1", "p2", "p3"]


async def test_identical_queries_in_flight_share_one_execution(
    sdl: str, servers: dict[str, SubgraphServer]
) -> None:
    import asyncio

    from graph.execution.gateway import GatewayOptions, SubgraphOptions

    servers["products"].delay = 0.2
    no_subgraph_dedup = SubgraphOptions(deduplicate=False)
    gw = Gateway.from_supergraph_sdl(sdl, GatewayOptions(default=no_subgraph_dedup))
    plain = Gateway.from_supergraph_sdl(
        sdl, GatewayOptions(default=no_subgraph_dedup, deduplicate_requests=False)
    )
    try:
        query = gw.prepare("query ($n: Int) { topProducts(first: $n) { upc } }", None)
        results = await asyncio.gather(
            *(gw.execute(query, {"n": 2}) for _ in range(4)), gw.execute(query, {"n": 1})
        )
        assert [len(r["data"]["topProducts"]) for r in results] == [2, 2, 2, 2, 1]
        assert len(servers["products"].calls) == 2  # four identical requests, one execution
        assert results[0] is not results[1]  # each caller gets its own response dict

        def auth(token: str) -> Any:
            return lambda subgraph: {"authorization": token}

        await asyncio.gather(
            gw.execute(query, {"n": 2}, headers_for=auth("a")),
            gw.execute(query, {"n": 2}, headers_for=auth("b")),
        )
        assert len(servers["products"].calls) == 4  # other credentials: not shared

        def for_accounts(token: str) -> Any:
            return lambda subgraph: {"authorization": token} if subgraph == "accounts" else {}

        assert query.fetched == ("products",)
        await asyncio.gather(
            gw.execute(query, {"n": 2}, headers_for=for_accounts("a")),
            gw.execute(query, {"n": 2}, headers_for=for_accounts("b")),
        )
        # they differ only for a subgraph the plan does not call: shared
        assert len(servers["products"].calls) == 5
        servers["products"].calls.clear()
        other = plain.prepare("{ topProducts { upc } }", None)
        await asyncio.gather(*(plain.execute(other, None) for _ in range(3)))
        assert len(servers["products"].calls) == 3  # switched off
        servers["reviews"].calls.clear()
        mutation = gw.prepare('mutation { createReview(upc: "p1", body: "x") { id } }', None)
        await asyncio.gather(*(gw.execute(mutation, None) for _ in range(2)))
        assert len(servers["reviews"].calls) == 2  # mutations are never shared
    finally:
        await gw.aclose()
        await plain.aclose()
