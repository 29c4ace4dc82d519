"""Regression tests: the nine causes of wrong answers of issue 12, each on the audit suite it
was found in (Python ports under tests/graph/audit/suites), with the answer the other
Federation routers agree on.

Every case runs through the Gateway with the subgraphs in-process, and once more over real
HTTP (`test_repros_over_http`). Every subgraph query the router sent must validate against
that subgraph's schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.graph.audit.suites import subgraphs
from tests.graph.fixtures.federation import FederatedGraph


@dataclass(frozen=True)
class Repro:
    id: str
    suite: str
    query: str
    data: Any
    # Response paths where an error is expected (any other error fails the case).
    error_paths: tuple[tuple[Any, ...], ...] = ()
    # Subgraph -> how many requests the router may send it (unset: not checked).
    requests: dict[str, int] = field(default_factory=dict)


REPROS = [
    # 1. Fields from two subgraphs grouped in a fragment.
    Repro(
        "fragment_split_shared_root",
        "shared-root",
        "{ product { ... on Product { name { id } price { id } } } }",
        {"product": {"name": {"id": "1"}, "price": {"id": "1"}}},
    ),
    Repro(
        "fragment_split_parent_entity_call",
        "parent-entity-call",
        "{ products { category { ... { id details { products } } } } }",
        {
            "products": [
                {"category": {"id": "c1", "details": {"products": 2}}},
                {"category": {"id": "c2", "details": {"products": 1}}},
                {"category": {"id": "c1", "details": {"products": 2}}},
            ]
        },
    ),
    Repro(
        "fragment_split_parent_entity_call_complex",
        "parent-entity-call-complex",
        '{ productFromD(id: "1") { category { ... on Category { details name } } } }',
        {"productFromD": {"category": {"details": "Details for Product#1", "name": "Category#3"}}},
    ),
    Repro(
        "fragment_split_union_intersection",
        "union-intersection",
        "{ viewer { ... on Viewer { song { __typename } bMedia { __typename } } } }",
        {"viewer": {"song": {"__typename": "Song"}, "bMedia": {"__typename": "Movie"}}},
    ),
    # 2. Planning must not depend on sibling order.
    Repro(
        "sibling_order_null_keys",
        "null-keys",
        "{ bookContainers { book { id author { name } } } }",
        {
            "bookContainers": [
                {"book": {"id": "1", "author": {"name": "Alice"}}},
                {"book": {"id": "2", "author": {"name": "Bob"}}},
                {"book": None},
            ]
        },
        error_paths=(("bookContainers", 2, "book", "id"),),
    ),
    Repro(
        "sibling_order_null_keys_reversed",
        "null-keys",
        "{ bookContainers { book { author { name } id } } }",
        {
            "bookContainers": [
                {"book": {"author": {"name": "Alice"}, "id": "1"}},
                {"book": {"author": {"name": "Bob"}, "id": "2"}},
                {"book": None},
            ]
        },
        # Book 3 is unknown to subgraph b, the only way to its `id` and, through that, to its
        # author in c: both values cannot be produced, the first one seen nulls the book.
        error_paths=(("bookContainers", 2, "book", "author"), ("bookContainers", 2, "book", "id")),
    ),
    Repro(
        "sibling_order_complex_entity_call",
        "complex-entity-call",
        "{ topProducts { selected { category { tag } price { price } } } }",
        {"topProducts": {"selected": {"category": {"tag": "t2"}, "price": {"price": 200.0}}}},
    ),
    Repro(
        "sibling_order_complex_entity_call_reversed",
        "complex-entity-call",
        "{ topProducts { selected { price { price } category { tag } } } }",
        {"topProducts": {"selected": {"price": {"price": 200.0}, "category": {"tag": "t2"}}}},
    ),
    # 3. A union in the supergraph that is an object type in the subgraph.
    Repro(
        "union_as_object_in_subgraph",
        "union-intersection",
        "{ book { ... on Book { aTitle } } }",
        {"book": {"aTitle": "A: The Lord of the Rings"}},
    ),
    # 4. Entity fetches for different response paths never share fields.
    Repro(
        "paths_apart_simple_entity_call",
        "simple-entity-call",
        "{ user { id: nickname } user_5: user { nickname id } }",
        {"user": {"id": "user1"}, "user_5": {"nickname": "user1", "id": "1"}},
    ),
    Repro(
        "paths_apart_requires_with_argument",
        "requires-with-argument",
        "{ feed_1: feed { comments(limit: 1) { id } } "
        "feed { comments(limit: 110) { __typename } } }",
        {
            "feed_1": [{"comments": [{"id": "c1"}]}, {"comments": [{"id": "c4"}]}],
            "feed": [
                {"comments": [{"__typename": "Comment"}] * 3},
                {"comments": [{"__typename": "Comment"}] * 3},
            ],
        },
    ),
    Repro(
        "paths_apart_include_skip",
        "include-skip",
        "{ product_1: product { skip } product { neverCalledInclude } }",
        {"product_1": {"skip": True}, "product": None},
        error_paths=(("product", "neverCalledInclude"),),
    ),
    # 5. Missing @requires inputs: a skipped selection changes nothing, no silent null.
    Repro(
        "requires_inputs_simple_requires_provides",
        "simple-requires-provides",
        "{ products_7: products { inStock } products { shippingEstimate } }",
        {
            "products_7": [{"inStock": True}, {"inStock": False}],
            "products": [{"shippingEstimate": 110}, {"shippingEstimate": 440}],
        },
    ),
    Repro(
        "requires_inputs_skipped_copy",
        "requires-requires",
        "{ product @include(if: false) { canAffordWithDiscount } product { isExpensive } }",
        {"product": {"isExpensive": True}},
    ),
    # 6. Client aliases never collide with the planner's key and @requires fields.
    Repro(
        "alias_collision_requires_circular",
        "requires-circular",
        "{ feed { author: id byNovice } }",
        {"feed": [{"author": "p1", "byNovice": True}, {"author": "p2", "byNovice": False}]},
    ),
    Repro(
        "alias_collision_requires_interface",
        "requires-interface",
        "{ a { city id: name } }",
        {"a": {"city": "a1-city", "id": "u1-name"}},
    ),
    Repro(
        "alias_collision_keys_mashup",
        "keys-mashup",
        "{ b { a { id: pId } a { name } } }",
        {"b": {"a": [{"id": "a.1.pId", "name": "a.1"}]}},
    ),
    # ... nor with the planner's own `__typename`: a client alias `__typename` on another
    # field (which validation allows) travels under a private key.
    Repro(
        "alias_typename_requires_interface",
        "requires-interface",
        "{ a { __typename: name t: __typename city } }",
        {"a": {"__typename": "u1-name", "t": "User", "city": "a1-city"}},
    ),
    Repro(
        "alias_typename_union_member",
        "union-intersection",
        "{ book { ... on Book { __typename: aTitle } } }",
        {"book": {"__typename": "A: The Lord of the Rings"}},
    ),
    Repro(
        "alias_typename_error_path",
        "null-keys",
        "{ bookContainers { book { __typename: id author { __typename: name } } } }",
        {
            "bookContainers": [
                {"book": {"__typename": "1", "author": {"__typename": "Alice"}}},
                {"book": {"__typename": "2", "author": {"__typename": "Bob"}}},
                {"book": None},
            ]
        },
        error_paths=(("bookContainers", 2, "book", "__typename"),),
    ),
    # 7. __typename always names an object type.
    Repro(
        "typename_never_an_interface",
        "typename",
        "{ users { __typename ... on Admin { isMain } } }",
        {
            "users": [
                {"__typename": "Admin", "isMain": False},
                {"__typename": "Admin", "isMain": True},
            ]
        },
    ),
    # 8. A shared root field goes to the subgraph that answers the whole selection.
    Repro(
        "shared_root_prefers_provider",
        "provides-on-interface",
        "{ media { animals { __typename } } }",
        {"media": {"animals": [{"__typename": "Dog"}, {"__typename": "Cat"}]}},
    ),
    Repro(
        "repeated_root_fields_planned_together",
        "provides-on-interface",
        "{ media { id } media { animals { id } } }",
        {"media": {"id": "m1", "animals": [{"id": "a1"}, {"id": "a2"}]}},
        requests={"a": 0, "b": 1, "c": 0},
    ),
    # 9. A skipped unsatisfiable field does not fail the operation.
    Repro(
        "skipped_unsatisfiable_field",
        "non-resolvable-interface-object",
        "{ b { id } a @skip(if: true) { field } }",
        {"b": {"id": "n1"}},
    ),
]


def check(graph: FederatedGraph, case: Repro, result: dict[str, Any]) -> None:
    assert "data" in result, result
    assert result["data"] == case.data, result
    paths = sorted(tuple(e.get("path") or ()) for e in result.get("errors", ()))
    assert paths == sorted(case.error_paths), result
    for e in result.get("errors", ()):
        assert e.get("extensions", {}).get("code"), e
    assert graph.invalid_subgraph_queries() == []
    for name, count in case.requests.items():
        assert len(graph.subgraphs[name].calls) == count, (name, graph.subgraphs[name].calls)


@pytest.mark.parametrize("case", REPROS, ids=[r.id for r in REPROS])
async def test_repro(case: Repro) -> None:
    graph = FederatedGraph(subgraphs(case.suite))
    gateway = graph.gateway()
    try:
        first = await graph.run(gateway, case.query)
        check(graph, case, first)
        # The same answer every time (no dependence on which subgraph answers first).
        graph.reset_calls()
        again = await graph.run(gateway, case.query)
        assert again == first
    finally:
        await gateway.aclose()


async def test_repros_over_http() -> None:
    """The same cases through the router's real HTTP client to subgraphs behind uvicorn."""
    by_suite: dict[str, list[Repro]] = {}
    for r in REPROS:
        by_suite.setdefault(r.suite, []).append(r)
    for suite, cases in by_suite.items():
        graph = FederatedGraph(subgraphs(suite))
        async with graph.http_gateway() as gateway:
            for case in cases:
                graph.reset_calls()
                check(graph, case, await graph.run(gateway, case.query))


