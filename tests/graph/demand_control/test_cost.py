"""Static and actual cost over a supergraph composed from annotated subgraphs. Each expected
figure is worked out by hand from the rules in graph/demand_control/cost.py (Apollo Router's
demand-control model)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse, validate

from graph.composition import Subgraph, compose
from graph.demand_control import CostCalculator, CostError
from graph.supergraph import Supergraph, build_api_schema
from graph.supergraph.features import SpecDirectives

HEADER = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", '
    '"@cost", "@listSize", "@external", "@requires"])\n'
)
POSTS = """
type Query {
  posts(first: Int = 10, after: String): [Post!]!
    @listSize(slicingArguments: ["first"], requireOneSlicingArgument: false)
  page(first: Int): PostPage @listSize(slicingArguments: ["first"], sizedFields: ["items"])
  tags: [String!]!
  recent: [Post!]!
  expensive: Int @cost(weight: 50)
  big: Big
  search(filter: Filter, ids: [ID!] @cost(weight: 1)): [Post!]! @listSize(assumedSize: 5)
  strict(first: Int, last: Int): [Post!]! @listSize(slicingArguments: ["first", "last"])
}
type Mutation { like(id: ID! @cost(weight: 3)): Post }
type Post @key(fields: "id") {
  id: ID!
  title: String
  author: User
  comments(first: Int = 3): [Comment!]!
    @listSize(slicingArguments: ["first"], requireOneSlicingArgument: false)
}
type User @key(fields: "id") { id: ID! name: String }
type Comment { id: ID! text: String }
type PostPage { items: [Post!]! total: Int }
input Filter { text: String @cost(weight: 2) tags: [String!] }
scalar Big @cost(weight: 7)
"""
STATS = """
type User @key(fields: "id") {
  id: ID!
  name: String @external
  score: Int @requires(fields: "name")
}
"""

LIST_SIZE = 20


@pytest.fixture(scope="module")
def calc() -> CostCalculator:
    sdl = compose(
        [
            Subgraph("posts", "http://posts/graphql", HEADER + POSTS),
            Subgraph("stats", "http://stats/graphql", HEADER + STATS),
        ]
    )
    supergraph = Supergraph.from_sdl(sdl)
    api = build_api_schema(supergraph)
    return CostCalculator(api, SpecDirectives.read(supergraph.document), supergraph)


def estimate(calc: CostCalculator, query: str, variables: dict[str, Any] | None = None) -> float:
    doc = parse(query)
    assert not validate(calc.schema, doc), validate(calc.schema, doc)
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    return calc.estimate(doc, op, variables, LIST_SIZE)


def actual(calc: CostCalculator, query: str, data: dict[str, Any]) -> float:
    doc = parse(query)
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    return calc.actual(doc, op, data, {})


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ tags }", 0),  # scalars are free, lists of them too
        ("{ expensive }", 50),  # @cost on the field
        ("{ big }", 7),  # @cost on the scalar it returns
        ("{ page(first: 2) { total } }", 1),  # one object
        # default first: 10 posts, each 1 + author 1
        ("{ posts { id author { name } } }", 10 * (1 + 1)),
        ("{ posts(first: 3) { title } }", 3),
        # 4 posts, each 1 + its 3 comments (the argument's default)
        ("{ posts(first: 4) { comments { text } } }", 4 * (1 + 3)),
        # sizedFields: page's first sizes its items list
        ("{ page(first: 6) { items { id } total } }", 1 + 6),
        # no @listSize: the configured list_size
        ("{ recent { id } }", LIST_SIZE),
        # assumedSize, plus the input object (1) and its priced field (2), plus the priced
        # list (1) and each of its items (1)
        ('{ search(filter: {text: "x", tags: ["a"]}, ids: ["1"]) { id } }', 5 + 3 + 2),
        # a mutation adds 10; the priced argument 3; the returned Post 1
        ("mutation { like(id: 1) { id } }", 10 + 3 + 1),
        # @requires: score also pays for name (0) — its User object is 1 either way
        ("{ posts(first: 2) { author { score } } }", 2 * (1 + 1)),
        ("{ posts(first: 2) { author @skip(if: true) { name } } }", 2),
        ("{ posts(first: 2) { ... on Post { author { id } } } }", 2 * 2),
        ("{ __typename }", 0),
    ],
)
def test_estimates(calc: CostCalculator, query: str, expected: float) -> None:
    assert estimate(calc, query) == expected


def test_variables_size_lists_and_price_arguments(calc: CostCalculator) -> None:
    query = "query($n: Int, $f: Filter) { posts(first: $n) { id } search(filter: $f) { id } }"
    assert estimate(calc, query, {"n": 7, "f": {"text": "a"}}) == 7 + (5 + 1 + 2)
    assert estimate(calc, query, {"n": None}) == 10 + 5  # null: the argument's default


def test_exactly_one_slicing_argument_when_required(calc: CostCalculator) -> None:
    assert estimate(calc, "{ strict(first: 2) { id } }") == 2
    with pytest.raises(CostError, match="exactly one slicing argument"):
        estimate(calc, "{ strict { id } }")
    with pytest.raises(CostError, match="found 2"):
        estimate(calc, "{ strict(first: 2, last: 3) { id } }")
    with pytest.raises(CostError, match="found 0"):
        estimate(calc, "{ page { items { id } } }")


def test_actual_cost_counts_what_came_back(calc: CostCalculator) -> None:
    query = "{ posts(first: 10) { id author { name } } expensive big tags }"
    data = {
        "posts": [{"id": "1", "author": {"name": "a"}}, {"id": "2", "author": None}],
        "expensive": 3,
        "big": None,
        "tags": ["x", "y"],
    }
    # 2 posts + 1 author, expensive's weight, big's weight (even null), tags free
    assert actual(calc, query, data) == 2 + 1 + 50 + 7
    assert actual(calc, query, {}) == 0
    assert estimate(calc, query) == 10 * 2 + 50 + 7


def test_variables_with_one_cost_key_have_one_estimate(calc: CostCalculator) -> None:
    """The demand-control stage keeps one estimate per operation and cost key
    (graph/plugins/demand_control.py): whatever else differs between two requests' variables
    must not change the estimate, and what the key tells apart must be told apart."""
    from graph.plugins.demand_control import cost_key

    query = (
        "query($n: Int, $f: Filter, $ids: [ID!], $t: String)"
        " { posts(first: $n) { id } search(filter: $f, ids: $ids) { title }"
        " other: search(filter: {text: $t}) { id } }"
    )
    op = parse(query).definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    defs = op.variable_definitions
    variable_sets: list[dict[str, Any]] = [
        {},
        {"n": 3},
        {"n": 4},
        {"n": None},
        {"n": 3, "t": "a"},
        {"n": 3, "t": "b"},
        {"f": {"text": "a"}},
        {"f": {"text": "zzz"}},
        {"f": {"text": None}},
        {"f": {"tags": ["a", "b"]}},
        {"f": {"tags": ["c", "d"]}},
        {"f": {"tags": ["a"]}},
        {"f": {"text": "a", "tags": []}},
        {"ids": ["1", "2"]},
        {"ids": ["3", "4"]},
        {"ids": ["1"]},
        {"ids": None},
    ]
    by_key: dict[tuple[Any, ...], float] = {}
    keys = set()
    for variables in variable_sets:
        key = cost_key(defs, variables)
        keys.add(key)
        cost = estimate(calc, query, variables)
        assert by_key.setdefault(key, cost) == cost, variables
    # the values that change the estimate give keys of their own
    assert estimate(calc, query, {"n": 3}) != estimate(calc, query, {"n": 4})
    assert estimate(calc, query, {"ids": ["1"]}) != estimate(calc, query, {"ids": ["1", "2"]})
    assert estimate(calc, query, {"f": {"text": "a"}}) != estimate(calc, query, {"f": {}})
    assert estimate(calc, query, {"t": "a"}) != estimate(calc, query, {"t": None})
    assert len(keys) == 11
