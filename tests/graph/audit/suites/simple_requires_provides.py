"""simple-requires-provides: the classic accounts / products / inventory / reviews graph."""

from tests.graph.audit.suites import link
from tests.graph.fixtures.executable import SubgraphDef

USERS = [
    {"id": "u1", "username": "u-username-1", "name": "u-name-1"},
    {"id": "u2", "username": "u-username-2", "name": "u-name-2"},
]
PRODUCTS = [
    {"upc": "p1", "name": "p-name-1", "price": 11, "weight": 1},
    {"upc": "p2", "name": "p-name-2", "price": 22, "weight": 2},
]
IN_STOCK = ["p1"]
REVIEWS = [
    {"id": "r1", "body": "r-body-1", "authorId": "u1", "productUpc": "p1"},
    {"id": "r2", "body": "r-body-2", "authorId": "u1", "productUpc": "p2"},
]


def _user(k: dict) -> dict | None:
    return next((dict(u) for u in USERS if u["id"] == k["id"]), None)


def _product(upc: str) -> dict | None:
    return next((dict(p) for p in PRODUCTS if p["upc"] == upc), None)


def _inventory_ref(k: dict) -> dict | None:
    p = _product(k["upc"])
    if p is None:
        return None
    if "weight" in k and "price" in k:
        return {"upc": p["upc"], "weight": k["weight"], "price": k["price"]}
    return {"upc": p["upc"]}


def _review_product(r: dict) -> dict | None:
    p = _product(r["productUpc"])
    if p is None:
        return None
    return {"upc": p["upc"], "reviews": [dict(x) for x in REVIEWS if x["productUpc"] == p["upc"]]}


def _review_author(r: dict) -> dict | None:
    u = _user({"id": r["authorId"]})
    return {"id": u["id"], "username": u["username"]} if u else None


SUBGRAPHS = [
    SubgraphDef(
        "accounts",
        link("key", "shareable")
        + """
        type Query { me: User }
        type User @key(fields: "id") {
          id: ID!
          name: String
          username: String @shareable
        }
        """,
        {"Query": {"me": lambda _p: dict(USERS[0])}, "User": {"__resolveReference": _user}},
    ),
    SubgraphDef(
        "inventory",
        link("key", "external", "requires")
        + """
        type Product @key(fields: "upc") {
          upc: String!
          weight: Int @external
          price: Int @external
          inStock: Boolean
          shippingEstimate: Int @requires(fields: "price weight")
          shippingEstimateTag: String @requires(fields: "price weight")
        }
        """,
        {
            "Product": {
                "__resolveReference": _inventory_ref,
                "shippingEstimate": lambda p: p["price"] * p["weight"] * 10,
                "shippingEstimateTag": lambda p: f"#{p['upc']}#{p['price'] * p['weight'] * 10}#",
                "inStock": lambda p: p["upc"] in IN_STOCK,
            }
        },
    ),
    SubgraphDef(
        "products",
        link("key")
        + """
        type Query { products: [Product] }
        type Product @key(fields: "upc") {
          upc: String!
          name: String
          price: Int
          weight: Int
        }
        """,
        {
            "Query": {"products": lambda _p: [dict(p) for p in PRODUCTS]},
            "Product": {"__resolveReference": lambda k: _product(k["upc"])},
        },
    ),
    SubgraphDef(
        "reviews",
        link("key", "external", "provides")
        + """
        type Review @key(fields: "id") {
          id: ID!
          body: String
          author: User @provides(fields: "username")
          product: Product
        }
        type User @key(fields: "id") {
          id: ID!
          username: String @external
          reviews: [Review]
        }
        type Product @key(fields: "upc") {
          upc: String!
          reviews: [Review]
        }
        """,
        {
            "Review": {
                "__resolveReference": lambda k: next(
                    (dict(r) for r in REVIEWS if r["id"] == k["id"]), None
                ),
                "author": _review_author,
                "product": _review_product,
            },
            "User": {
                "__resolveReference": lambda k: (
                    {"id": u["id"], "username": u["username"]} if (u := _user(k)) else None
                ),
                "reviews": lambda u: [dict(r) for r in REVIEWS if r["authorId"] == u["id"]],
            },
            "Product": {
                "__resolveReference": lambda k: {"upc": k["upc"]},
                "reviews": lambda p: [dict(r) for r in REVIEWS if r["productUpc"] == p["upc"]],
            },
        },
    ),
]
