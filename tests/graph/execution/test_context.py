"""@context / @fromContext (Federation 2.8) planned and executed.

The subgraphs are those of Apollo's query-planner tests for `@context` (federation's
buildPlan tests: the context set by the same subgraph, by another one, over a list, by an
interface, by a union with type conditions, by `Query`, several entity jumps deep), made
executable: the contextual field answers with the value it was given, so a test sees that each
object got the value of the object above it that set the context. Our composition prints for
them the supergraph Apollo's does (three are golden cases in tests/graph/composition/cases).
"""

from __future__ import annotations

from typing import Any

import pytest

from graph.planning import format_plan
from tests.graph.fixtures.executable import SubgraphDef
from tests.graph.fixtures.federation import FederatedGraph

H = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.8", import: ["@key", '
    '"@context", "@fromContext", "@external"])\n'
)


def _echo(_parent: Any, a: str | None = None) -> str:
    return f"got {a}"


U_REF = {"__resolveReference": lambda ref: {"id": ref["id"]}}
U_B = {**U_REF, "b": lambda u: f"b{u['id']}"}

CASES: dict[str, tuple[list[SubgraphDef], str, Any]] = {
    "same_subgraph": (
        [
            SubgraphDef(
                "Subgraph1",
                H
                + """type Query { t: T! }
                type T @key(fields: "id") @context(name: "context") {
                  id: ID! u: U! prop: String! }
                type U @key(fields: "id") {
                  id: ID! b: String!
                  field(a: String @fromContext(field: "$context { prop }")): String! }""",
                {
                    "Query": {"t": lambda _: {"id": "t1", "prop": "p1", "u": {"id": "u1"}}},
                    "U": {**U_B, "field": _echo},
                },
            ),
            SubgraphDef(
                "Subgraph2",
                H + 'type Query { a: Int! } type U @key(fields: "id") { id: ID! }',
            ),
        ],
        "{ t { u { b field } } }",
        {"t": {"u": {"b": "bu1", "field": "got p1"}}},
    ),
    "different_subgraph": (
        [
            SubgraphDef(
                "Subgraph1",
                H
                + """type Query { t: T! }
                type T @key(fields: "id") @context(name: "context") {
                  id: ID! u: U! prop: String! @external }
                type U @key(fields: "id") {
                  id: ID! field(a: String @fromContext(field: "$context { prop }")): String! }""",
                {
                    "Query": {"t": lambda _: {"id": "t1", "u": {"id": "u1"}}},
                    "U": {**U_REF, "field": _echo},
                },
            ),
            SubgraphDef(
                "Subgraph2",
                H
                + """type Query { a: Int! }
                type T @key(fields: "id") { id: ID! prop: String! }
                type U @key(fields: "id") { id: ID! }""",
                {"T": {"__resolveReference": lambda ref: {"id": ref["id"], "prop": "from 2"}}},
            ),
        ],
        "{ t { u { id field } } }",
        {"t": {"u": {"id": "u1", "field": "got from 2"}}},
    ),
    "list": (
        [
            SubgraphDef(
                "Subgraph1",
                H
                + """type Query { t: [T]! }
                type T @key(fields: "id") @context(name: "context") {
                  id: ID! u: U! prop: String! }
                type U @key(fields: "id") {
                  id: ID! b: String!
                  field(a: String @fromContext(field: "$context { prop }")): String! }""",
                {
                    "Query": {
                        "t": lambda _: [
                            {"id": "t1", "prop": "one", "u": {"id": "u1"}},
                            {"id": "t2", "prop": "two", "u": {"id": "u2"}},
                            {"id": "t3", "prop": "one", "u": {"id": "u3"}},
                            # the same U under two T's: each place gets its own T's value
                            {"id": "t4", "prop": "four", "u": {"id": "u1"}},
                        ]
                    },
                    "U": {**U_B, "field": _echo},
                },
            ),
            SubgraphDef(
                "Subgraph2",
                H + 'type Query { a: Int! } type U @key(fields: "id") { id: ID! }',
            ),
        ],
        "{ t { u { b field } } }",
        {
            "t": [
                {"u": {"b": "bu1", "field": "got one"}},
                {"u": {"b": "bu2", "field": "got two"}},
                {"u": {"b": "bu3", "field": "got one"}},
                {"u": {"b": "bu1", "field": "got four"}},
            ]
        },
    ),
    "interface": (
        [
            SubgraphDef(
                "Subgraph1",
                H
                + """type Query { t: I! }
                interface I @context(name: "context") @key(fields: "id") {
                  id: ID! u: U! prop: String! }
                type A implements I @key(fields: "id") { id: ID! u: U! prop: String! }
                type B implements I @key(fields: "id") { id: ID! u: U! prop: String! }
                type U @key(fields: "id") {
                  id: ID! b: String!
                  field(a: String @fromContext(field: "$context { prop }")): String! }""",
                {
                    "Query": {
                        "t": lambda _: {
                            "__typename": "B",
                            "id": "b1",
                            "prop": "from B",
                            "u": {"id": "u1"},
                        }
                    },
                    "U": {**U_B, "field": _echo},
                },
            ),
            SubgraphDef(
                "Subgraph2",
                H + 'type Query { a: Int! } type U @key(fields: "id") { id: ID! }',
            ),
        ],
        "{ t { u { b field } } }",
        {"t": {"u": {"b": "bu1", "field": "got from B"}}},
    ),
    "union": (
        [
            SubgraphDef(
                "Subgraph1",
                H
                + """type Query { t: T! ts: [T!]! }
                union T @context(name: "context") = A | B
                type A @key(fields: "id") { id: ID! u: U! prop: String! }
                type B @key(fields: "id") { id: ID! u: U! prop: String! }
                type U @key(fields: "id") {
                  id: ID! b: String!
                  field(
                    a: String @fromContext(field: "$context ... on A { prop } ... on B { prop }")
                  ): String! }""",
                {
                    "Query": {
                        "ts": lambda _: [
                            {"__typename": "A", "id": "a1", "prop": "A's", "u": {"id": "u1"}},
                            {"__typename": "B", "id": "b1", "prop": "B's", "u": {"id": "u2"}},
                        ]
                    },
                    "U": {**U_B, "field": _echo},
                },
            ),
            SubgraphDef(
                "Subgraph2",
                H + 'type Query { a: Int! } type U @key(fields: "id") { id: ID! }',
            ),
        ],
        "{ ts { ... on A { u { b field } } ... on B { u { field } } } }",
        {"ts": [{"u": {"b": "bu1", "field": "got A's"}}, {"u": {"field": "got B's"}}]},
    ),
    "top_level_query": (
        [
            SubgraphDef(
                "Subgraph1",
                H
                + """type Query @context(name: "topLevelQuery") { me: User! product: Product }
                type User @key(fields: "id") { id: ID! locale: String! }
                type Product @key(fields: "id") {
                  id: ID!
                  price(
                    locale: String @fromContext(field: "$topLevelQuery { me { locale } }")
                  ): String! }""",
                {
                    "Query": {
                        "me": lambda _: {"id": "me", "locale": "fr-CH"},
                        "product": lambda _: {"id": "p1"},
                    },
                    "Product": {
                        "price": lambda _p, locale=None: f"price in {locale}",
                    },
                },
            ),
            SubgraphDef(
                "Subgraph2",
                H + 'type Query { randomId: ID! } type Product @key(fields: "id") { id: ID! }',
            ),
        ],
        "{ product { price } }",
        {"product": {"price": "price in fr-CH"}},
    ),
    "several_levels_deep": (
        [
            SubgraphDef(
                "Subgraph1",
                H
                + """type Query { t: T! }
                type A @key(fields: "id") { id: ID! b: B! @external }
                type B @key(fields: "id") { id: ID! c: C! }
                type C @key(fields: "id") { id: ID! prop: String! }
                type T @key(fields: "id") @context(name: "context") { id: ID! u: U! a: A! }
                type U @key(fields: "id") {
                  id: ID! b: String!
                  field(
                    a: String @fromContext(field: "$context { a { b { c { prop }}} }")
                  ): String! }""",
                {
                    "Query": {"t": lambda _: {"id": "t1", "u": {"id": "u1"}, "a": {"id": "a1"}}},
                    "B": {"__resolveReference": lambda ref: {"id": ref["id"]}},
                    "C": {"__resolveReference": lambda ref: ref},
                    "U": {**U_B, "field": _echo},
                },
            ),
            SubgraphDef(
                "Subgraph2",
                H
                + """type Query { randomId: ID! }
                type A @key(fields: "id") { id: ID! b: B! }
                type B @key(fields: "id") { id: ID! }""",
                {"A": {"__resolveReference": lambda ref: {"id": ref["id"], "b": {"id": "b7"}}}},
            ),
        ],
        "{ t { u { field } } }",
        {"t": {"u": {"field": "got deep"}}},
    ),
}


