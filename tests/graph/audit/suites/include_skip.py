"""include-skip: @requires chains (`c` needs `isExpensive` from `b`, which needs `price` from
`a`) under @include / @skip; the `neverCalled*` fields throw if they are ever resolved."""

from tests.graph.audit.suites import link
from tests.graph.fixtures.executable import SubgraphDef

PRODUCTS = [{"id": "p1", "price": 699.99}]


def _find(k: dict) -> dict | None:
    return next((p for p in PRODUCTS if p["id"] == k["id"]), None)


def _ref_b(k: dict) -> dict | None:
    p = _find(k)
    if p is None:
        return None
    return {"id": p["id"], "price": k["price"]} if "price" in k else {"id": p["id"]}


def _ref_c(k: dict) -> dict | None:
    p = _find(k)
    if p is None:
        return None
    if "isExpensive" in k:
        return {"id": p["id"], "isExpensive": k["isExpensive"]}
    return {"id": p["id"]}


def _is_expensive(p: dict) -> bool:
    if not p.get("price"):
        raise ValueError("Price is missing")
    return bool(p["price"] > 500)


def _needs_is_expensive(p: dict) -> bool:
    if not isinstance(p.get("isExpensive"), bool):
        raise ValueError("isExpensive is missing")
    return True


def _never(name: str):
    def resolve(_p: dict) -> bool:
        raise ValueError(f"{name} should not be called")

    return resolve


SUBGRAPHS = [
    SubgraphDef(
        "a",
        link("key")
        + """
        type Query { product: Product }
        type Product @key(fields: "id") { id: ID! price: Float! }
        """,
        {
            "Query": {"product": lambda _p: dict(PRODUCTS[0])},
            "Product": {"__resolveReference": lambda k: dict(p) if (p := _find(k)) else None},
        },
    ),
    SubgraphDef(
        "b",
        link("key", "external", "requires")
        + """
        type Product @key(fields: "id") {
          id: ID!
          price: Float! @external
          isExpensive: Boolean! @requires(fields: "price")
        }
        """,
        {"Product": {"__resolveReference": _ref_b, "isExpensive": _is_expensive}},
    ),
    SubgraphDef(
        "c",
        link("key", "external", "requires")
        + """
        type Product @key(fields: "id") {
          id: ID!
          isExpensive: Boolean! @external
          include: Boolean! @requires(fields: "isExpensive")
          skip: Boolean! @requires(fields: "isExpensive")
          neverCalledInclude: Boolean! @requires(fields: "isExpensive")
          neverCalledSkip: Boolean! @requires(fields: "isExpensive")
        }
        """,
        {
            "Product": {
                "__resolveReference": _ref_c,
                "include": _needs_is_expensive,
                "skip": _needs_is_expensive,
                "neverCalledInclude": _never("neverCalledInclude"),
                "neverCalledSkip": _never("neverCalledSkip"),
            }
        },
    ),
]
