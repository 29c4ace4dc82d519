"""parent-entity-call-complex: Product.category shared by `a` and `b`, Category by key in `c`."""

from tests.graph.fixtures.executable import SubgraphDef

SUBGRAPHS = [
    SubgraphDef(
        "a",
        """
        extend schema
          @link(
            url: "https://specs.apollo.dev/federation/v2.3"
            import: ["@key", "@external", "@shareable"]
          )
        type Product @key(fields: "id") {
          id: ID @external
          category: Category @shareable
        }
        type Category {
          details: String
        }
        """,
        {
            "Product": {
                "__resolveReference": lambda k: {
                    "id": k["id"],
                    "category": {"details": f"Details for Product#{k['id']}"},
                }
            }
        },
    ),
    SubgraphDef(
        "b",
        """
        extend schema
          @link(
            url: "https://specs.apollo.dev/federation/v2.3"
            import: ["@key", "@external", "@shareable"]
          )
        type Product @key(fields: "id") {
          id: ID @external
          category: Category @shareable
        }
        type Category {
          id: ID @shareable
        }
        """,
        {"Product": {"__resolveReference": lambda k: {"id": k["id"], "category": {"id": 3}}}},
    ),
    SubgraphDef(
        "c",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
        type Category @key(fields: "id") {
          id: ID
          name: String
        }
        """,
        {
            "Category": {
                "__resolveReference": lambda k: {"id": k["id"], "name": f"Category#{k['id']}"}
            }
        },
    ),
    SubgraphDef(
        "d",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
        type Query {
          productFromD(id: ID!): Product
        }
        type Product @key(fields: "id") {
          id: ID
          name: String
        }
        """,
        {
            "Product": {
                "__resolveReference": lambda k: {"id": k["id"], "name": f"Product#{k['id']}"}
            },
            "Query": {"productFromD": lambda _p, id: {"id": id, "name": f"Product#{id}"}},
        },
    ),
]
