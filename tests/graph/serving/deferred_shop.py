"""A small federated shop for the incremental delivery tests: products and inventory answer at
once, reviews' `Product.reviews` waits for a gate the test opens (so a test can hold a
deferred field's fetch for as long as it likes and see what arrives meanwhile).

Executable graphql-core subgraphs (tests/graph/fixtures/executable.py) served over real HTTP
by uvicorn, composed by our composition; the router in front is graph.app.create_app."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from tests.graph.fixtures.executable import SubgraphDef

PRODUCTS = [
    {"id": "1", "name": "Table", "price": 100},
    {"id": "2", "name": "Chair", "price": 40},
    {"id": "3", "name": "Lamp", "price": 25},
]
STOCK = {"1": True, "2": False, "3": True}
# (body, stars): a review without stars breaks `stars: Int!`
REVIEWS: dict[str, list[tuple[str, int | None]]] = {
    "1": [("sturdy", 5), ("heavy", 3)],
    "2": [("comfy", 4)],
    "3": [("bright", None)],
}


class Gate:
    """Holds `Product.reviews` until the test opens it; records when the fetch started and
    when it answered (time.monotonic())."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.waiting = threading.Event()
        self.answered_at: float | None = None

    def reset(self, *, open_: bool = False) -> None:
        self.opened.clear()
        self.waiting.clear()
        self.answered_at = None
        if open_:
            self.opened.set()

    def open(self) -> None:
        self.opened.set()

    async def wait(self) -> None:
        self.waiting.set()
        if not await asyncio.to_thread(self.opened.wait, 60):
            raise RuntimeError("the test never opened the gate")
        self.answered_at = time.monotonic()


GATE = Gate()

_LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
    'import: ["@key", "@shareable"])\n'
)


def _product(ref: dict[str, Any]) -> dict[str, Any] | None:
    return next((dict(p) for p in PRODUCTS if p["id"] == ref["id"]), None)


async def _reviews(product: dict[str, Any]) -> list[dict[str, Any]]:
    await GATE.wait()
    return [
        {"body": body, "stars": stars, "product": {"id": product["id"]}}
        for body, stars in REVIEWS.get(product["id"], [])
    ]


def _fail(_parent: Any) -> Any:
    raise ValueError("inventory is down for this product")


SUBGRAPHS = [
    SubgraphDef(
        "products",
        _LINK
        + """
        type Query {
          products: [Product!]!
          product(id: ID!): Product
        }
        type Product @key(fields: "id") {
          id: ID!
          name: String!
          price: Int!
        }
        """,
        {
            "Query": {
                "products": lambda _: [dict(p) for p in PRODUCTS],
                "product": lambda _, id: _product({"id": id}),
            },
            "Product": {"__resolveReference": _product},
        },
    ),
    SubgraphDef(
        "inventory",
        _LINK
        + """
        type Product @key(fields: "id") {
          id: ID!
          inStock: Boolean!
          warehouse: String
        }
        """,
        {
            "Product": {
                "__resolveReference": lambda ref: {"id": ref["id"]},
                "inStock": lambda p: STOCK[p["id"]],
                "warehouse": _fail,
            }
        },
    ),
    SubgraphDef(
        "reviews",
        _LINK
        + """
        type Product @key(fields: "id") {
          id: ID!
          reviews: [Review!]!
        }
        type Review {
          body: String!
          stars: Int!
          product: Product!
        }
        """,
        {
            "Product": {
                "__resolveReference": lambda ref: {"id": ref["id"]},
                "reviews": _reviews,
            }
        },
    ),
]
