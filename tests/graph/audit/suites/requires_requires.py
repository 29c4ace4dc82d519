"""requires-requires: d's canAfford requires c's isExpensive, which requires a's
@inaccessible price; canAffordWithDiscount requires isExpensiveWithDiscount (c), which requires
hasDiscount (b)."""

from graphql import GraphQLError

from tests.graph.audit.suites import link
from tests.graph.fixtures.executable import SubgraphDef

PRODUCTS = [{"id": "p1", "price": 699.99, "hasDiscount": True}]


def _exists(k: dict) -> bool:
    return any(p["id"] == k["id"] for p in PRODUCTS)


def _c_ref(k: dict) -> dict | GraphQLError | None:
    if not _exists(k):
        return None
    out: dict = {"__typename": "Product", "id": k["id"]}
    price = k.get("price")
    if isinstance(price, int | float) and not isinstance(price, bool):
        out["price"] = price
        out["isExpensive"] = price > 500
    elif price is not None:
        return GraphQLError("Product.price must be a number")
    discount = k.get("hasDiscount")
    if isinstance(discount, bool):
        out["hasDiscount"] = discount
        out["isExpensiveWithDiscount"] = not discount
    elif discount is not None:
        return GraphQLError("Product.hasDiscount must be a number")
    return out


def _d_ref(k: dict) -> dict | GraphQLError | None:
    if not _exists(k):
        return None
    out: dict = {"__typename": "Product", "id": k["id"]}
    exp = k.get("isExpensive")
    if isinstance(exp, bool):
        out["isExpensive"] = exp
        out["canAfford"] = not exp
    elif exp is not None:
        return GraphQLError("Product.isExpensive must be a boolean")
    exp_d = k.get("isExpensiveWithDiscount")
    if isinstance(exp_d, bool):
        out["isExpensiveWithDiscount"] = exp_d
        out["canAffordWithDiscount"] = not exp_d
    elif exp_d is not None:
        return GraphQLError("Product.isExpensiveWithDiscount must be a boolean")
    return out


def _find(k: dict) -> dict | None:
    return next((p for p in PRODUCTS if p["id"] == k["id"]), None)


SUBGRAPHS = [
    SubgraphDef(
        "a",
        link("key", "inaccessible")
        + """
        type Product @key(fields: "id") {
          id: ID!
          price: Float! @inaccessible
        }
        """,
        {
            "Product": {
                "__resolveReference": lambda k: (
                    {"id": p["id"], "price": p["price"]} if (p := _find(k)) else None
                )
            }
        },
    ),
    SubgraphDef(
        "b",
        link("key")
        + """
        type Query { product: Product }
        type Product @key(fields: "id") {
          id: ID!
          hasDiscount: Boolean!
        }
        """,
        {
            "Query": {
                "product": lambda _p: {
                    "id": PRODUCTS[0]["id"],
                    "hasDiscount": PRODUCTS[0]["hasDiscount"],
                }
            },
            "Product": {
                "__resolveReference": lambda k: (
                    {"id": p["id"], "hasDiscount": p["hasDiscount"]} if (p := _find(k)) else None
                )
            },
        },
    ),
    SubgraphDef(
        "c",
        link("key", "external", "requires")
        + """
        type Product @key(fields: "id") {
          id: ID!
          price: Float! @external
          isExpensive: Boolean! @requires(fields: "price")
          hasDiscount: Boolean! @external
          isExpensiveWithDiscount: Boolean! @requires(fields: "hasDiscount")
        }
        """,
        {"Product": {"__resolveReference": _c_ref}},
    ),
    SubgraphDef(
        "d",
        link("key", "external", "requires")
        + """
        type Product @key(fields: "id") {
          id: ID!
          isExpensive: Boolean! @external
          canAfford: Boolean! @requires(fields: "isExpensive")
          isExpensiveWithDiscount: Boolean! @external
          canAffordWithDiscount: Boolean! @requires(fields: "isExpensiveWithDiscount")
        }
        """,
        {"Product": {"__resolveReference": _d_ref}},
    ),
]
