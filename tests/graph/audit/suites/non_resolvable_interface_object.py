"""non-resolvable-interface-object: @interfaceObject types with non-resolvable keys."""

from tests.graph.audit.suites import link
from tests.graph.fixtures.executable import SubgraphDef

PRODUCTS = [{"__typename": "Bread", "id": "p1", "name": "Bread"}]


def _fail(message: str):
    def resolve(_k: dict) -> None:
        raise ValueError(message)

    return resolve


def _product(k: dict) -> dict | None:
    return next((dict(p) for p in PRODUCTS if p["id"] == k["id"]), None)


SUBGRAPHS = [
    SubgraphDef(
        "a",
        link("key", "interfaceObject")
        + """
        interface Node @key(fields: "id") { id: ID! }
        type Product @key(fields: "id", resolvable: false) @interfaceObject { id: ID! }
        type Query { a: Node product: Product! }
        """,
        {
            "Query": {
                "a": lambda _p: {"__typename": "Node", "id": "n1"},
                "product": lambda _p: {"__typename": "Product", "id": PRODUCTS[0]["id"]},
            },
            "Node": {"__resolveReference": _fail("Not resolvable as it is an interface object")},
        },
    ),
    SubgraphDef(
        "b",
        link("key", "interfaceObject")
        + """
        type Node @key(fields: "id", resolvable: false) @interfaceObject {
          id: ID!
          field: String
        }
        interface Product @key(fields: "id") { id: ID! }
        type Bread implements Product @key(fields: "id") { id: ID! name: String! }
        type Query { b: Node }
        """,
        {
            "Query": {"b": lambda _p: {"__typename": "Node", "id": "n1"}},
            "Node": {"__resolveReference": _fail("Not resolvable"), "field": lambda _p: "foo"},
            "Product": {"__resolveReference": _product},
            "Bread": {"__resolveReference": _product},
        },
    ),
]
