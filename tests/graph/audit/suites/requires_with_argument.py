"""requires-with-argument: @requires selections with arguments (`price(currency: "USD")`,
`comments(limit: 3) { authorId }`)."""

from tests.graph.audit.suites import link
from tests.graph.fixtures.executable import SubgraphDef

PRODUCTS = [
    {"upc": "p1", "name": "p-name-1", "price": 11, "weight": 1, "category": {"averagePrice": 11}},
    {"upc": "p2", "name": "p-name-2", "price": 22, "weight": 2, "category": {"averagePrice": 22}},
]
POSTS = [{"id": "p1", "body": "p1-body"}, {"id": "p2", "body": "p2-body"}]
COMMENTS = [
    {
        "id": f"c{i}",
        "postId": "p1" if i <= 3 else "p2",
        "authorId": "a2" if i <= 3 else "a1",
        "body": f"c{i}-body",
    }
    for i in range(1, 7)
]
AUTHORS = [{"id": "a1", "name": "a1-name"}, {"id": "a2", "name": "a2-name"}]


def _product(k: dict) -> dict | None:
    return next((p for p in PRODUCTS if p["upc"] == k["upc"]), None)


def _a_ref(k: dict) -> dict | None:
    p = _product(k)
    if p is None:
        return None
    if "weight" in k and "price" in k:
        return {
            "upc": p["upc"],
            "weight": k["weight"],
            "price": k["price"],
            "category": p["category"],
        }
    return {"upc": p["upc"], "category": p["category"]}


def _comments(post: dict, limit: int, full: bool) -> list:
    out = [c for c in COMMENTS if c["postId"] == post["id"]][:limit]
    return [dict(c) if full else {"id": c["id"]} for c in out]


def _d_post(k: dict) -> dict | None:
    post = next((p for p in POSTS if p["id"] == k["id"]), None)
    if post is None:
        return None
    if k.get("comments"):
        if len(k["comments"]) != 3:
            raise ValueError("Expected 3 comments")
        return {"id": post["id"], "authorId": k["comments"][2]["authorId"]}
    return {"id": post["id"]}


def _author(post: dict) -> dict | None:
    if not post.get("authorId"):
        return None
    return next((dict(a) for a in AUTHORS if a["id"] == post["authorId"]), None)


def _comment(k: dict, full: bool) -> dict | None:
    c = next((c for c in COMMENTS if c["id"] == k["id"]), None)
    if c is None:
        return None
    return dict(c) if full else {"id": c["id"]}


SUBGRAPHS = [
    SubgraphDef(
        "a",
        link("key", "external", "requires")
        + '''
        type Product @key(fields: "upc") {
          upc: String!
          weight: Int @external
          price(currency: String!): Int @external
          shippingEstimate: Int
            @requires(
              fields: """
              price(currency: "USD") weight
              """
            )
          category: Category @external
          isExpensiveCategory: Boolean
            @requires(
              fields: """
              category { averagePrice(currency: "USD") }
              """
            )
        }
        type Category @external {
          averagePrice(currency: String!): Int
        }
        ''',
        {
            "Product": {
                "__resolveReference": _a_ref,
                "shippingEstimate": lambda p: p["price"] * p["weight"] * 10,
                "isExpensiveCategory": lambda p: p["category"]["averagePrice"] > 11,
            }
        },
    ),
    SubgraphDef(
        "b",
        link("key")
        + """
        type Query { products: [Product] }
        type Product @key(fields: "upc") {
          upc: String!
          name: String
          price(currency: String!): Int
          weight: Int
          category: Category
        }
        type Category {
          averagePrice(currency: String!): Int
        }
        """,
        {
            "Query": {"products": lambda _p: [dict(p) for p in PRODUCTS]},
            "Product": {"__resolveReference": lambda k: dict(p) if (p := _product(k)) else None},
        },
    ),
    SubgraphDef(
        "c",
        link("key", "external", "requires")
        + """
        type Query { feed: [Post] }
        type Post @key(fields: "id") { id: ID! }
        type Comment @key(fields: "id") {
          id: ID!
          authorId: ID
          body: String!
        }
        """,
        {
            "Query": {"feed": lambda _p: [{"id": p["id"]} for p in POSTS]},
            "Post": {
                "__resolveReference": lambda k: (
                    {"id": k["id"]} if any(p["id"] == k["id"] for p in POSTS) else None
                )
            },
            "Comment": {"__resolveReference": lambda k: _comment(k, True)},
        },
    ),
    SubgraphDef(
        "d",
        link("key", "external", "requires")
        + """
        type Post @key(fields: "id") {
          id: ID!
          author: Author @requires(fields: "comments(limit: 3) { authorId }")
          comments(limit: Int!): [Comment]
        }
        type Comment @key(fields: "id") {
          id: ID!
          date: String
          authorId: ID @external
        }
        type Author {
          id: ID!
          name: String
        }
        """,
        {
            "Post": {
                "__resolveReference": _d_post,
                "author": _author,
                "comments": lambda post, limit: _comments(post, limit, False),
            },
            "Comment": {"__resolveReference": lambda k: _comment(k, False)},
        },
    ),
]
