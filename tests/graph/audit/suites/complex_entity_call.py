"""complex-entity-call: nested and compound keys (`products{id pid category{id tag}}`)."""

from tests.graph.fixtures.executable import SubgraphDef

PRODUCTS = [
    {"id": "1", "pid": "p1", "categoryId": "c1", "price": 100},
    {"id": "2", "pid": "p2", "categoryId": "c2", "price": 200},
]
CATEGORIES = [
    {"id": "c1", "tag": "t1", "mainProduct": "1"},
    {"id": "c2", "tag": "t2", "mainProduct": "2"},
]


def _cat(p: dict) -> dict | None:
    return next((c for c in CATEGORIES if c["id"] == p["categoryId"]), None)


def _matches(p: dict, k: dict) -> bool:
    if p["id"] != k["id"] or p["pid"] != k["pid"]:
        return False
    cat = _cat(p)
    return bool(cat and cat["id"] == k["category"]["id"] and cat["tag"] == k["category"]["tag"])


def _first(items: list) -> dict | None:
    return items[0] if items else None


def _link_ref(k: dict) -> dict | None:
    if "pid" in k:
        return next((p for p in PRODUCTS if p["id"] == k["id"] and p["pid"] == k["pid"]), None)
    return next((p for p in PRODUCTS if p["id"] == k["id"]), None)


def _list_list_ref(k: dict) -> dict:
    prods = [
        p
        for p in PRODUCTS
        if any(x["id"] == p["id"] and x["pid"] == p["pid"] for x in k["products"])
    ]
    return {
        "products": prods,
        "first": _first(prods),
        "selected": prods[1] if len(prods) > 1 else None,
    }


def _price_list_ref(k: dict) -> dict:
    prods = [p for p in PRODUCTS if any(_matches(p, x) for x in k["products"])]
    return {
        "products": prods,
        "first": _first(prods),
        "selected": next((p for p in PRODUCTS if p["id"] == k["selected"]["id"]), None),
    }


SUBGRAPHS = [
    SubgraphDef(
        "link",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key"])
        type Product @key(fields: "id") @key(fields: "id pid") {
          id: String!
          pid: String!
        }
        """,
        {"Product": {"__resolveReference": _link_ref}},
    ),
    SubgraphDef(
        "list",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key", "@shareable"])
        type ProductList @key(fields: "products{id pid}") {
          products: [Product!]!
          first: Product @shareable
          selected: Product @shareable
        }
        type Product @key(fields: "id pid") {
          id: String!
          pid: String
        }
        """,
        {
            "ProductList": {"__resolveReference": _list_list_ref},
            "Product": {
                "__resolveReference": lambda k: next(
                    (p for p in PRODUCTS if p["id"] == k["id"] and p["pid"] == k["pid"]), None
                )
            },
        },
    ),
    SubgraphDef(
        "price",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key", "@shareable"])
        type ProductList @key(fields: "products{id pid category{id tag}} selected{id}") {
          products: [Product!]!
          first: Product @shareable
          selected: Product @shareable
        }
        type Product @key(fields: "id pid category{id tag}") {
          id: String!
          price: Price
          pid: String
          category: Category
        }
        type Category @key(fields: "id tag") {
          id: String!
          tag: String
        }
        type Price {
          price: Float!
        }
        """,
        {
            "Product": {
                "__resolveReference": lambda k: next((p for p in PRODUCTS if _matches(p, k)), None),
                "price": lambda p: {"price": p["price"]},
                "category": _cat,
            },
            "Category": {
                "__resolveReference": lambda k: next(
                    (c for c in CATEGORIES if c["id"] == k["id"]), None
                )
            },
            "ProductList": {"__resolveReference": _price_list_ref},
        },
    ),
    SubgraphDef(
        "products",
        """
        extend schema
          @link(
            url: "https://specs.apollo.dev/federation/v2.0"
            import: ["@key", "@external", "@extends", "@shareable"]
          )
        type Query {
          topProducts: ProductList!
        }
        type ProductList @key(fields: "products{id}") {
          products: [Product!]!
        }
        type Product @extends @key(fields: "id") {
          id: String! @external
          category: Category @shareable
        }
        type Category @key(fields: "id") {
          mainProduct: Product! @shareable
          id: String!
          tag: String @shareable
        }
        """,
        {
            "Query": {"topProducts": lambda _p: {"products": PRODUCTS}},
            "ProductList": {
                "__resolveReference": lambda k: {
                    "products": [
                        p for p in PRODUCTS if any(x["id"] == p["id"] for x in k["products"])
                    ]
                }
            },
            "Product": {
                "__resolveReference": lambda k: next(
                    (p for p in PRODUCTS if p["id"] == k["id"]), None
                ),
                "category": _cat,
            },
            "Category": {
                "__resolveReference": lambda k: next(
                    (c for c in CATEGORIES if c["id"] == k["id"]), None
                ),
                "mainProduct": lambda c: next(
                    (p for p in PRODUCTS if p["id"] == c["mainProduct"]), None
                ),
            },
        },
    ),
]
