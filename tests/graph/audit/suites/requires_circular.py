"""requires-circular: Post.byExpert (a) requires byNovice (b), which requires
author { yearsOfExperience } (a)."""

from tests.graph.audit.suites import link
from tests.graph.fixtures.executable import SubgraphDef

AUTHORS = [
    {"id": "a1", "name": "John", "yearsOfExperience": 5},
    {"id": "a2", "name": "Jane", "yearsOfExperience": 20},
]
POSTS = [
    {"id": "p1", "body": "p1-body", "author": AUTHORS[0]},
    {"id": "p2", "body": "p2-body", "author": AUTHORS[1]},
]


def _post(k: dict) -> dict | None:
    return next((p for p in POSTS if p["id"] == k["id"]), None)


def _a_post(k: dict) -> dict | None:
    p = _post(k)
    if p is None:
        return None
    if k.get("byNovice") is None:
        return {"id": p["id"]}
    return {"id": p["id"], "byNovice": k["byNovice"]}


def _b_post(k: dict) -> dict | None:
    p = _post(k)
    if p is None:
        return None
    return {"id": p["id"], "author": {"id": p["author"]["id"], **(k.get("author") or {})}}


SUBGRAPHS = [
    SubgraphDef(
        "a",
        link("key", "external", "requires")
        + """
        type Query { feed: [Post] }
        type Post @key(fields: "id") {
          id: ID!
          byNovice: Boolean! @external
          byExpert: Boolean! @requires(fields: "byNovice")
        }
        type Author @key(fields: "id") {
          id: ID!
          name: String!
          yearsOfExperience: Int!
        }
        """,
        {
            "Query": {"feed": lambda _p: [{"id": p["id"]} for p in POSTS]},
            "Post": {
                "__resolveReference": _a_post,
                "byExpert": lambda p: None if p.get("byNovice") is None else not p["byNovice"],
            },
            "Author": {
                "__resolveReference": lambda k: next(
                    (dict(a) for a in AUTHORS if a["id"] == k["id"]), None
                )
            },
        },
    ),
    SubgraphDef(
        "b",
        link("key", "external", "requires")
        + """
        type Post @key(fields: "id") {
          id: ID!
          author: Author!
          byNovice: Boolean! @requires(fields: "author { yearsOfExperience }")
        }
        type Author @key(fields: "id") {
          id: ID!
          yearsOfExperience: Int! @external
        }
        """,
        {
            "Post": {
                "__resolveReference": _b_post,
                "byNovice": lambda p: p["author"]["yearsOfExperience"] < 10,
            }
        },
    ),
]
