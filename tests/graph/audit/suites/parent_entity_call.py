"""parent-entity-call: Product.category shared by three subgraphs, details only in `c`."""

from tests.graph.fixtures.executable import SubgraphDef

PRODUCTS = [
    {"id": "p1", "pid": "p1-pid", "categoryId": "c1"},
    {"id": "p2", "pid": "p2-pid", "categoryId": "c2"},
    {"id": "p3", "pid": "p3-pid", "categoryId": "c1"},
]
CATEGORIES = [
    {"id": "c1", "name": "c1-name", "details": {"products": 2}},
    {"id": "c2", "name": "c2-name", "details": {"products": 1}},
]


def _product(k: dict) -> dict | None:
    p = next(
        (p for p in PRODUCTS if p["id"] == k["id"] and ("pid" not in k or p["pid"] == k["pid"])),
        None,
    )
    return dict(p) if p else None


def _category(p: dict) -> dict | None:
    c = next((c for c in CATEGORIES if c["id"] == p["categoryId"]), None)
    return {"id": c["id"], "name": c["name"]} if c else None


def _category_ref(k: dict) -> dict | None:
    c = next((c for c in CATEGORIES if c["id"] == k["id"]), None)
    return {"id": c["id"], "name": c["name"]} if c else None


def _details(p: dict) -> dict | None:
    c = next((c for c in CATEGORIES if c["id"] == p["categoryId"]), None)
    return {"details": c["details"]} if c else None


_ENTITY_SDL = """
    type Product @key(fields: "id pid") {
      id: ID!
      pid: ID!
      category: Category @shareable
    }
"""

SUBGRAPHS = [
    SubgraphDef(
        "a",
        """
        extend schema
          @link(
            url: "https://specs.apollo.dev/federation/v2.3"
            import: ["@key", "@external", "@shareable"]
          )
        type Query {
          products: [Product!]!
        }
        type Product @key(fields: "id") @key(fields: "id pid") {
          id: ID!
          pid: ID!
          category: Category @shareable
        }
        type Category @key(fields: "id") {
          id: ID!
          name: String! @shareable
        }
        """,
        {
            "Query": {"products": lambda _p: [dict(p) for p in PRODUCTS]},
            "Product": {"__resolveReference": _product, "category": _category},
            "Category": {"__resolveReference": _category_ref},
        },
    ),
    SubgraphDef(
        "b",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])
        """
        + _ENTITY_SDL
        + """
        type Category @key(fields: "id") {
          id: ID!
          name: String! @shareable
        }
        """,
        {
            "Product": {"__resolveReference": _product, "category": _category},
            "Category": {"__resolveReference": _category_ref},
        },
    ),
    SubgraphDef(
        "c",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])
        type Category {
          details: CategoryDetails
        }
        """
        + _ENTITY_SDL
        + """
        type CategoryDetails {
          products: Int
        }
        """,
        {"Product": {"__resolveReference": _product, "category": _details}},
    ),
]