def _fix_deep() -> None:
    # Subgraph1 resolves B.c: the context value is several jumps away from T
    defs = CASES["several_levels_deep"][0]
    defs[0].resolvers["B"]["c"] = lambda b: {"id": "c1", "prop": "deep"}  # type: ignore[index]


_fix_deep()


@pytest.mark.parametrize("case", sorted(CASES))
async def test_contextual_arguments_come_from_the_enclosing_object(case: str) -> None:
    defs, query, expected = CASES[case]
    graph = FederatedGraph(defs)
    gateway = graph.gateway()
    try:
        result = await graph.run(gateway, query)
        assert result == {"data": expected}, format_plan(gateway.prepare(query, None).plan)
        assert graph.invalid_subgraph_queries() == []
    finally:
        await gateway.aclose()


async def test_one_request_per_distinct_context_value() -> None:
    defs, query, _ = CASES["list"]
    graph = FederatedGraph(defs)
    gateway = graph.gateway()
    try:
        await graph.run(gateway, query)
        calls = [c for c in graph.subgraphs["Subgraph1"].calls if "_entities" in c["query"]]
        values = sorted(
            v for c in calls for k, v in c["variables"].items() if k.startswith("contextual")
        )
        assert values == ["four", "one", "two"]  # "one" is asked once, for u1 and u3
        plan = format_plan(gateway.prepare(query, None).plan)
        assert "field(a: $contextualArgument_" in plan
        assert "context {" in plan
    finally:
        await gateway.aclose()


async def test_the_argument_is_not_the_clients() -> None:
    defs, _, _ = CASES["same_subgraph"]
    graph = FederatedGraph(defs)
    gateway = graph.gateway()
    try:
        result = await graph.run(gateway, '{ t { u { field(a: "mine") } } }')
        assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "data" not in result
    finally:
        await gateway.aclose()