# Found by the metamorphic checks (tests/graph/audit/test_metamorphic.py), shrunk by hypothesis.
FOUND = [
    Repro(
        # `a` has the Node interface but no implementation: it cannot tell the concrete type,
        # and `... on Node` is not even valid in its `_entities`. Nobody can: an error.
        "typename_under_interface_object_without_implementations",
        "non-resolvable-interface-object",
        "{ b { t: __typename } }",
        {"b": None},
        error_paths=(("b",),),
    ),
    Repro(
        # The same preference for `b` when the selection below is wrapped in fragments.
        "shared_root_prefers_provider_through_fragments",
        "provides-on-interface",
        "{ media { ... { animals { ... { id @skip(if: true) } } } } }",
        {"media": {"animals": [{}, {}]}},
    ),
    Repro(
        # The subgraph of a root field does not depend on the order of the root fields.
        "root_subgraph_independent_of_order",
        "provides-on-interface",
        "{ media { id } x: media { animals { id } } }",
        {"media": {"id": "m1"}, "x": {"animals": [{"id": "a1"}, {"id": "a2"}]}},
        requests={"a": 0, "b": 1, "c": 0},
    ),
]


@pytest.mark.parametrize("case", FOUND, ids=[r.id for r in FOUND])
async def test_found(case: Repro) -> None:
    graph = FederatedGraph(subgraphs(case.suite))
    gateway = graph.gateway()
    try:
        check(graph, case, await graph.run(gateway, case.query))
    finally:
        await gateway.aclose()
